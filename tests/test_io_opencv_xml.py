"""OpenCV FileStorage XML (Booster calibration) and Booster disparity files."""

import cv2
import numpy as np
import pytest

from dpbench.errors import DatasetError
from dpbench.io.booster import (
    disparity_to_depth,
    read_booster_calib,
    read_booster_disparity,
    write_booster_calib,
    write_booster_disparity,
)
from dpbench.io.opencv_xml import read_opencv_xml, write_opencv_xml

HAND_WRITTEN = """<?xml version="1.0"?>
<opencv_storage>
<mtxL type_id="opencv-matrix">
  <rows>3</rows>
  <cols>3</cols>
  <dt>d</dt>
  <data>
    5.1234567890123450e+03 0. 2.0560000000000000e+03 0.
    5.1234567890123450e+03 1.5040000000000000e+03 0. 0. 1.</data></mtxL>
<proj_matL type_id="opencv-matrix">
  <rows>3</rows>
  <cols>4</cols>
  <dt>d</dt>
  <data>
    5000.5 0. 2000. 0. 0. 5000.5 1500. 0. 0. 0. 1. 0.</data></proj_matL>
<proj_matR type_id="opencv-matrix">
  <rows>3</rows>
  <cols>4</cols>
  <dt>d</dt>
  <data>
    5000.5 0. 2000. -400040. 0. 5000.5 1500. 0. 0. 0. 1. 0.</data></proj_matR>
<baselineLR>80.25</baselineLR>
</opencv_storage>
"""


def test_reads_hand_written_booster_calibration(tmp_path):
    path = tmp_path / "calib_00-02.xml"
    path.write_text(HAND_WRITTEN)
    calib = read_booster_calib(path)
    assert calib.baseline_mm == 80.25 and calib.baseline_source == "baselineLR"
    assert calib.focal_px("proj_matL") == 5000.5
    assert calib.focal_px("mtxL") == 5123.456789012345
    nodes = read_opencv_xml(path)
    assert nodes["mtxL"].dtype == np.float64 and nodes["proj_matR"][0, 3] == -400040.0


def test_baseline_falls_back_to_proj_matR(tmp_path):
    path = tmp_path / "calib.xml"
    path.write_text(HAND_WRITTEN.replace("<baselineLR>80.25</baselineLR>\n", ""))
    calib = read_booster_calib(path)
    assert calib.baseline_source == "proj_matR"
    assert calib.baseline_mm == pytest.approx(400040.0 / 5000.5)


def test_round_trip_and_opencv_agrees(tmp_path, rng):
    nodes = {
        "mtxL": rng.normal(size=(3, 3)) * 1000,
        "proj_matL": rng.normal(size=(3, 4)),
        "small": rng.normal(size=(2, 2)).astype(np.float32),
        "ints": np.arange(6, dtype=np.int32).reshape(2, 3),
        "baselineLR": 123.456789012345678,
        "count": 7,
        "label": "left camera",
    }
    path = tmp_path / "x.xml"
    write_opencv_xml(path, nodes)
    back = read_opencv_xml(path)
    for key in ("mtxL", "proj_matL", "small", "ints"):
        assert back[key].dtype == nodes[key].dtype and back[key].tobytes() == nodes[key].tobytes(), key
    assert back["baselineLR"] == nodes["baselineLR"] and back["count"] == 7 and back["label"] == "left camera"
    # an independent reader (OpenCV itself) sees the same numbers
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    assert storage.isOpened()
    np.testing.assert_array_equal(storage.getNode("mtxL").mat(), nodes["mtxL"])
    assert storage.getNode("baselineLR").real() == nodes["baselineLR"]
    storage.release()


def test_reads_files_written_by_opencv(tmp_path, rng):
    path = str(tmp_path / "cv.xml")
    matrix = rng.normal(size=(3, 4))
    storage = cv2.FileStorage(path, cv2.FILE_STORAGE_WRITE)
    storage.write("proj_matL", matrix)
    storage.write("mtxL", matrix[:, :3].copy())
    storage.write("baselineLR", 99.5)
    storage.release()
    calib = read_booster_calib(path)
    assert calib.proj_matL.tobytes() == matrix.tobytes()
    assert calib.baseline_mm == 99.5


