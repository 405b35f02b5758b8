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


def test_calibrated_intrinsics_in_pixel_centre_coordinates(tmp_path, rng):
    truth = make_eth3d_tree(tmp_path, rng, scenes={"meadow": 1})
    t = truth["meadow/DSC_0000"]
    sample = open_dataset("eth3d", tmp_path, split="all")[0]
    fx, fy, cx, cy = t["distorted"].params[:4]
    # COLMAP puts the image corner at 0 (pixel centres at +0.5): dpbench's 0-based centres are −0.5
    assert sample.meta["intrinsics"] == pytest.approx([fx, fy, cx - 0.5, cy - 0.5])
    assert sample.meta["intrinsics"][2:] == pytest.approx([6 / 2 + 0.3 - 0.5, 4 / 2 - 0.2 - 0.5])
    pinhole = t["pinhole"]
    scale_x, scale_y = 6 / pinhole.width, 4 / pinhole.height
    sample = open_dataset("eth3d", tmp_path, split="all", focal_source="undistorted")[0]
    assert sample.meta["intrinsics"] == pytest.approx(
        [pinhole.params[0] * scale_x, pinhole.params[1] * scale_y,
         pinhole.params[2] * scale_x - 0.5, pinhole.params[3] * scale_y - 0.5])
    assert sample.meta["intrinsics"][0] == sample.focal_px


def test_exif_focal_source_has_no_principal_point(tmp_path, rng):
    make_eth3d_tree(tmp_path, rng, scenes={"office": 1}, exif_f35=24)
    sample = open_dataset("eth3d", tmp_path, split="all", focal_source="exif")[0]
    assert "intrinsics" not in sample.meta


def test_portrait_orientation_moves_the_principal_point(tmp_path, rng):
    truth = make_eth3d_tree(tmp_path, rng, scenes={"relief": 2}, orientations={"relief/DSC_0001": 6})
    t = truth["relief/DSC_0001"]
    sample = open_dataset("eth3d", tmp_path, split="all")[1]
    fx, fy, cx, cy = t["distorted"].params[:4]
    # stored 6×4 (W×H), shown 4×6; EXIF 6 turns the image clockwise: x' = H − 1 − y, y' = x
    assert sample.meta["intrinsics"] == pytest.approx([fy, fx, 4 - 1 - (cy - 0.5), cx - 0.5])
    assert sample.meta["intrinsics"][0] == sample.focal_px


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_intrinsics_follows_apply_orientation(orientation):
    from dpbench.io.image import apply_orientation, orient_intrinsics

    stored = np.zeros((5, 7))
    stored[1, 4] = 1.0  # a principal point at pixel (x, y) = (4, 1)
    fx, fy, cx, cy = orient_intrinsics(100.0, 200.0, 4.0, 1.0, orientation, stored.shape)
    shown = apply_orientation(stored, orientation)
    (row,), (col,) = np.nonzero(shown)
    assert (cx, cy) == (col, row)
    assert (fx, fy) == ((200.0, 100.0) if shown.shape != stored.shape else (100.0, 200.0))
