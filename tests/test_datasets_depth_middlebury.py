"""Middlebury adapter on fake MiddEval3 and 2014 trees."""

import numpy as np
import pytest
from _fake_trees import make_middlebury_tree

from dpbench.datasets import open_dataset
from dpbench.errors import DatasetError

ALL_15 = ["Adirondack", "ArtL", "Jadeplant", "Motorcycle", "MotorcycleE", "Piano", "PianoL", "Pipes",
          "Playroom", "Playtable", "PlaytableP", "Recycle", "Shelves", "Teddy", "Vintage"]


def _depth(t):
    return t["baseline"] * t["f"] / (t["disparity"].astype(np.float64) + t["doffs"]) / 1000.0


def test_default_train_split_full_resolution(tmp_path, rng):
    truth = make_middlebury_tree(tmp_path, rng, scenes=ALL_15[:3], resolutions=("F", "H"))
    ds = open_dataset("middlebury", tmp_path, split="all")
    assert ds.ids == ALL_15[:3] and ds.options == {"resolution": "F", "mask": "finite"}
    for sample in ds:
        t = truth[f"F:{sample.id}"]
        np.testing.assert_array_equal(sample.image, t["image"])
        assert sample.focal_px == t["f"]
        expected_valid = np.isfinite(t["disparity"])
        np.testing.assert_array_equal(sample.valid, expected_valid)
        np.testing.assert_allclose(sample.depth[expected_valid], _depth(t)[expected_valid], rtol=1e-6)
        assert sample.meta["doffs"] == t["doffs"] and sample.meta["release"] == "MiddEval3-F"
    half = open_dataset("middlebury", tmp_path, split="all", resolution="H")[1]
    assert half.focal_px == truth["H:ArtL"]["f"]


def test_train_split_needs_all_15_scenes(tmp_path, rng):
    make_middlebury_tree(tmp_path, rng, scenes=ALL_15)
    ds = open_dataset("middlebury", tmp_path)
    assert ds.split == "train" and ds.ids == ALL_15 and len(ds) == ds.spec["expected_samples"]
    make_middlebury_tree(tmp_path / "partial", rng, scenes=ALL_15[:14])
    with pytest.raises(DatasetError, match="Vintage"):
        open_dataset("middlebury", tmp_path / "partial")
    assert len(open_dataset("middlebury", tmp_path / "partial", on_error="skip")) == 14


def test_nocc_mask_and_2014_split(tmp_path, rng):
    truth = make_middlebury_tree(tmp_path / "MiddEval3", rng, scenes=("Teddy",))
    truth.update(make_middlebury_tree(tmp_path, rng, scenes=(), perfect=("Bicycle1", "Sword2")))
    ds = open_dataset("middlebury", tmp_path / "MiddEval3", split="all", mask="nocc")
    t = truth["F:Teddy"]
    np.testing.assert_array_equal(ds[0].valid, np.isfinite(t["disparity"]) & (t["mask"] == 255))
    ds2014 = open_dataset("middlebury", tmp_path, split="2014")
    assert ds2014.ids == ["2014/Bicycle1-perfect", "2014/Sword2-perfect"]
    sample = ds2014[1]
    t = truth["2014/Sword2-perfect"]
    np.testing.assert_allclose(sample.depth[sample.valid], _depth(t)[sample.valid], rtol=1e-6)
    # MiddEval3 nested under the root plus the 2014 scenes: "all" sees both
    assert open_dataset("middlebury", tmp_path, split="all").ids == ["Teddy", "2014/Bicycle1-perfect", "2014/Sword2-perfect"]


def test_errors(tmp_path, rng):
    make_middlebury_tree(tmp_path, rng, scenes=("Piano", "Pipes"))
    scene = tmp_path / "trainingF" / "Piano"
    (scene / "mask0nocc.png").unlink()
    with pytest.raises(DatasetError, match="mask0nocc.png"):
        open_dataset("middlebury", tmp_path, split="all", mask="nocc")
    calib = (scene / "calib.txt").read_text()
    (scene / "calib.txt").write_text(calib.replace("width=8", "width=16"))
    with pytest.raises(DatasetError, match="calibration is for 16x6"):
        open_dataset("middlebury", tmp_path, split="all")[0]
    (scene / "calib.txt").write_text("\n".join(line for line in calib.splitlines() if not line.startswith("baseline")))
    with pytest.raises(DatasetError, match="baseline"):
        open_dataset("middlebury", tmp_path, split="all")[0]
    (scene / "calib.txt").write_text(calib)
    pfm = (scene / "disp0GT.pfm").read_bytes()
    (scene / "disp0GT.pfm").write_bytes(pfm[:-8])
    with pytest.raises(DatasetError, match="disp0GT.pfm: PFM payload size mismatch"):
        open_dataset("middlebury", tmp_path, split="all")[0]
    (scene / "disp0GT.pfm").write_bytes(pfm.replace(b"8 6", b"6 8", 1))
    with pytest.raises(DatasetError, match="disparity is 6x8"):
        open_dataset("middlebury", tmp_path, split="all")[0]
    with pytest.raises(DatasetError, match="resolution"):
        open_dataset("middlebury", tmp_path, resolution="X")


def test_calibrated_intrinsics_are_cam0_of_the_resolution_read(tmp_path, rng):
    from dpbench.tasks.pointcloud import gt_intrinsics

    truth = make_middlebury_tree(tmp_path, rng, scenes=["Adirondack"], resolutions=("F", "Q"), size=(6, 8))
    for resolution in ("F", "Q"):
        sample = open_dataset("middlebury", tmp_path, split="all", resolution=resolution)[0]
        cam0 = truth[f"{resolution}:Adirondack"]["cam0"]
        assert sample.meta["intrinsics"] == [cam0[0, 0], cam0[1, 1], cam0[0, 2], cam0[1, 2]]
        assert sample.meta["intrinsics"][2:] == [8 / 2 + 0.25, 6 / 2 - 0.5]
        assert gt_intrinsics(sample) == (sample.focal_px, cam0[1, 1], 4.25, 2.5, "meta")
