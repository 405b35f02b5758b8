"""Round trips of the remaining formats: Spring .dsp5, HyperSim HDF5, NYU .mat, KITTI calib,
DIODE .npy, iBims calib/depth; plus image orientation helpers."""

import h5py
import numpy as np
import pytest
from PIL import Image

from dpbench.errors import DatasetError
from dpbench.io import diode, hypersim, ibims, kitti, nyu, spring
from dpbench.io.image import (
    apply_orientation,
    orientation_swaps_axes,
    read_image,
    read_image_oriented,
    write_image,
)


def test_dsp5_round_trip_and_key(tmp_path, rng):
    disparity = rng.uniform(0, 50, size=(8, 12)).astype(np.float32)
    disparity[0, 0] = np.nan
    spring.write_dsp5(tmp_path / "d.dsp5", disparity)
    assert spring.read_dsp5(tmp_path / "d.dsp5").tobytes() == disparity.tobytes()
    with h5py.File(tmp_path / "d.dsp5", "r") as handle:  # the official key
        assert list(handle.keys()) == ["disparity"]
    with pytest.raises(DatasetError, match="unreadable HDF5"):
        (tmp_path / "x.dsp5").write_bytes(b"\0" * 64)
        spring.read_dsp5(tmp_path / "x.dsp5")


def test_spring_intrinsics(tmp_path):
    table = np.array([[2181.8181818181818, 2181.82, 960.0, 540.0], [1, 2, 3, 4.5]])
    spring.write_intrinsics(tmp_path / "intrinsics.txt", table)
    assert spring.read_intrinsics(tmp_path / "intrinsics.txt").tobytes() == table.tobytes()
    (tmp_path / "hand.txt").write_text("2181.82 2181.82 960 540\n\n2000 2000 960 540\n")
    np.testing.assert_array_equal(spring.read_intrinsics(tmp_path / "hand.txt")[:, 0], [2181.82, 2000])


def test_hypersim_hdf5_and_planar_conversion(tmp_path, rng):
    distance = rng.uniform(1, 10, size=(3, 4)).astype(np.float16)
    hypersim.write_hdf5(tmp_path / "frame.0000.depth_meters.hdf5", distance)
    back = hypersim.read_hdf5(tmp_path / "frame.0000.depth_meters.hdf5")
    assert back.dtype == np.float16 and back.tobytes() == distance.tobytes()
    # centre-symmetric pixel (u, v) = (0, 0) of a 3x4 map: x = -1.5, y = -1
    planar = hypersim.distance_to_planar(np.full((3, 4), 10.0), 2.0)
    assert planar[0, 0] == pytest.approx(10 * 2 / np.sqrt(1.5**2 + 1 + 4))
    depth = rng.uniform(1, 10, size=(3, 4))
    np.testing.assert_allclose(hypersim.distance_to_planar(hypersim.planar_to_distance(depth, 886.81), 886.81), depth, rtol=1e-6)
    with h5py.File(tmp_path / "bad.hdf5", "w") as handle:
        handle.create_dataset("other", data=distance)
    with pytest.raises(DatasetError, match="no 'dataset'"):
        hypersim.read_hdf5(tmp_path / "bad.hdf5")


def test_nyu_labeled_layout(tmp_path, rng):
    images = rng.integers(0, 256, size=(2, 3, 4, 3), dtype=np.uint8)
    depths = rng.uniform(0, 10, size=(2, 3, 4)).astype(np.float32)
    nyu.write_labeled(tmp_path / "l.mat", images, depths, depths * 0)
    with h5py.File(tmp_path / "l.mat", "r") as handle:  # MATLAB's column-major view: (N, 3, W, H)
        assert handle["images"].shape == (2, 3, 4, 3) and handle["depths"].shape == (2, 4, 3)
        assert handle["images"][1, 2, 3, 0] == images[1, 0, 3, 2]
    labeled = nyu.NyuLabeled(tmp_path / "l.mat")
    image, depth = labeled.frame(1, "filled")
    assert labeled.count == 2 and image.tobytes() == images[1].tobytes() and depth.tobytes() == depths[1].tobytes()
    nyu.write_splits(tmp_path / "s.mat", [2], [1])
    assert nyu.read_splits(tmp_path / "s.mat") == {"train": [2], "test": [1]}
    with h5py.File(tmp_path / "s73.mat", "w") as handle:  # a v7.3 splits file
        handle.create_dataset("trainNdxs", data=np.array([[3.0, 4.0]]))
        handle.create_dataset("testNdxs", data=np.array([[1.0]]))
    assert nyu.read_splits(tmp_path / "s73.mat") == {"train": [3, 4], "test": [1]}


