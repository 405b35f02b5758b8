"""Mask-based boundary datasets (AM-2k, P3M-10k, DIS-5k, PPM-100) read from fake official trees."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dpbench.datasets import dataset_names, find_dataset_root, open_dataset
from dpbench.datasets._matting import read_mask
from dpbench.datasets.base import load_spec
from dpbench.datasets.dis5k import gt_path_of, read_sample_list
from dpbench.errors import DatasetError
from dpbench.resources import resource_path


def _photo(path: Path, width: int, height: int, seed: int) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=100) if path.suffix == ".jpg" else Image.fromarray(pixels).save(path)
    return pixels


def _matte(path: Path, width: int, height: int, seed: int) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    alpha = np.random.default_rng(seed + 7).integers(0, 256, size=(height, width), dtype=np.uint8)
    Image.fromarray(alpha).save(path)
    return alpha


def _pair(root: Path, images: str, masks: str, stem: str, seed: int, size=(12, 8), ext=".jpg"):
    _photo(root / images / f"{stem}{ext}", *size, seed)
    return _matte(root / masks / f"{stem}.png", *size, seed)


# -- read_mask -------------------------------------------------------------------------------


def test_read_mask_scales_each_encoding(tmp_path):
    alpha = np.array([[0, 1, 128], [200, 254, 255]], np.uint8)
    Image.fromarray(alpha).save(tmp_path / "l.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "l.png"), alpha.astype(np.float32) / 255)

    sixteen = np.array([[0, 65535], [32768, 1]], np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "i16.png")
    np.testing.assert_allclose(read_mask(tmp_path / "i16.png"), sixteen / 65535.0, rtol=1e-6)

    binary = np.array([[True, False], [False, True]])
    Image.fromarray(binary).convert("1").save(tmp_path / "one.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "one.png"), binary.astype(np.float32))

    rgb = np.repeat(alpha[..., None], 3, axis=2)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "rgb.png"), alpha.astype(np.float32) / 255)

    palette = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), mode="L").convert("P")
    palette.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    palette.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "p.png"), [[0.0, 1.0], [1.0, 0.0]])

    with pytest.raises(DatasetError, match="nope.png"):
        read_mask(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DatasetError, match="bad.png"):
        read_mask(tmp_path / "bad.png")


# -- AM-2k ----------------------------------------------------------------------------------------


def _am2k(root: Path) -> dict[str, np.ndarray]:
    mattes = {}
    for i, stem in enumerate(["m_0aa9dd6a", "m_1bb", "m_2cc"]):
        mattes[f"validation/{stem}"] = _pair(root, "validation/original", "validation/mask", stem, i)
    for i, stem in enumerate(["m_train1", "m_train2"]):
        mattes[f"train/{stem}"] = _pair(root, "train/original", "train/mask", stem, 10 + i)
    _photo(root / "validation" / "trimap" / "m_1bb.png", 12, 8, 99)  # ignored folder
    return mattes


def test_am2k_default_validation_split(tmp_path):
    root = tmp_path / "AM-2k"
    mattes = _am2k(root)
    ds = open_dataset("am2k", root)
    assert ds.split == "validation" and ds.task == "boundary_mask"
    assert ds.ids == ["validation/m_0aa9dd6a", "validation/m_1bb", "validation/m_2cc"]
    sample = ds[1]
    assert sample.depth is None and sample.focal_px is None
    assert sample.image.shape == (8, 12, 3) and sample.mask.dtype == np.float32
    np.testing.assert_array_equal(sample.mask, mattes["validation/m_1bb"].astype(np.float32) / 255)
    assert sample.meta["mask_path"].endswith("validation/mask/m_1bb.png")
    photo = np.asarray(Image.open(root / "validation/original/m_1bb.jpg").convert("RGB"))
    np.testing.assert_array_equal(sample.image, photo)


def test_am2k_all_and_train(tmp_path):
    root = tmp_path / "AM-2k"
    _am2k(root)
    assert len(open_dataset("am2k", root, split="train")) == 2
    assert open_dataset("am2k", root, split="all").ids == [
        "validation/m_0aa9dd6a", "validation/m_1bb", "validation/m_2cc", "train/m_train1", "train/m_train2"]
    with pytest.raises(DatasetError, match="unknown split"):
        open_dataset("am2k", root, split="test")


def test_am2k_warns_on_partial_download(tmp_path, caplog):
    root = tmp_path / "AM-2k"
    _am2k(root)
    with caplog.at_level(logging.INFO):
        open_dataset("am2k", root)
    assert "official release has 200" in caplog.text


def test_missing_mask_raises_or_is_skipped(tmp_path):
    root = tmp_path / "AM-2k"
    _am2k(root)
    (root / "validation/mask/m_1bb.png").unlink()
    with pytest.raises(DatasetError, match=r"m_1bb\.jpg.*missing mask .*m_1bb\.png"):
        open_dataset("am2k", root)
    ds = open_dataset("am2k", root, on_error="skip")
    assert ds.ids == ["validation/m_0aa9dd6a", "validation/m_2cc"]
    assert len(ds.excluded) == 1 and "missing mask" in ds.excluded[0][1]


def test_mask_size_mismatch_names_both_files(tmp_path):
    root = tmp_path / "AM-2k"
    _am2k(root)
    Image.fromarray(np.zeros((8, 10), np.uint8)).save(root / "validation/mask/m_2cc.png")
    ds = open_dataset("am2k", root)
    with pytest.raises(DatasetError, match=r"mask .*m_2cc\.png is 10×8.*m_2cc\.jpg is 12×8"):
        ds[2]


def test_unreadable_image_names_the_file(tmp_path):
    root = tmp_path / "AM-2k"
    _am2k(root)
    (root / "validation/original/m_0aa9dd6a.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(DatasetError, match=r"m_0aa9dd6a\.jpg"):
        open_dataset("am2k", root)[0]


def test_missing_split_folder_says_what_was_expected(tmp_path):
    root = tmp_path / "AM-2k"
    _pair(root, "train/original", "train/mask", "x", 0)
    with pytest.raises(DatasetError, match=r"validation/original"):
        open_dataset("am2k", root)
    (root / "validation/original").mkdir(parents=True)
    _photo(root / "validation/original/a.jpg", 4, 4, 1)
    with pytest.raises(DatasetError, match=r"mask folder .*validation/mask is missing"):
        open_dataset("am2k", root)


# -- P3M-10k ----------------------------------------------------------------------------------------


def test_p3m10k_archive_layout(tmp_path):
    root = tmp_path / "P3M-10k"
    p = _pair(root, "validation/P3M-500-P/blurred_image", "validation/P3M-500-P/mask", "p_1", 1)
    _pair(root, "validation/P3M-500-P/blurred_image", "validation/P3M-500-P/mask", "p_2", 2)
    n = _pair(root, "validation/P3M-500-NP/original_image", "validation/P3M-500-NP/mask", "np_1", 3)
    _pair(root, "train/blurred_image", "train/mask", "t_1", 4)
    ds = open_dataset("p3m10k", root)
    assert ds.split == "validation"
    assert ds.ids == ["P3M-500-P/p_1", "P3M-500-P/p_2", "P3M-500-NP/np_1"]
    np.testing.assert_array_equal(ds[0].mask, p / np.float32(255))
    np.testing.assert_array_equal(ds[2].mask, n / np.float32(255))
    assert open_dataset("p3m10k", root, split="P3M-500-NP").ids == ["P3M-500-NP/np_1"]
    assert len(open_dataset("p3m10k", root, split="all")) == 4


def test_p3m10k_authors_renamed_layout(tmp_path):
    root = tmp_path / "P3M-10k"
    _pair(root, "validation1/blurred_image", "validation1/mask", "p_1", 1)
    _pair(root, "validation2/original_image", "validation2/mask", "np_1", 2)
    ds = open_dataset("p3m10k", root)
    assert ds.ids == ["P3M-500-P/p_1", "P3M-500-NP/np_1"]
    assert find_dataset_root("p3m10k", tmp_path) == root


def test_p3m10k_needs_both_halves_for_the_default(tmp_path):
    root = tmp_path / "P3M-10k"
    _pair(root, "validation/P3M-500-P/blurred_image", "validation/P3M-500-P/mask", "p_1", 1)
    with pytest.raises(DatasetError, match="P3M-500-NP"):
        open_dataset("p3m10k", root)
    assert len(open_dataset("p3m10k", root, split="P3M-500-P")) == 1


# -- PPM-100 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("images, masks", [("image", "matte"), ("val/image", "val/matte")])
def test_ppm100_layouts(tmp_path, images, masks):
    root = tmp_path / "PPM-100"
    alpha = _pair(root, images, masks, "0001", 5, size=(16, 10))
    _pair(root, images, masks, "0002", 6, size=(16, 10))
    ds = open_dataset("ppm100", root)
    assert ds.ids == ["PPM-100/0001", "PPM-100/0002"]
    np.testing.assert_array_equal(ds[0].mask, alpha / np.float32(255))
    assert open_dataset("ppm100", root, split="all").ids == ds.ids
    assert find_dataset_root("ppm100", tmp_path) == root


# -- DIS-5k -----------------------------------------------------------------------------------------


def test_shipped_dis5k_list_matches_its_record():
    protocol = load_spec("dis5k")
    path = resource_path("datasets", "dis5k_sample_list.txt")
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == protocol["sample_list_source"]["sha256"]
    entries = read_sample_list(path)
    assert len(entries) == 200 == len(set(entries))
    assert Counter(e.split("/")[1] for e in entries) == protocol["sample_list_source"]["per_split"]
    assert sum(" " in e for e in entries) == 28
    assert all(e.startswith("DIS5K/") and "/im/" in e and e.endswith(".jpg") for e in entries)
    assert resource_path("datasets", "LICENSE-apple-ml-depth-pro.txt").read_text().startswith("Copyright (C) 2024 Apple")


def test_gt_path_swap():
    assert gt_path_of("DIS5K/DIS-TE1/im/17#Non-motor Vehicle#4#Cart#1_o.jpg") == \
        "DIS5K/DIS-TE1/gt/17#Non-motor Vehicle#4#Cart#1_o.png"


def _dis_tree(base: Path, entries: list[str]) -> dict[str, np.ndarray]:
    masks = {}
    for i, entry in enumerate(entries):
        relative = entry[len("DIS5K/"):]
        _photo(base / relative, 6, 4, i)
        gt = (np.random.default_rng(i).random((4, 6)) > 0.5).astype(np.uint8) * 255
        (base / gt_path_of(relative)).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gt).save(base / gt_path_of(relative))
        masks[f"{entry.split('/')[1]}/{Path(entry).stem}"] = gt
    return masks


@pytest.mark.parametrize("nested", [True, False])
def test_dis5k_paper_list_default(tmp_path, nested):
    entries = read_sample_list(resource_path("datasets", "dis5k_sample_list.txt"))
    root = tmp_path / "data"
    base = root / "DIS5K" if nested else root
    masks = _dis_tree(base, entries)
    _dis_tree(base, ["DIS5K/DIS-TE1/im/extra not in list.jpg"])
    ds = open_dataset("dis5k", root)
    assert ds.split == "paper200" and len(ds) == 200
    expected_ids = [f"{e.split('/')[1]}/{Path(e).stem}" for e in entries]
    assert ds.ids == expected_ids
    spaced = next(i for i, e in enumerate(entries) if " " in e)
    sample = ds[spaced]
    np.testing.assert_array_equal(sample.mask, (masks[sample.id] > 0).astype(np.float32))
    assert set(np.unique(sample.mask)) <= {0.0, 1.0}
    assert len(open_dataset("dis5k", root, split="DIS-TE1")) == 16
    assert len(open_dataset("dis5k", root, split="test")) == 15 + 15 + 15 + 12 + 1


def test_dis5k_custom_list_and_missing_entries(tmp_path):
    entries = ["DIS5K/DIS-VD/im/1#A#b c#d_o.jpg", "DIS5K/DIS-TR/im/2#x#y.jpg"]
    root = tmp_path / "DIS5K"
    _dis_tree(root, entries)
    listing = tmp_path / "mine.txt"
    listing.write_text("\n".join(entries) + "\n\n")
    ds = open_dataset("dis5k", root, sample_list=listing)
    assert ds.ids == ["DIS-VD/1#A#b c#d_o", "DIS-TR/2#x#y"]
    assert ds.spec["options"]["sample_list"] == str(listing)
    listing.write_text("\n".join(entries + ["DIS5K/DIS-VD/im/gone.jpg"]))
    with pytest.raises(DatasetError, match=r"gone\.jpg"):
        open_dataset("dis5k", root, sample_list=listing)
    assert len(open_dataset("dis5k", root, sample_list=listing, on_error="skip")) == 2
    listing.write_text("DIS-VD/1.jpg\n")
    with pytest.raises(DatasetError, match="line 1"):
        open_dataset("dis5k", root, sample_list=listing)


def test_mask_datasets_are_registered_with_protocols():
    names = dataset_names()
    for name in ("am2k", "p3m10k", "dis5k", "ppm100"):
        assert name in names
        protocol = load_spec(name)
        assert protocol["name"] == name and protocol["task"] == "boundary_mask"
        from dpbench.datasets import get_dataset_class

        cls = get_dataset_class(name)
        declared = set(protocol["splits"])
        assert set(cls.splits) == declared, name
        assert protocol["default_split"] in declared
        assert "choices" in protocol
