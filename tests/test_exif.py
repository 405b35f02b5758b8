"""EXIF focal reading (Depth Pro's rule P7), the sensor-width fallback and the EXIF writer."""

from __future__ import annotations

import io
import math
import struct

import numpy as np
import pytest
from PIL import Image

from dpbench.errors import DatasetError
from dpbench.io.exif import (
    camera_name,
    focal_px_from_exif,
    lookup_sensor_width,
    make_exif,
    read_exif_focal,
)
from dpbench.io.image import read_image

FILM_DIAGONAL = math.sqrt(36.0**2 + 24.0**2)


def _write(path, width, height, exif=None, fmt=None):
    rng = np.random.default_rng(width * 1000 + height)
    pixels = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    kwargs = {"exif": exif} if exif is not None else {}
    Image.fromarray(pixels).save(path, format=fmt, **kwargs)
    return pixels


# -- hand-built EXIF blocks (independent of Pillow's writer) -------------------------------------

_TYPE_SIZES = {2: 1, 3: 2, 4: 4, 5: 8}


def _tiff_block(byte_order: str, ifd0: list, exif_ifd: list) -> bytes:
    """A TIFF structure 'II'/'MM' with IFD0 (+ pointer 0x8769 to an EXIF sub-IFD) built by hand.

    Entries are (tag, type, value): type 2 ASCII str, 3 SHORT int, 4 LONG int, 5 RATIONAL (num, den).
    """
    e = "<" if byte_order == "II" else ">"

    def payload(kind, value):
        if kind == 2:
            return value.encode("ascii") + b"\x00", len(value) + 1
        if kind == 3:
            return struct.pack(e + "H", value), 1
        if kind == 4:
            return struct.pack(e + "I", value), 1
        if kind == 5:
            return struct.pack(e + "II", *value), 1
        raise AssertionError(kind)

    ifd0 = list(ifd0) + ([(0x8769, 4, 0)] if exif_ifd else [])
    ifd0_size = 2 + 12 * len(ifd0) + 4
    exif_offset = 8 + ifd0_size
    exif_size = 2 + 12 * len(exif_ifd) + 4 if exif_ifd else 0
    data_offset = exif_offset + exif_size
    data = bytearray()

    def directory(entries, patch_exif_pointer):
        nonlocal data
        out = bytearray(struct.pack(e + "H", len(entries)))
        for tag, kind, value in sorted(entries, key=lambda t: t[0]):
            if tag == 0x8769 and patch_exif_pointer:
                value = exif_offset
            raw, count = payload(kind, value)
            if len(raw) <= 4:
                field = raw.ljust(4, b"\x00")
            else:
                field = struct.pack(e + "I", data_offset + len(data))
                data += raw
                if len(data) % 2:
                    data += b"\x00"
            out += struct.pack(e + "HHI", tag, kind, count) + field
        out += struct.pack(e + "I", 0)
        return bytes(out)

    header = (b"II*\x00" if byte_order == "II" else b"MM\x00*") + struct.pack(e + "I", 8)
    first = directory(ifd0, True)
    second = directory(exif_ifd, False) if exif_ifd else b""
    return header + first + second + bytes(data)


def _jpeg_with_app1(path, width, height, tiff: bytes):
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    segment = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment
    path.write_bytes(jpeg[:2] + app1 + jpeg[2:])


@pytest.mark.parametrize("byte_order", ["II", "MM"])
def test_hand_built_exif_block_is_read(tmp_path, byte_order):
    tiff = _tiff_block(
        byte_order,
        ifd0=[(0x010F, 2, "NIKON CORPORATION"), (0x0110, 2, "NIKON D90"), (0x0112, 3, 8)],
        exif_ifd=[(0x920A, 5, (350, 10)), (0xA405, 3, 52)],
    )
    path = tmp_path / "hand.jpg"
    _jpeg_with_app1(path, 30, 20, tiff)
    facts = read_exif_focal(path)
    assert facts.f35_mm == 52 and facts.f_mm == pytest.approx(35.0)
    assert facts.make == "NIKON CORPORATION" and facts.model == "NIKON D90"
    assert facts.camera == "NIKON CORPORATION NIKON D90"
    assert facts.orientation == 8
    assert (facts.width, facts.height) == (20, 30)  # orientation 8 swaps the stored 30x20
    focal = focal_px_from_exif(facts)
    assert focal.source == "35mm"
    assert focal.focal_px == pytest.approx(52 * math.sqrt(20**2 + 30**2) / FILM_DIAGONAL)


def test_ifd0_value_wins_over_sub_ifd_on_a_clash(tmp_path):
    tiff = _tiff_block("II", ifd0=[(0xA405, 3, 50)], exif_ifd=[(0xA405, 3, 28)])
    path = tmp_path / "clash.jpg"
    _jpeg_with_app1(path, 36, 24, tiff)
    assert read_exif_focal(path).f35_mm == 50


def test_zero_35mm_value_is_no_focal(tmp_path):
    path = tmp_path / "zero.jpg"
    _jpeg_with_app1(path, 36, 24, _tiff_block("II", ifd0=[], exif_ifd=[(0xA405, 3, 0)]))
    facts = read_exif_focal(path)
    assert facts.f35_mm is None
    result = focal_px_from_exif(facts)
    assert result.focal_px is None and result.reason == "no focal length in EXIF"


