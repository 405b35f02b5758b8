"""PFM: writer→reader round trips and hand-built byte strings (endianness, row order, header)."""

import struct

import numpy as np
import pytest

from dpbench.errors import DatasetError
from dpbench.io.pfm import read_pfm, write_pfm


@pytest.mark.parametrize("little_endian", [True, False])
@pytest.mark.parametrize("channels", [1, 3])
def test_round_trip_bit_exact(tmp_path, rng, little_endian, channels):
    shape = (5, 7) if channels == 1 else (5, 7, 3)
    array = rng.normal(size=shape).astype(np.float32)
    array.flat[3] = np.inf
    path = tmp_path / "x.pfm"
    write_pfm(path, array, scale=2.5, little_endian=little_endian)
    back, scale = read_pfm(path)
    assert back.dtype == np.float32 and back.shape == shape
    assert back.tobytes() == array.tobytes()
    assert scale == 2.5
    assert path.read_bytes().startswith(b"Pf\n" if channels == 1 else b"PF\n")


def test_hand_built_little_endian_bottom_row_first(tmp_path):
    # 3 wide, 2 high; the file stores the bottom row (10, 11, 12) first.
    payload = struct.pack("<6f", 10, 11, 12, 1, 2, 3)
    path = tmp_path / "le.pfm"
    path.write_bytes(b"Pf\n3 2\n-1.0\n" + payload)
    array, scale = read_pfm(path)
    np.testing.assert_array_equal(array, [[1, 2, 3], [10, 11, 12]])
    assert scale == 1.0


def test_hand_built_big_endian_three_channels(tmp_path):
    # 1 wide, 2 high, RGB interleaved; bottom pixel (4,5,6) first, big-endian (positive scale).
    payload = struct.pack(">6f", 4, 5, 6, 1, 2, 3)
    path = tmp_path / "be.pfm"
    path.write_bytes(b"PF\n1 2\n0.5\n" + payload)
    array, scale = read_pfm(path)
    assert array.shape == (2, 1, 3)
    np.testing.assert_array_equal(array[:, 0, :], [[1, 2, 3], [4, 5, 6]])
    assert scale == 0.5
    assert array.dtype.byteorder in ("=", "<" if np.little_endian else ">")


def test_header_with_extra_spaces_and_crlf_free_values(tmp_path):
    payload = struct.pack("<2f", 7.5, -1.25)
    path = tmp_path / "sp.pfm"
    path.write_bytes(b"Pf\n2  1\n-1\n" + payload)
    array, _ = read_pfm(path)
    np.testing.assert_array_equal(array, [[7.5, -1.25]])


def test_crlf_header_and_payload_starting_with_whitespace_bytes(tmp_path):
    # 2.5e-38-ish float whose little-endian bytes start with 0x0A (a newline) and 0x20 (a space)
    first = np.frombuffer(b"\x0a\x20\x0d\x01", dtype="<f4")[0]
    payload = np.array([first, 2.0], dtype="<f4").tobytes()
    (tmp_path / "a.pfm").write_bytes(b"Pf\r\n2 1\r\n-1.0\r\n" + payload)
    array, _ = read_pfm(tmp_path / "a.pfm")
    assert array[0, 0] == first and array[0, 1] == 2.0
    (tmp_path / "b.pfm").write_bytes(b"Pf\n2 1\n-1.0\n" + payload)
    array, _ = read_pfm(tmp_path / "b.pfm")
    assert array[0, 0] == first and array[0, 1] == 2.0


def test_inf_marks_unknown_and_survives(tmp_path):
    payload = struct.pack("<2f", float("inf"), 3.0)
    path = tmp_path / "inf.pfm"
    path.write_bytes(b"Pf\n2 1\n-1.0\n" + payload)
    array, _ = read_pfm(path)
    assert np.isposinf(array[0, 0]) and array[0, 1] == 3.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"P6\n2 1\n-1.0\n" + b"\0" * 8, "magic"),
        (b"Pf\n2 1\n-1.0\n" + b"\0" * 4, "size mismatch"),
        (b"Pf\n2 1\n-1.0\n" + b"\0" * 16, "size mismatch"),
        (b"Pf\n2 x\n-1.0\n" + b"\0" * 8, "size line"),
        (b"Pf\n2 1\nabc\n" + b"\0" * 8, "scale"),
        (b"Pf\n2 1\n0\n" + b"\0" * 8, "scale"),
        (b"Pf\n2", "truncated"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.pfm"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message) as info:
        read_pfm(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        read_pfm(tmp_path / "nope.pfm")


def test_writer_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError):
        write_pfm(tmp_path / "a.pfm", np.zeros((2, 2, 2), np.float32))
    with pytest.raises(ValueError):
        write_pfm(tmp_path / "a.pfm", np.zeros((2, 2), np.int32))
