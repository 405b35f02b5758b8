"""SUN RGB-D adapter on a fake data tree + toolbox split file."""

import numpy as np
import pytest
from _fake_trees import SUNRGBD_FRAMES, make_sunrgbd_tree

from dpbench.datasets import find_dataset_root, open_dataset
from dpbench.errors import DatasetError
from dpbench.io.image import read_image
from dpbench.io.png16 import write_png16


def test_test_split_decoding_and_focal(tmp_path, rng):
    truth = make_sunrgbd_tree(tmp_path, rng)
    ds = open_dataset("sunrgbd", tmp_path)
    expected_ids = [rel for rel, spec in SUNRGBD_FRAMES.items() if spec[0] == "test"]
    assert ds.split == "test" and ds.ids == expected_ids
    for sample in ds:
        t = truth[sample.id]
        np.testing.assert_array_equal(sample.image, read_image(t["image_path"]))
        expected = t["depth_mm"]["depth_bfx"] / 1000.0  # mm -> m, all below the 8 m clamp
        np.testing.assert_allclose(sample.depth, expected, rtol=1e-6)
        assert sample.valid.all()
        assert sample.focal_px == t["fx"]
        assert sample.meta["sensor"] == sample.id.split("/")[0]
    raw = open_dataset("sunrgbd", tmp_path, depth_folder="depth")[0]
    t = truth[raw.id]
    np.testing.assert_allclose(raw.depth, t["depth_mm"]["depth"] / 1000.0, rtol=1e-6)
    assert not raw.valid[0, 0] and raw.valid.sum() == raw.valid.size - 1


def test_train_and_all_splits(tmp_path, rng):
    make_sunrgbd_tree(tmp_path, rng)
    assert open_dataset("sunrgbd", tmp_path, split="train").ids == [
        rel for rel, spec in SUNRGBD_FRAMES.items() if spec[0] == "train"]
    assert open_dataset("sunrgbd", tmp_path, split="all").ids == sorted(SUNRGBD_FRAMES)
    assert find_dataset_root("sunrgbd", tmp_path) == tmp_path / "SUNRGBD"
    assert open_dataset("sunrgbd", tmp_path / "SUNRGBD").split == "test"  # toolbox found beside it


def test_hand_rotated_values_and_saturation(tmp_path, rng):
    truth = make_sunrgbd_tree(tmp_path, rng, frames={"kv2/align_kv2/f1": ("test", (1, 3), 529.5)})
    folder = tmp_path / "SUNRGBD" / "kv2" / "align_kv2" / "f1" / "depth_bfx"
    png = next(folder.glob("*.png"))
    # raw file values: 1500 mm rotated left by 3 (= 12000), 0, and one with low bits set (> 8 m)
    write_png16(png, np.array([[12000, 0, 0x8001]], dtype=np.uint16))
    sample = open_dataset("sunrgbd", tmp_path)[0]
    np.testing.assert_allclose(sample.depth, [[1.5, 0.0, 8.0]], rtol=1e-7)
    np.testing.assert_array_equal(sample.valid, [[True, False, True]])
    strict = open_dataset("sunrgbd", tmp_path, saturated="invalid")[0]
    np.testing.assert_array_equal(strict.valid, [[True, False, False]])
    assert truth


def test_errors(tmp_path, rng):
    make_sunrgbd_tree(tmp_path, rng)
    frame = tmp_path / "SUNRGBD" / "kv1" / "NYUdata" / "NYU0001"
    (frame / "intrinsics.txt").unlink()
    with pytest.raises(DatasetError, match="intrinsics.txt"):
        open_dataset("sunrgbd", tmp_path)
    ds = open_dataset("sunrgbd", tmp_path, on_error="skip")
    assert len(ds) == 2 and ds.excluded[0][0] == "kv1/NYUdata/NYU0001"
    (frame / "intrinsics.txt").write_text("1 2 3")
    with pytest.raises(DatasetError, match="9 numbers"):
        open_dataset("sunrgbd", tmp_path)[1]
    kv2 = next(iter(SUNRGBD_FRAMES))
    depth_png = next((tmp_path / "SUNRGBD" / kv2 / "depth_bfx").glob("*.png"))
    write_png16(depth_png, np.zeros((3, 3), np.uint16))
    with pytest.raises(DatasetError, match="ground truth is 3x3"):
        ds[0]
    depth_png.write_bytes(depth_png.read_bytes()[:20])
    with pytest.raises(DatasetError, match="unreadable PNG"):
        ds[0]
    (tmp_path / "SUNRGBDtoolbox" / "traintestSUNRGBD" / "allsplit.mat").unlink()
    with pytest.raises(DatasetError, match="allsplit.mat"):
        open_dataset("sunrgbd", tmp_path)
