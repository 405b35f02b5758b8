"""Booster adapter on a fake train/balanced tree."""

import numpy as np
import pytest
from _fake_trees import make_booster_tree

from dpbench.datasets import find_dataset_root, open_dataset
from dpbench.errors import DatasetError


def _expected_depth(truth, fx):
    disparity = truth["disparity"].astype(np.float64)
    with np.errstate(divide="ignore"):
        depth = fx * truth["baseline_mm"] / disparity / 1000.0
    return depth


def test_default_split_depth_focal_valid_ids(tmp_path, rng):
    truth = make_booster_tree(tmp_path / "booster", rng)
    ds = open_dataset("booster", tmp_path / "booster")
    assert ds.split == "train" and ds.ids == ["Bathroom/im0", "Bathroom/im1", "Kitchen/im0"]
    assert ds.options == {"fx_source": "proj_matL", "mask": "nonzero"}
    for sample in ds:
        t = truth[sample.id]
        np.testing.assert_array_equal(sample.image, t["image"])
        assert sample.focal_px == t["fx_rect"]
        expected_valid = (t["disparity"] > 0) & (t["mask"] != 0)
        np.testing.assert_array_equal(sample.valid, expected_valid)
        np.testing.assert_allclose(sample.depth[expected_valid], _expected_depth(t, t["fx_rect"])[expected_valid], rtol=1e-6)
        assert np.all(sample.depth[~expected_valid] == 0)
        assert sample.meta["scene"] == t["scene"] and sample.meta["baseline_mm"] == t["baseline_mm"]


def test_options_fx_source_and_mask(tmp_path, rng):
    truth = make_booster_tree(tmp_path, rng, scenes={"Mirror": 1})
    t = truth["Mirror/im0"]
    sample = open_dataset("booster", tmp_path, fx_source="mtxL", mask="255")[0]
    assert sample.focal_px == t["fx_raw"]
    np.testing.assert_array_equal(sample.valid, (t["disparity"] > 0) & (t["mask"] == 255))
    np.testing.assert_allclose(sample.depth[sample.valid], _expected_depth(t, t["fx_raw"])[sample.valid], rtol=1e-6)
    sample = open_dataset("booster", tmp_path, mask="none")[0]
    np.testing.assert_array_equal(sample.valid, t["disparity"] > 0)
    with pytest.raises(DatasetError, match="fx_source"):
        open_dataset("booster", tmp_path, fx_source="K")
    assert open_dataset("booster", tmp_path).protocol_hash() != open_dataset("booster", tmp_path, mask="none").protocol_hash()


def test_baseline_from_projection_when_missing(tmp_path, rng):
    truth = make_booster_tree(tmp_path, rng, scenes={"Glass": 1}, baseline_in_xml=False)
    t = truth["Glass/im0"]
    sample = open_dataset("booster", tmp_path)[0]
    assert sample.meta["baseline_source"] == "proj_matR"
    np.testing.assert_allclose(sample.depth[sample.valid], _expected_depth(t, t["fx_rect"])[sample.valid], rtol=1e-6)


def test_root_variants_and_discovery(tmp_path, rng):
    make_booster_tree(tmp_path / "data" / "Booster", rng, scenes={"A": 1})
    assert find_dataset_root("booster", tmp_path / "data") == tmp_path / "data" / "Booster"
    assert len(open_dataset("booster", tmp_path / "data" / "Booster" / "train" / "balanced", split="all")) == 1


def test_errors(tmp_path, rng):
    with pytest.raises(DatasetError, match="train/balanced"):
        open_dataset("booster", tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no samples"):
        open_dataset("booster", tmp_path / "empty")
    make_booster_tree(tmp_path / "b", rng, scenes={"A": 2, "B": 1})
    scene_b = tmp_path / "b" / "train" / "balanced" / "B"
    (scene_b / "disp_00.npy").unlink()
    with pytest.raises(DatasetError, match="disp_00.npy"):
        open_dataset("booster", tmp_path / "b")
    ds = open_dataset("booster", tmp_path / "b", on_error="skip")
    assert ds.ids == ["A/im0", "A/im1"] and len(ds.excluded) == 1
    scene_a = tmp_path / "b" / "train" / "balanced" / "A"
    np.save(scene_a / "disp_00.npy", np.ones((3, 3), np.float32))
    with pytest.raises(DatasetError, match=r"disp_00.npy: disparity is 3x3"):
        ds[0]
    np.save(scene_a / "disp_00.npy", np.ones((6, 8), np.float32))
    xml = (scene_a / "calib_00-02.xml").read_text()
    (scene_a / "calib_00-02.xml").write_text(xml.split("<proj_matR")[0].replace("<baselineLR>", "<x>") + "</opencv_storage>\n")
    with pytest.raises(DatasetError, match="baselineLR"):
        ds[0]
    (scene_a / "calib_00-02.xml").write_text(xml)
    (scene_a / "camera_00" / "im0.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(DatasetError, match="im0.png"):
        ds[0]


def test_calibrated_intrinsics_come_from_the_fx_source_matrix(tmp_path, rng):
    from dpbench.tasks.pointcloud import gt_intrinsics

    truth = make_booster_tree(tmp_path, rng, scenes={"Mirror": 1})
    t = truth["Mirror/im0"]
    rect, raw = t["proj_matL"], t["mtxL"]
    sample = open_dataset("booster", tmp_path)[0]
    assert sample.meta["intrinsics"] == [rect[0, 0], rect[1, 1], rect[0, 2], rect[1, 2]]
    assert sample.meta["intrinsics"][2:] == [8 / 2 - 0.7, 6 / 2 + 0.4]  # off-centre, as written
    assert gt_intrinsics(sample) == (t["fx_rect"], rect[1, 1], rect[0, 2], rect[1, 2], "meta")
    sample = open_dataset("booster", tmp_path, fx_source="mtxL")[0]
    assert sample.meta["intrinsics"] == [raw[0, 0], raw[1, 1], raw[0, 2], raw[1, 2]]
    assert gt_intrinsics(sample)[:4] == (t["fx_raw"], t["fx_raw"] + 1, 8 / 2 + 0.3, 6 / 2 - 0.2)
