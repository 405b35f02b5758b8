"""SUN RGB-D depth bit rotation, intrinsics.txt, allsplit.mat; 16-bit PNG helpers."""

import struct
import zlib

import numpy as np
import pytest
import scipy.io

from dpbench.errors import DatasetError
from dpbench.io.png16 import read_png16, read_scaled_depth_png, write_png16, write_scaled_depth_png
from dpbench.io.sunrgbd import (
    decode_depth,
    encode_depth,
    read_allsplit,
    read_depth_png,
    read_intrinsics,
    relative_split_path,
    write_allsplit,
    write_depth_png,
    write_intrinsics,
)


def _hand_png16(values: np.ndarray) -> bytes:
    """A minimal greyscale 16-bit PNG built from the spec (big-endian samples, filter 0)."""
    height, width = values.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + values[r].astype(">u2").tobytes() for r in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_bit_rotation_against_hand_values():
    # 1234 mm stored rotated left by 3 = 9872; a raw value with low bits set wraps to the top.
    raw = np.array([[1234 << 3, 0, 0b1000000000000001]], dtype=np.uint16)
    depth = decode_depth(raw, clamp_m=None)
    assert depth[0, 0] == np.float32(1.234) and depth[0, 1] == 0
    assert depth[0, 2] == np.float32(((1 << 13) | (1 << 12)) / 1000.0)  # rotr3(0x8001) = 0x3000
    assert decode_depth(raw)[0, 2] == 8.0  # clamped at 8 m
    np.testing.assert_array_equal(encode_depth(np.array([[1.234, 0.0, np.nan]])), [[9872, 0, 0]])


def test_hand_built_png_decodes(tmp_path):
    values = np.array([[1000 << 3, 2500 << 3], [0, 7999 << 3]], dtype=np.uint16)
    path = tmp_path / "d.png"
    path.write_bytes(_hand_png16(values))
    np.testing.assert_array_equal(read_png16(path), values)
    np.testing.assert_allclose(read_depth_png(path), [[1.0, 2.5], [0.0, 7.999]], rtol=1e-7)


def test_depth_png_round_trip(tmp_path, rng):
    depth_mm = rng.integers(0, 8000, size=(7, 9))
    depth = depth_mm / 1000.0
    raw = write_depth_png(tmp_path / "d.png", depth)
    assert np.all(raw % 8 == 0)
    np.testing.assert_array_equal(read_png16(tmp_path / "d.png"), raw)
    np.testing.assert_array_equal(read_depth_png(tmp_path / "d.png"), (depth_mm / 1000.0).astype(np.float32))
    with pytest.raises(ValueError):
        encode_depth(np.array([[8.5]]))


def test_png16_errors(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        read_png16(tmp_path / "nope.png")
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\nxx")
    with pytest.raises(DatasetError, match="unreadable"):
        read_png16(tmp_path / "junk.png")
    import cv2

    cv2.imwrite(str(tmp_path / "eight.png"), np.zeros((2, 2), np.uint8))
    with pytest.raises(DatasetError, match="16-bit"):
        read_png16(tmp_path / "eight.png")
    cv2.imwrite(str(tmp_path / "rgb.png"), np.zeros((2, 2, 3), np.uint16))
    with pytest.raises(DatasetError, match="single-channel"):
        read_png16(tmp_path / "rgb.png")


def test_scaled_depth_png(tmp_path):
    depth = np.array([[1.0, 0.0, 80.5]])
    raw = write_scaled_depth_png(tmp_path / "k.png", depth, 1 / 256)
    np.testing.assert_array_equal(raw, [[256, 0, 20608]])
    np.testing.assert_array_equal(read_scaled_depth_png(tmp_path / "k.png", 1 / 256), depth.astype(np.float32))
    write_png16(tmp_path / "i.png", np.array([[65535, 13107]], dtype=np.uint16))
    np.testing.assert_allclose(read_scaled_depth_png(tmp_path / "i.png", 50 / 65535), [[50.0, 10.0]], rtol=1e-6)


def test_intrinsics_round_trip_and_errors(tmp_path):
    (tmp_path / "k1.txt").write_text("529.5 0 365\n0 529.5 265\n0 0 1\n")
    K = read_intrinsics(tmp_path / "k1.txt")
    assert K[0, 0] == 529.5 and K[0, 2] == 365 and K[1, 1] == 529.5 and K[1, 2] == 265
    K2 = np.array([[518.857901, 0, 325.582449], [0, 519.469611, 253.736166], [0, 0, 1]])
    write_intrinsics(tmp_path / "k2.txt", K2)
    assert read_intrinsics(tmp_path / "k2.txt").tobytes() == K2.tobytes()
    (tmp_path / "k3.txt").write_text("1 2 3\n")
    with pytest.raises(DatasetError, match="9 numbers"):
        read_intrinsics(tmp_path / "k3.txt")
    (tmp_path / "k4.txt").write_text("a b c d e f g h i")
    with pytest.raises(DatasetError, match="non-numeric"):
        read_intrinsics(tmp_path / "k4.txt")


def test_allsplit_round_trip_and_matlab_style(tmp_path):
    train = ["/n/fs/sun3d/data/SUNRGBD/kv1/NYUdata/NYU0002/"]
    test = ["/n/fs/sun3d/data/SUNRGBD/kv2/kinect2data/000065_2014-05-16/", "/n/fs/sun3d/data/SUNRGBD/xtion/x/"]
    write_allsplit(tmp_path / "allsplit.mat", train, test)
    assert read_allsplit(tmp_path / "allsplit.mat") == {"alltrain": train, "alltest": test}
    # a file written the way MATLAB stores a cell column (N×1) with an extra struct field
    cells = np.empty((2, 1), dtype=object)
    cells[0, 0], cells[1, 0] = np.array([test[0]]), np.array([test[1]])
    scipy.io.savemat(tmp_path / "b.mat", {"alltest": cells, "alltrain": cells[:1], "trainvalsplit": {"a": 1}})
    assert read_allsplit(tmp_path / "b.mat")["alltest"] == test
    scipy.io.savemat(tmp_path / "c.mat", {"alltrain": cells})
    with pytest.raises(DatasetError, match="alltest"):
        read_allsplit(tmp_path / "c.mat")
    (tmp_path / "d.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(DatasetError, match="d.mat"):
        read_allsplit(tmp_path / "d.mat")


def test_relative_split_path():
    assert relative_split_path("/n/fs/sun3d/data/SUNRGBD/kv2/kinect2data/000065_x/") == "kv2/kinect2data/000065_x"
    assert relative_split_path("kv1/NYUdata/NYU0001") == "kv1/NYUdata/NYU0001"
