"""Middlebury calib.txt parsing/writing and the disparity → depth rule."""

import numpy as np
import pytest

from dpbench.errors import DatasetError
from dpbench.io.middlebury import (
    MiddleburyCalib,
    depth_to_disparity,
    disparity_to_depth,
    read_calib,
    write_calib,
)

OFFICIAL_STYLE = """cam0=[3997.684 0 1176.728; 0 3997.684 1011.728; 0 0 1]
cam1=[3997.684 0 1307.839; 0 3997.684 1011.728; 0 0 1]
doffs=131.111
baseline=193.001
width=2964
height=1988
ndisp=280
isint=0
vmin=31
vmax=257
dyavg=0.918
dymax=1.516
"""


def test_reads_official_style_text(tmp_path):
    path = tmp_path / "calib.txt"
    path.write_text(OFFICIAL_STYLE)
    calib = read_calib(path)
    assert calib.focal_px == 3997.684
    assert calib.cam0[0, 2] == 1176.728 and calib.cam1[0, 2] == 1307.839
    assert calib.doffs == 131.111 and calib.baseline == 193.001
    assert (calib.width, calib.height, calib.ndisp, calib.isint) == (2964, 1988, 280, 0)
    assert calib.vmin == 31 and calib.dymax == 1.516


def test_crlf_spaces_and_unknown_keys(tmp_path):
    path = tmp_path / "calib.txt"
    path.write_bytes(b"cam0 = [100 0 5;0 100 4; 0 0 1]\r\ndoffs=0\r\nbaseline=50.5\r\nfoo=bar\r\n")
    calib = read_calib(path)
    assert calib.focal_px == 100 and calib.cam1 is None and calib.extra == {"foo": "bar"}


def test_round_trip(tmp_path):
    calib = MiddleburyCalib(
        cam0=np.array([[1234.5678901, 0, 600.25], [0, 1234.5678901, 400.125], [0, 0, 1]]),
        cam1=np.array([[1234.5678901, 0, 700.75], [0, 1234.5678901, 400.125], [0, 0, 1]]),
        doffs=100.5, baseline=176.252, width=1200, height=800, ndisp=290, isint=0,
        vmin=23, vmax=266.25,
    )
    write_calib(tmp_path / "calib.txt", calib)
    text = (tmp_path / "calib.txt").read_text()
    assert text.startswith("cam0=[1234.5678901 0 600.25; 0 1234.5678901 400.125; 0 0 1]\n")
    back = read_calib(tmp_path / "calib.txt")
    assert back.cam0.tobytes() == calib.cam0.tobytes() and back.cam1.tobytes() == calib.cam1.tobytes()
    for key in ("doffs", "baseline", "width", "height", "ndisp", "isint", "vmin", "vmax", "dyavg"):
        assert getattr(back, key) == getattr(calib, key), key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cam0=[1 0 0; 0 1 0; 0 0 1]\ndoffs=0\n", "baseline"),
        ("doffs=0\nbaseline=1\n", "cam0"),
        ("cam0=[1 0 0; 0 1 0]\ndoffs=0\nbaseline=1\n", "3×3"),
        ("cam0=1 0 0\ndoffs=0\nbaseline=1\n", "matrix"),
        ("cam0=[1 0 0; 0 1 0; 0 0 1]\ndoffs=abc\nbaseline=1\n", "doffs"),
        ("cam0=[1 0 0; 0 1 0; 0 0 1]\ndoffs=0\nbaseline=-1\n", "baseline"),
        ("cam0=[1 0 0; 0 1 0; 0 0 1]\nnonsense line\n", "key=value"),
    ],
)
def test_bad_calibration(tmp_path, text, message):
    path = tmp_path / "calib.txt"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message) as info:
        read_calib(path)
    assert str(path) in str(info.value)


def test_disparity_to_depth_formula():
    disparity = np.array([[100.0, np.inf, -200.0, 0.0]], dtype=np.float32)
    depth = disparity_to_depth(disparity, focal_px=4000.0, baseline_mm=200.0, doffs=100.0)
    # Z = 200 mm * 4000 px / (100 + 100) px = 4000 mm = 4 m; inf and d + doffs <= 0 -> 0
    np.testing.assert_allclose(depth, [[4.0, 0.0, 0.0, 8.0]], rtol=1e-7)
    assert depth.dtype == np.float32


def test_depth_to_disparity_inverts():
    depth = np.array([[1.0, 2.5, 0.0, np.nan]])
    disparity = depth_to_disparity(depth, 3000.0, 150.0, doffs=20.0)
    np.testing.assert_allclose(disparity[0, :2], [450.0 - 20.0, 180.0 - 20.0], rtol=1e-6)
    assert np.isinf(disparity[0, 2:]).all()
    np.testing.assert_allclose(disparity_to_depth(disparity, 3000.0, 150.0, 20.0)[0, :2], [1.0, 2.5], rtol=1e-6)
