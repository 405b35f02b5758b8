"""ETH3D adapter on a fake DSLR tree (calibration, orientation, focal sources)."""

import math

import numpy as np
import pytest
from _fake_trees import make_eth3d_tree

from dpbench.datasets import open_dataset
from dpbench.errors import DatasetError
from dpbench.io.image import read_image


def test_all_split_depth_valid_focal(tmp_path, rng):
    truth = make_eth3d_tree(tmp_path, rng)
    ds = open_dataset("eth3d", tmp_path, split="all")
    assert ds.ids == ["courtyard/DSC_0000", "courtyard/DSC_0001", "pipes/DSC_0100"]
    assert ds.options == {"focal_source": "calibration"}
    for sample in ds:
        t = truth[sample.id]
        np.testing.assert_array_equal(sample.image, read_image(t["image_path"]))
        expected_valid = np.isfinite(t["depth"])
        np.testing.assert_array_equal(sample.valid, expected_valid)
        np.testing.assert_array_equal(sample.depth[expected_valid], t["depth"][expected_valid])
        assert sample.focal_px == t["fx"]


def test_undistorted_focal_is_rescaled(tmp_path, rng):
    truth = make_eth3d_tree(tmp_path, rng, scenes={"meadow": 1})
    t = truth["meadow/DSC_0000"]
    sample = open_dataset("eth3d", tmp_path, split="all", focal_source="undistorted")[0]
    pinhole = t["pinhole"]
    assert sample.focal_px == pytest.approx(pinhole.params[0] * t["size"][1] / pinhole.width)


def test_portrait_orientation_rotates_depth_and_focal(tmp_path, rng):
    truth = make_eth3d_tree(tmp_path, rng, scenes={"relief": 2}, orientations={"relief/DSC_0001": 6})
    sample = open_dataset("eth3d", tmp_path, split="all")[1]
    t = truth["relief/DSC_0001"]
    assert sample.image.shape[:2] == (6, 4)  # stored 6 wide, shown portrait
    expected = np.rot90(t["depth"], -1)  # EXIF 6 = rotate 90° clockwise
    valid = np.isfinite(expected)
    np.testing.assert_array_equal(sample.valid, valid)
    np.testing.assert_array_equal(sample.depth[valid], expected[valid])
    assert sample.focal_px == t["fy"] and sample.meta["exif_orientation"] == 6


def test_exif_focal_source(tmp_path, rng):
    make_eth3d_tree(tmp_path, rng, scenes={"office": 1}, exif_f35=24)
    sample = open_dataset("eth3d", tmp_path, split="all", focal_source="exif")[0]
    assert sample.focal_px == pytest.approx(24 * math.hypot(6, 4) / math.hypot(36, 24))


def test_train_split_and_errors(tmp_path, rng):
    make_eth3d_tree(tmp_path, rng, scenes={"courtyard": 1, "electro": 2})
    with pytest.raises(DatasetError, match="delivery_area"):
        open_dataset("eth3d", tmp_path)
    ds = open_dataset("eth3d", tmp_path, on_error="skip")
    assert ds.ids == ["courtyard/DSC_0000", "electro/DSC_0100", "electro/DSC_0101"]
    assert len(ds.excluded) == 11
    depth = tmp_path / "electro" / "ground_truth_depth" / "dslr_images" / "DSC_0100.JPG"
    depth.write_bytes(depth.read_bytes()[:-4])
    with pytest.raises(DatasetError, match="DSC_0100.JPG: ETH3D depth size mismatch"):
        ds[1]
    images_txt = tmp_path / "electro" / "dslr_calibration_jpg" / "images.txt"
    images_txt.write_text(images_txt.read_text().replace("DSC_0101", "DSC_9999"))
    with pytest.raises(DatasetError, match="no entry for image DSC_0101.JPG"):
        ds[2]
    (tmp_path / "courtyard" / "dslr_calibration_jpg" / "cameras.txt").unlink()
    with pytest.raises(DatasetError, match="cameras.txt"):
        open_dataset("eth3d", tmp_path, split="all")
    assert len(open_dataset("eth3d", tmp_path, split="all", focal_source="exif", on_error="skip")) == 3
    (tmp_path / "electro" / "images" / "dslr_images" / "DSC_0101.JPG").unlink()
    with pytest.raises(DatasetError, match="missing image"):
        open_dataset("eth3d", tmp_path, split="all", focal_source="exif")
