"""COLMAP text models (blank POINTS2D lines) and ETH3D raw depth."""

import numpy as np
import pytest

from dpbench.errors import DatasetError
from dpbench.io.colmap import (
    ColmapCamera,
    ColmapImage,
    read_cameras_txt,
    read_images_txt,
    write_cameras_txt,
    write_images_txt,
)
from dpbench.io.eth3d import read_depth, write_depth

CAMERAS = """# Camera list with one line of data per camera:
#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]
# Number of cameras: 2
0 THIN_PRISM_FISHEYE 6048 4032 3411.42 3410.02 3041.29 2014.07 0.21 0.2 0.0006 -0.0002 -0.1 0.1 0.0003 -0.0001
1 PINHOLE 6050 4030 3400.5 3400.25 3025 2015
"""

# Two images; the first has an EMPTY points line, which must not shift the pairing.
IMAGES = """# Image list with two lines of data per image:
#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME
#   POINTS2D[] as (X, Y, POINT3D_ID)
# Number of images: 3, mean observations per image: 1
5 0.9 0.1 0.2 0.3 1.5 -2 3 0 dslr_images/DSC_0286.JPG

7 1 0 0 0 0 0 0 0 dslr_images/DSC_0287.JPG
100.5 200.25 42 3 4 -1
9 1 0 0 0 0 0 0 1 dslr_images/DSC_0290.JPG
"""


def test_read_hand_written_models(tmp_path):
    (tmp_path / "cameras.txt").write_text(CAMERAS)
    (tmp_path / "images.txt").write_text(IMAGES)
    cameras = read_cameras_txt(tmp_path / "cameras.txt")
    assert cameras[0].model == "THIN_PRISM_FISHEYE" and cameras[0].fx == 3411.42 and cameras[0].fy == 3410.02
    assert (cameras[1].width, cameras[1].height, cameras[1].fx) == (6050, 4030, 3400.5)
    images = read_images_txt(tmp_path / "images.txt")
    assert sorted(images) == [5, 7, 9]
    assert images[5].name == "dslr_images/DSC_0286.JPG" and images[5].points2d.shape == (0, 3)
    assert images[5].qvec == (0.9, 0.1, 0.2, 0.3) and images[5].tvec == (1.5, -2.0, 3.0)
    np.testing.assert_array_equal(images[7].points2d, [[100.5, 200.25, 42], [3, 4, -1]])
    assert images[9].camera_id == 1 and images[9].points2d.shape == (0, 3)  # no final points line at all


def test_round_trip(tmp_path):
    cams = [ColmapCamera(3, "PINHOLE", 10, 8, (5.123456789012345, 5.0, 5.0, 4.0))]
    imgs = [ColmapImage(1, (0.5, 0.5, 0.5, 0.5), (1.0, 2.0, 3.0), 3, "a/b c.JPG", np.zeros((0, 3))),
            ColmapImage(2, (1, 0, 0, 0), (0, 0, 0), 3, "x.JPG", np.array([[1.25, 2.5, 9]]))]
    write_cameras_txt(tmp_path / "c.txt", cams)
    write_images_txt(tmp_path / "i.txt", imgs)
    assert read_cameras_txt(tmp_path / "c.txt")[3] == cams[0]
    back = read_images_txt(tmp_path / "i.txt")
    assert back[1].name == "a/b c.JPG" and back[1].qvec == (0.5, 0.5, 0.5, 0.5)
    np.testing.assert_array_equal(back[2].points2d, [[1.25, 2.5, 9]])


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("cameras.txt", "1 PINHOLE 10 8 5 5 5\n", "needs 4 parameters"),
        ("cameras.txt", "1 PINHOLE ten 8 5 5 5 5\n", "bad camera line"),
        ("images.txt", "1 1 0 0 0 0 0 0 1\n\n", "bad image line"),
        ("images.txt", "1 1 0 0 0 0 0 0 1 a.JPG\n1 2\n", "triplets"),
    ],
)
def test_bad_models(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    reader = read_cameras_txt if name == "cameras.txt" else read_images_txt
    with pytest.raises(DatasetError, match=message):
        reader(tmp_path / name)


def test_eth3d_depth_round_trip_and_hand_bytes(tmp_path, rng):
    depth = rng.uniform(0, 100, size=(3, 5)).astype(np.float32)
    depth[1, 2] = np.inf
    write_depth(tmp_path / "d.JPG", depth)
    back = read_depth(tmp_path / "d.JPG", (3, 5))
    assert back.tobytes() == depth.tobytes()
    (tmp_path / "h.JPG").write_bytes(np.array([1, 2, 3, np.inf, 5, 6], dtype="<f4").tobytes())
    np.testing.assert_array_equal(read_depth(tmp_path / "h.JPG", (2, 3)), [[1, 2, 3], [np.inf, 5, 6]])
    np.testing.assert_array_equal(read_depth(tmp_path / "h.JPG", (3, 2)), [[1, 2], [3, np.inf], [5, 6]])
    with pytest.raises(DatasetError, match="expected 4x3 float32"):
        read_depth(tmp_path / "h.JPG", (4, 3))