def test_maps_and_sequences_do_not_break_reading(tmp_path):
    path = str(tmp_path / "extra.xml")
    storage = cv2.FileStorage(path, cv2.FILE_STORAGE_WRITE)
    storage.startWriteStruct("meta", cv2.FileNode_MAP)
    storage.write("camera", "left cam")
    storage.endWriteStruct()
    storage.startWriteStruct("sizes", cv2.FileNode_SEQ)
    storage.write("", 4112)
    storage.write("", 3008)
    storage.endWriteStruct()
    storage.write("mtxL", np.eye(3) * 5000)
    storage.write("baselineLR", 80.0)
    storage.release()
    nodes = read_opencv_xml(path)
    assert nodes["meta"] == {"camera": "left cam"} and nodes["sizes"] == [4112, 3008]
    assert read_booster_calib(path).focal_px("mtxL") == 5000.0


def test_booster_writer_round_trip(tmp_path):
    mtx = np.array([[5100.0, 0, 2056], [0, 5100.0, 1504], [0, 0, 1]])
    proj_l = np.hstack([mtx, np.zeros((3, 1))])
    proj_r = proj_l.copy()
    proj_r[0, 3] = -5100.0 * 80.0
    write_booster_calib(tmp_path / "c.xml", mtx, proj_l, proj_r, 80.0)
    calib = read_booster_calib(tmp_path / "c.xml")
    assert calib.focal_px() == 5100.0 and calib.baseline_mm == 80.0
    write_booster_calib(tmp_path / "d.xml", mtx, proj_l, proj_r, None)
    assert read_booster_calib(tmp_path / "d.xml").baseline_mm == pytest.approx(80.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<opencv_storage><baselineLR>1</baselineLR></opencv_storage>", "proj_matL nor mtxL"),
        (HAND_WRITTEN.replace("<baselineLR>80.25</baselineLR>\n", "").replace("proj_matR", "other"), "baselineLR"),
        (HAND_WRITTEN.replace("<rows>3</rows>\n  <cols>4</cols>", "<rows>3</rows>\n  <cols>5</cols>", 1), "= 15 values, found 12"),
        (HAND_WRITTEN.replace("80.25", "-2"), "positive"),
        ("<opencv_storage><mtxL>", "not a readable XML"),
        ("<other/>", "opencv_storage"),
        (HAND_WRITTEN.replace("<dt>d</dt>", "<dt>q</dt>", 1), "element type"),
    ],
)
def test_bad_calibration_files(tmp_path, text, message):
    path = tmp_path / "calib_00-02.xml"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message) as info:
        read_booster_calib(path)
    assert str(path) in str(info.value)


def test_disparity_npy_round_trip_and_depth(tmp_path, rng):
    disparity = rng.uniform(10, 500, size=(6, 8)).astype(np.float32)
    disparity[0, 0] = 0
    write_booster_disparity(tmp_path / "disp_00.npy", disparity)
    back = read_booster_disparity(tmp_path / "disp_00.npy")
    assert back.tobytes() == disparity.tobytes()
    depth = disparity_to_depth(back, 5000.0, 80.0)
    has_gt = disparity > 0
    expected = 5000.0 * 80.0 / disparity[has_gt].astype(np.float64) / 1000.0
    np.testing.assert_allclose(depth[has_gt], expected, rtol=1e-6)
    assert depth[0, 0] == 0


def test_bad_disparity_files(tmp_path):
    (tmp_path / "trunc.npy").write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', ")
    with pytest.raises(DatasetError, match="trunc.npy"):
        read_booster_disparity(tmp_path / "trunc.npy")
    np.save(tmp_path / "int.npy", np.zeros((2, 2), np.int32))
    with pytest.raises(DatasetError, match="floating"):
        read_booster_disparity(tmp_path / "int.npy")
    np.save(tmp_path / "vec.npy", np.zeros(4, np.float32))
    with pytest.raises(DatasetError, match="2-D"):
        read_booster_disparity(tmp_path / "vec.npy")