def test_kitti_calib(tmp_path):
    P = np.array([[721.5377, 0, 609.5593, 44.85728], [0, 721.5377, 172.854, 0.2163791], [0, 0, 1, 0.002745884]])
    kitti.write_calib_file(tmp_path / "c.txt", {"calib_time": "09-Jan-2012 13:57:47", "P_rect_02": P})
    assert kitti.read_p_rect(tmp_path / "c.txt").tobytes() == P.tobytes()
    assert kitti.read_calib_file(tmp_path / "c.txt")["calib_time"] == "09-Jan-2012 13:57:47"
    (tmp_path / "hand.txt").write_text("S_02: 1.392000e+03 5.120000e+02\nP_rect_02: 7.215377e+02 0 6.095593e+02 "
                                       "4.485728e+01 0 7.215377e+02 1.728540e+02 2.163791e-01 0 0 1 2.745884e-03\n")
    assert kitti.read_p_rect(tmp_path / "hand.txt")[0, 0] == 721.5377
    with pytest.raises(DatasetError, match="P_rect_03"):
        kitti.read_p_rect(tmp_path / "hand.txt", "03")


def test_diode_and_ibims_files(tmp_path, rng):
    depth = rng.uniform(0, 50, size=(3, 4)).astype(np.float32)
    diode.write_depth(tmp_path / "a_depth.npy", depth)
    assert np.load(tmp_path / "a_depth.npy").shape == (3, 4, 1)  # the release's layout
    assert diode.read_depth(tmp_path / "a_depth.npy").tobytes() == depth.tobytes()
    diode.write_mask(tmp_path / "a_depth_mask.npy", depth > 10)
    np.testing.assert_array_equal(diode.read_mask(tmp_path / "a_depth_mask.npy"), depth > 10)
    ibims.write_calib(tmp_path / "c.txt", 559.62, 558.14, 361.87, 241.99)
    assert ibims.read_calib(tmp_path / "c.txt") == (559.62, 558.14, 361.87, 241.99)
    (tmp_path / "k.txt").write_text("550.39 0 355.44\n0 548.55 240.26\n0 0 1\n")
    assert ibims.read_calib(tmp_path / "k.txt") == (550.39, 548.55, 355.44, 240.26)
    raw = ibims.depth_to_raw(np.array([[50.0, 10.0, 0.0]]))
    np.testing.assert_array_equal(raw, [[65535, 13107, 0]])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_helpers_match_pillow(tmp_path, rng, orientation):
    stored = rng.integers(0, 256, size=(3, 5, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    write_image(tmp_path / "o.png", stored, exif=exif)
    shown, found, stored_hw = read_image_oriented(tmp_path / "o.png")
    assert found == orientation and stored_hw == (3, 5)
    np.testing.assert_array_equal(shown, read_image(tmp_path / "o.png"))
    np.testing.assert_array_equal(apply_orientation(stored, orientation), shown)
    np.testing.assert_array_equal(apply_orientation(stored[..., 0], orientation), shown[..., 0])
    assert orientation_swaps_axes(orientation) == (shown.shape[:2] == (5, 3))


def _pillow_reference(path):
    from PIL import ImageOps

    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


@pytest.mark.parametrize("kind", ["png_rgb", "png_grey", "jpeg_444", "jpeg_420", "png16", "png_rgba", "png_palette"])
def test_fast_decoder_matches_pillow(tmp_path, rng, kind):
    import cv2

    base = cv2.resize(rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8), (37, 29), interpolation=cv2.INTER_CUBIC)
    path = tmp_path / ("x.jpg" if kind.startswith("jpeg") else "x.png")
    if kind == "png_rgb":
        Image.fromarray(base).save(path)
    elif kind == "png_grey":
        Image.fromarray(base[..., 0]).save(path)
    elif kind.startswith("jpeg"):
        Image.fromarray(base).save(path, quality=90, subsampling=0 if kind == "jpeg_444" else 2)
    elif kind == "png16":
        cv2.imwrite(str(path), (base.astype(np.uint16) * 257 + 3)[..., ::-1])
    elif kind == "png_rgba":
        Image.fromarray(np.dstack([base, base[..., :1]])).save(path)
    else:
        Image.fromarray(base).convert("P").save(path)
    image = read_image(path)
    assert image.shape == (29, 37, 3) and image.dtype == np.uint8
    if kind != "png16":  # 16-bit: Pillow's own conversion differs from to_rgb8's high byte; not the fast path
        np.testing.assert_array_equal(image, _pillow_reference(path))


def test_png_exif_after_pixel_data(tmp_path, rng):
    """An eXIf chunk placed after IDAT (allowed by the PNG spec) still orients the image."""
    import struct
    import zlib

    stored = rng.integers(0, 256, size=(3, 5, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    write_image(tmp_path / "a.png", stored)
    data = (tmp_path / "a.png").read_bytes()
    payload = exif.tobytes()
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload + struct.pack(">I", zlib.crc32(b"eXIf" + payload))
    iend = data.rindex(b"IEND") - 4
    (tmp_path / "b.png").write_bytes(data[:iend] + chunk + data[iend:])
    shown, orientation, stored_hw = read_image_oriented(tmp_path / "b.png")
    assert orientation == 6 and stored_hw == (3, 5)
    np.testing.assert_array_equal(shown, np.rot90(stored, -1))
    np.testing.assert_array_equal(shown, _pillow_reference(tmp_path / "b.png"))


def test_truncated_images_raise(tmp_path, rng):
    stored = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    for name in ("t.png", "t.jpg"):
        write_image(tmp_path / name, stored)
        data = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(DatasetError, match=name):
            read_image(tmp_path / name)
