"""Sintel .dpt/.cam TAG files and disparity PNG encoding: round trips and hand-built bytes."""

import struct

import numpy as np
import pytest

from dpbench.errors import DatasetError
from dpbench.io.sintel import (
    decode_disparity_png,
    encode_disparity_png,
    read_cam,
    read_dpt,
    write_cam,
    write_dpt,
)


def test_dpt_round_trip(tmp_path, rng):
    depth = rng.uniform(0.1, 1e5, size=(4, 6)).astype(np.float32)
    write_dpt(tmp_path / "f.dpt", depth)
    back = read_dpt(tmp_path / "f.dpt")
    assert back.dtype == np.float32 and back.tobytes() == depth.tobytes()
    assert (tmp_path / "f.dpt").stat().st_size == 12 + 4 * 6 * 4


def test_dpt_hand_built_bytes_tag_is_pieh(tmp_path):
    # The magic is the ASCII "PIEH" == float32 202021.25 little-endian; then W=3, H=2, row-major.
    assert struct.pack("<f", 202021.25) == b"PIEH"
    data = b"PIEH" + struct.pack("<ii", 3, 2) + struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    (tmp_path / "h.dpt").write_bytes(data)
    np.testing.assert_array_equal(read_dpt(tmp_path / "h.dpt"), [[1, 2, 3], [4, 5, 6]])


def test_dpt_wrong_byte_order_tag(tmp_path):
    data = struct.pack(">f", 202021.25) + struct.pack("<ii", 1, 1) + struct.pack("<f", 1)
    (tmp_path / "be.dpt").write_bytes(data)
    with pytest.raises(DatasetError, match="202021.25") as info:
        read_dpt(tmp_path / "be.dpt")
    assert "be.dpt" in str(info.value)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"PIEH" + struct.pack("<ii", 3, 2) + b"\0" * 20, "size mismatch"),
        (b"PIEH" + struct.pack("<ii", 3, 2) + b"\0" * 28, "size mismatch"),
        (b"PIEH" + struct.pack("<ii", -3, 2), "implausible"),
        (b"PIEH\0\0", "truncated"),
        (b"PI", "truncated"),
        (b"XXXX" + struct.pack("<ii", 1, 1) + b"\0" * 4, "not a Sintel"),
    ],
)
def test_dpt_bad_files(tmp_path, payload, message):
    (tmp_path / "b.dpt").write_bytes(payload)
    with pytest.raises(DatasetError, match=message):
        read_dpt(tmp_path / "b.dpt")


def test_cam_round_trip_and_hand_built(tmp_path, rng):
    K = np.array([[1120.0, 0, 511.5], [0, 1120.0, 217.5], [0, 0, 1]])
    N = rng.normal(size=(3, 4))
    write_cam(tmp_path / "c.cam", K, N)
    K2, N2 = read_cam(tmp_path / "c.cam")
    assert K2.tobytes() == K.tobytes() and N2.tobytes() == N.tobytes()
    hand = b"PIEH" + struct.pack("<9d", *K.ravel()) + struct.pack("<12d", *range(12))
    assert len(hand) == 172
    (tmp_path / "h.cam").write_bytes(hand)
    K3, N3 = read_cam(tmp_path / "h.cam")
    assert K3[0, 0] == 1120.0 and K3[1, 2] == 217.5
    np.testing.assert_array_equal(N3, np.arange(12.0).reshape(3, 4))


def test_cam_bad_size_and_tag(tmp_path):
    (tmp_path / "short.cam").write_bytes(b"PIEH" + b"\0" * 100)
    with pytest.raises(DatasetError, match="172"):
        read_cam(tmp_path / "short.cam")
    (tmp_path / "tag.cam").write_bytes(b"HEIP" + b"\0" * 168)
    with pytest.raises(DatasetError, match="tag"):
        read_cam(tmp_path / "tag.cam")
    with pytest.raises(DatasetError, match="not found"):
        read_cam(tmp_path / "missing.cam")


def test_disparity_png_encoding():
    rgb = np.array([[[1, 64, 0], [0, 0, 1]]], dtype=np.uint8)
    np.testing.assert_allclose(decode_disparity_png(rgb), [[4 + 1, 2.0**-14]])
    disparity = np.array([[0.0, 12.375, 1023.5]])
    np.testing.assert_array_equal(decode_disparity_png(encode_disparity_png(disparity)), disparity)