# -- writer -> reader --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_35mm_focal_round_trip(tmp_path, suffix):
    # 3:2 image: the diagonal rule reduces to f35 * W / 36, so 60x40 with f35 = 27 mm gives 45 px.
    path = tmp_path / f"a{suffix}"
    _write(path, 60, 40, make_exif(f35=27, make="Canon", model="Canon EOS 5D"))
    facts = read_exif_focal(path)
    assert (facts.width, facts.height, facts.orientation) == (60, 40, 1)
    assert facts.f35_mm == 27 and facts.f_mm is None
    assert facts.camera == "Canon EOS 5D"
    assert focal_px_from_exif(facts).focal_px == pytest.approx(45.0, rel=1e-12)


@pytest.mark.parametrize("orientation, turn", [(6, 1), (8, -1), (3, 2)])
def test_rotated_images_use_the_size_after_rotation(tmp_path, orientation, turn):
    upright = np.random.default_rng(orientation).integers(0, 255, size=(40, 64, 3), dtype=np.uint8)
    # Store the pixels so that applying the orientation gives back the upright image.
    stored = np.rot90(upright, k=turn)
    path = tmp_path / f"rot{orientation}.png"
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=make_exif(f35=35, orientation=orientation))
    facts = read_exif_focal(path)
    assert facts.orientation == orientation
    assert (facts.width, facts.height) == (64, 40)
    np.testing.assert_array_equal(read_image(path), upright)
    expected = 35 * math.hypot(64, 40) / FILM_DIAGONAL
    assert focal_px_from_exif(facts).focal_px == pytest.approx(expected)


def test_mm_only_needs_a_sensor_width(tmp_path):
    path = tmp_path / "mm.jpg"
    _write(path, 80, 60, make_exif(f_mm=6.0, make="NIKON CORPORATION", model="NIKON  D7000\x00"))
    facts = read_exif_focal(path)
    assert facts.f35_mm is None and facts.f_mm == pytest.approx(6.0)
    assert facts.model == "NIKON D7000"
    result = focal_px_from_exif(facts)
    assert result.focal_px is None
    assert "only FocalLength (mm)" in result.reason and "NIKON D7000" in result.reason
    result = focal_px_from_exif(facts, {"nikon d7000": 24.0})
    assert result.source == "mm+sensor_width"
    assert result.focal_px == pytest.approx(6.0 * 80 / 24.0)


def test_mm_rule_uses_the_long_side_for_portrait_images(tmp_path):
    path = tmp_path / "portrait.jpg"
    _write(path, 80, 60, make_exif(f_mm=6.0, model="Cam", orientation=6))
    facts = read_exif_focal(path)
    assert (facts.width, facts.height) == (60, 80)
    assert focal_px_from_exif(facts, {"Cam": 24.0}).focal_px == pytest.approx(6.0 * 80 / 24.0)


def test_35mm_wins_over_mm(tmp_path):
    path = tmp_path / "both.jpg"
    _write(path, 36, 24, make_exif(f35=50, f_mm=12.0, model="Cam"))
    result = focal_px_from_exif(read_exif_focal(path), {"Cam": 6.0})
    assert result.source == "35mm" and result.focal_px == pytest.approx(50.0)


def test_no_exif_at_all(tmp_path):
    path = tmp_path / "plain.jpg"
    _write(path, 30, 20)
    facts = read_exif_focal(path)
    assert facts.f35_mm is None and facts.f_mm is None and facts.make is None
    assert focal_px_from_exif(facts).reason == "no focal length in EXIF"


def test_size_override():
    from dpbench.io.exif import ExifFocal

    facts = ExifFocal(path="x", width=36, height=24, f35_mm=36.0)
    assert focal_px_from_exif(facts, width=360, height=240).focal_px == pytest.approx(360.0)


def test_bad_files_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match="missing.jpg"):
        read_exif_focal(tmp_path / "missing.jpg")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match="broken.jpg.*unreadable"):
        read_exif_focal(broken)


def test_make_exif_validates_orientation():
    with pytest.raises(ValueError):
        make_exif(orientation=9)
    exif = make_exif(f35=24.4)
    assert exif.get_ifd(0x8769)[0xA405] == 24  # SHORT: rounded


def test_camera_names_and_sensor_lookup():
    assert camera_name("Canon", "Canon EOS R5") == "Canon EOS R5"
    assert camera_name("SONY", "ILCE-7RM2") == "SONY ILCE-7RM2"
    assert camera_name(None, None) is None
    table = {"ILCE-7RM2": 35.9, "Apple iPhone 12": 5.6}
    assert lookup_sensor_width(table, "SONY", "ILCE-7RM2") == 35.9
    assert lookup_sensor_width(table, "Apple", "iPhone 12") == 5.6  # 'Make Model'
    assert lookup_sensor_width(table, "Apple", "iPhone 13") is None
    assert lookup_sensor_width(None, "Apple", "iPhone 12") is None


def test_tiff_orientation_is_not_applied_twice(tmp_path):
    # Recent Pillow reports TIFF sizes already oriented; the stored size comes from the TIFF tags.
    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[0x0112] = 6
    info[0x8769] = {0xA405: 50}
    path = tmp_path / "r.tif"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(path, tiffinfo=info)
    facts = read_exif_focal(path)
    assert facts.orientation == 6 and facts.f35_mm == 50
    assert (facts.height, facts.width) == read_image(path).shape[:2] == (30, 20)
