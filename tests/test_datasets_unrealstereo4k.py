"""UnrealStereo4K adapter: fixtures written in the official layout (RGBA PNG, .npy disparity,
Extrinsics text files), read back and checked against depth = fx · baseline / disparity by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from dpbench.datasets import find_dataset_root, open_dataset
from dpbench.errors import DatasetError
from dpbench.io.unrealstereo4k import read_camera, stereo_baseline, write_camera

H, W = 6, 8
FX = 120.0


def _rotation_y(degrees):
    a = math.radians(degrees)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def _world_to_camera(rotation, centre):
    return np.hstack([rotation, (-rotation @ np.asarray(centre, float))[:, None]])


def write_frame(scene_dir, frame, disparity, baseline=0.25, rotation_deg=30.0, centre=(2.0, -1.0, 5.0)):
    """One frame in the official layout; the right camera sits ``baseline`` along the left
    camera's x axis (the camera is rotated and placed away from the origin on purpose)."""
    for folder in ("Image0", "Image1", "Disp0", "Disp1", "Extrinsics0", "Extrinsics1"):
        (scene_dir / folder).mkdir(parents=True, exist_ok=True)
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(scene_dir / "Image0" / f"{frame}.png")
    Image.fromarray(rgba, "RGBA").save(scene_dir / "Image1" / f"{frame}.png")
    np.save(scene_dir / "Disp0" / f"{frame}.npy", disparity.astype(np.float32))
    np.save(scene_dir / "Disp1" / f"{frame}.npy", disparity.astype(np.float32))
    K = np.array([[FX, 0, W / 2], [0, FX, H / 2], [0, 0, 1]])
    rotation = _rotation_y(rotation_deg)
    left_centre = np.asarray(centre, float)
    right_centre = left_centre + rotation.T @ np.array([baseline, 0.0, 0.0])
    write_camera(scene_dir / "Extrinsics0" / f"{frame}.txt", K, _world_to_camera(rotation, left_centre))
    write_camera(scene_dir / "Extrinsics1" / f"{frame}.txt", K, _world_to_camera(rotation, right_centre))


@pytest.fixture
def root(tmp_path):
    base = tmp_path / "UnrealStereo4K"
    disparity = np.full((H, W), 6.0, np.float32)
    disparity[:, 4:] = 12.0
    disparity[0, 0] = 0.0  # invalid
    write_frame(base / "00000", "00047", disparity)  # in the SMD-Nets test list
    write_frame(base / "00001", "00023", disparity * 2, baseline=0.5)  # in the test list
    write_frame(base / "00001", "00001", disparity)  # not in the test list
    return tmp_path


def test_camera_file_round_trip_and_baseline(tmp_path):
    rotation = _rotation_y(30.0)
    left = _world_to_camera(rotation, (2.0, -1.0, 5.0))
    K = np.diag([FX, FX, 1.0])
    write_camera(tmp_path / "c.txt", K, left)
    K2, left2 = read_camera(tmp_path / "c.txt")
    np.testing.assert_allclose(K2, K)
    np.testing.assert_allclose(left2, left)
    right = _world_to_camera(rotation, np.array([2.0, -1.0, 5.0]) + rotation.T @ np.array([0.3, 0.0, 0.0]))
    assert stereo_baseline(left, right) == pytest.approx(0.3)
    (tmp_path / "bad.txt").write_text("1 2 3\n4 5 6 7 8 9 10 11 12 13 14 15\n")
    with pytest.raises(DatasetError, match=r"bad.txt: line 1 must hold 9 finite numbers, found 3"):
        read_camera(tmp_path / "bad.txt")
    (tmp_path / "one.txt").write_text("1 0 0 0 1 0 0 0 1\n")
    with pytest.raises(DatasetError, match="expected 2 lines"):
        read_camera(tmp_path / "one.txt")


def test_test_split_reads_depth_from_disparity(root):
    found = find_dataset_root("unrealstereo4k", root)
    assert found == root / "UnrealStereo4K"
    # the fixture holds 2 of the 200 listed frames: by default a partial download is an error
    with pytest.raises(DatasetError, match=r"unrealstereo4k: 00000/00056: missing .*Image0/00056.png"):
        open_dataset("unrealstereo4k", found)
    ds = open_dataset("unrealstereo4k", found, on_error="skip")
    assert ds.split == "test" and len(ds.excluded) == 198
    assert ds.ids == ["00000/00047", "00001/00023"]  # 00001/00001 is not in the test list
    sample = ds[0]
    assert sample.image.shape == (H, W, 3) and sample.image[0, 0, 0] == 200  # RGBA -> RGB
    assert sample.focal_px == FX
    # depth = fx * baseline / disparity = 120 * 0.25 / 6 = 5 m, / 12 = 2.5 m
    assert sample.depth[1, 0] == pytest.approx(5.0, rel=1e-5)
    assert sample.depth[1, 5] == pytest.approx(2.5, rel=1e-5)
    assert not sample.valid[0, 0] and sample.valid.sum() == H * W - 1
    assert sample.meta["baseline_m"] == pytest.approx(0.25)
    other = ds[1]  # baseline 0.5, disparity doubled: the same depth
    assert other.depth[1, 0] == pytest.approx(5.0, rel=1e-5)


def test_all_split_and_missing_files(root):
    ds = open_dataset("unrealstereo4k", root / "UnrealStereo4K", split="all")
    assert ds.ids == ["00000/00047", "00001/00001", "00001/00023"]
    (root / "UnrealStereo4K" / "00001" / "Extrinsics1" / "00023.txt").unlink()
    with pytest.raises(DatasetError, match=r"00001/00023: missing .*Extrinsics1/00023.txt"):
        open_dataset("unrealstereo4k", root / "UnrealStereo4K", split="all")
    skipping = open_dataset("unrealstereo4k", root / "UnrealStereo4K", split="all", on_error="skip")
    assert skipping.ids == ["00000/00047", "00001/00001"]


def test_bad_disparity_is_a_clear_error(root):
    scene = root / "UnrealStereo4K" / "00000"
    np.save(scene / "Disp0" / "00047.npy", np.ones((H, W + 1), np.float32))
    ds = open_dataset("unrealstereo4k", root / "UnrealStereo4K", split="all")
    with pytest.raises(DatasetError, match=r"Disp0/00047.npy: ground truth is 9x6 \(WxH\) but the image"):
        ds[0]
    np.save(scene / "Disp0" / "00047.npy", np.ones((2, H, W), np.float32))
    with pytest.raises(DatasetError, match="disparity must be 2-D"):
        ds[0]
