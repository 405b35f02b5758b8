"""Focal-length datasets: the generic EXIF folder and the named sets, on fake trees with real EXIF."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, TiffImagePlugin

from dpbench.datasets import dataset_names, find_dataset_root, get_dataset_class, open_dataset
from dpbench.datasets.base import load_spec
from dpbench.errors import DatasetError
from dpbench.io.exif import make_exif

DIAG35 = math.sqrt(36.0**2 + 24.0**2)


def _save(path: Path, width: int, height: int, exif=None, seed: int = 0) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    kwargs = {"exif": exif} if exif is not None else {}
    if exif is not None and path.suffix.lower() in (".tif", ".tiff"):
        # Pillow's TIFF writer drops an Exif object's sub-IFD: pass the tags as a TIFF directory.
        info = TiffImagePlugin.ImageFileDirectory_v2()
        for tag, value in exif.items():
            if tag != 0x8769:
                info[tag] = value
        if exif.get_ifd(0x8769):
            info[0x8769] = dict(exif.get_ifd(0x8769))
        kwargs = {"tiffinfo": info}
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else None
    Image.fromarray(pixels).save(path, format=fmt, **kwargs)
    return pixels


def _diag(f35, w, h):
    return f35 * math.sqrt(w * w + h * h) / DIAG35


def _generic_tree(root: Path) -> None:
    _save(root / "a.jpg", 60, 40, make_exif(f35=27))
    _save(root / "sub" / "b.png", 30, 50, make_exif(f35=50, orientation=6))  # stored 30x50, shown 50x30
    _save(root / "c.jpg", 80, 60, make_exif(f_mm=4.0, make="Acme", model="Acme Cam 1"))
    _save(root / "d.jpg", 20, 20)
    _save(root / "e.JPG", 36, 24, make_exif(f35=35))
    _save(root / "._a.jpg", 10, 10, make_exif(f35=27))  # AppleDouble junk: ignored
    (root / "notes.txt").write_text("not an image")


def test_exif_folder_reads_focals_and_counts_exclusions(tmp_path):
    root = tmp_path / "photos"
    _generic_tree(root)
    ds = open_dataset("exif_folder", root)
    assert ds.task == "focal" and ds.split == "all"
    assert ds.ids == ["a.jpg", "e.JPG", "sub/b.png"]
    assert ds.exclusion_summary() == {
        "no focal length in EXIF": 1,
        "only FocalLength (mm) and no sensor width for 'Acme Cam 1'": 1,
    }
    assert sorted(item for item, _ in ds.excluded) == ["c.jpg", "d.jpg"]
    a, e, b = ds[0], ds[1], ds[2]
    assert a.focal_px == pytest.approx(27 * 60 / 36)  # 3:2 image: the diagonal rule is f35 * W / 36
    assert e.focal_px == pytest.approx(35.0)
    assert b.image.shape == (30, 50, 3)  # orientation 6 applied
    assert b.focal_px == pytest.approx(_diag(50, 50, 30))
    assert b.meta["orientation"] == 6 and b.meta["focal_source"] == "35mm"
    assert a.depth is None and a.mask is None


def test_exif_folder_uses_a_sensor_width_when_given(tmp_path):
    root = tmp_path / "photos"
    _generic_tree(root)
    ds = open_dataset("exif_folder", root, sensor_widths={"acme cam 1": 5.0})
    assert "c.jpg" in ds.ids and ds.exclusion_summary() == {"no focal length in EXIF": 1}
    sample = ds[ds.ids.index("c.jpg")]
    assert sample.focal_px == pytest.approx(4.0 * 80 / 5.0)
    assert sample.meta["focal_source"] == "mm+sensor_width"
    assert ds.spec["options"] == {"sensor_widths": {"acme cam 1": 5.0}}
    assert ds.protocol_hash() != open_dataset("exif_folder", root).protocol_hash()


def test_exif_folder_bad_image(tmp_path):
    root = tmp_path / "photos"
    _generic_tree(root)
    (root / "z.jpg").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=r"z\.jpg"):
        open_dataset("exif_folder", root)
    ds = open_dataset("exif_folder", root, on_error="skip")
    assert "z.jpg" not in ds.ids and any(item.endswith("z.jpg") for item, _ in ds.excluded)


def test_exif_folder_with_nothing_usable(tmp_path):
    _save(tmp_path / "x.jpg", 8, 8)
    _save(tmp_path / "y.jpg", 8, 8, make_exif(f_mm=3.0))
    with pytest.raises(DatasetError, match="none of the 2 images.*no focal length in EXIF"):
        open_dataset("exif_folder", tmp_path)


def test_exif_folder_focal_table_fills_missing_fields(tmp_path):
    root = tmp_path / "photos"
    _save(root / "p.png", 40, 30)  # no EXIF at all
    _save(root / "q.png", 40, 30, make_exif(model="Phone X"))  # model in EXIF, focal in table
    (tmp_path / "table.csv").write_text("file,focal_35mm,focal_mm\np.png,28,\nq.png,,4.2\n")
    ds = open_dataset("exif_folder", root, focal_table=tmp_path / "table.csv",
                      sensor_widths={"Phone X": 6.0})
    assert ds.ids == ["p.png", "q.png"]
    assert ds[0].focal_px == pytest.approx(_diag(28, 40, 30))
    assert ds[1].focal_px == pytest.approx(4.2 * 40 / 6.0)
    with pytest.raises(DatasetError, match="missing.csv"):
        open_dataset("exif_folder", root, focal_table=tmp_path / "missing.csv")


def test_unknown_split_of_generic_folder(tmp_path):
    _save(tmp_path / "a.jpg", 8, 8, make_exif(f35=30))
    with pytest.raises(DatasetError, match="unknown split"):
        open_dataset("exif_folder", tmp_path, split="test")


# -- named sets -----------------------------------------------------------------------------------


def test_fivek_rendition_folders(tmp_path):
    root = tmp_path / "FiveK"
    _save(root / "expertC" / "a0001-jmac_DSC1459.jpg", 48, 32, make_exif(f35=24, model="NIKON D70"))
    _save(root / "expertC" / "sub" / "a0002.jpg", 48, 32, make_exif(f35=85))
    _save(root / "expertA" / "a0001-jmac_DSC1459.jpg", 48, 32, make_exif(f35=24))
    ds = open_dataset("fivek", root)
    assert ds.split == "expertC"
    assert ds.ids == ["expertC/a0001-jmac_DSC1459.jpg", "expertC/sub/a0002.jpg"]
    assert ds[1].focal_px == pytest.approx(85 * 48 / 36)
    assert open_dataset("fivek", root, split="expertA").ids == ["expertA/a0001-jmac_DSC1459.jpg"]
    assert len(open_dataset("fivek", root, split="all")) == 3
    assert open_dataset("fivek", root, dirs=["expertA"]).ids == ["expertA/a0001-jmac_DSC1459.jpg"]
    with pytest.raises(DatasetError, match="split 'expertB' not found.*expertB"):
        open_dataset("fivek", root, split="expertB")
    with pytest.raises(DatasetError, match="unknown split"):
        open_dataset("fivek", root, split="expertZ")
    assert find_dataset_root("fivek", tmp_path) == root


def test_dddp_png_with_mm_only_uses_the_shipped_sensor_width(tmp_path):
    root = tmp_path / "dd_dp_dataset_canon"
    folder = root / "dd_dp_dataset_png" / "test_c" / "target"
    _save(folder / "1P0A1180.png", 42, 28, make_exif(f_mm=50.0, make="Canon", model="Canon EOS 5D Mark IV"))
    _save(root / "dd_dp_dataset_png" / "test_c" / "source" / "1P0A1180.png", 42, 28)
    ds = open_dataset("dddp", root)
    assert ds.ids == ["dd_dp_dataset_png/test_c/target/1P0A1180.png"]
    assert ds[0].focal_px == pytest.approx(50.0 * 42 / 36.0)
    assert find_dataset_root("dddp", tmp_path) == root


def test_dddp_sidecar_table_at_the_root(tmp_path):
    root = tmp_path / "DPDD"
    _save(root / "test_c" / "target" / "x.png", 36, 24)
    (root / "focal_lengths.csv").write_text("file,focal_35mm,focal_mm,make,model\nx.png,35,,,\n")
    assert open_dataset("dddp", root)[0].focal_px == pytest.approx(35.0)


def test_spaq_annotation_table(tmp_path):
    root = tmp_path / "SPAQ"
    _save(root / "TestImage" / "00001.jpg", 40, 30)
    _save(root / "TestImage" / "00002.jpg", 40, 30, make_exif(f35=26))
    (root / "Annotations").mkdir()
    (root / "Annotations" / "EXIF_tags.csv").write_text(
        "Image name,Brand,Focal length,ISO\n00001.jpg,Huawei,4.0,100\n00002.jpg,Huawei,5.0,100\n")
    ds = open_dataset("spaq", root, sensor_widths={"Huawei": 5.6})
    assert ds.ids == ["TestImage/00001.jpg", "TestImage/00002.jpg"]
    assert ds[0].focal_px == pytest.approx(4.0 * 40 / 5.6)
    assert ds[1].focal_px == pytest.approx(_diag(26, 40, 30))  # the file's own 35 mm tag wins
    excluded = open_dataset("spaq", root, on_error="raise")
    assert excluded.exclusion_summary() == {"only FocalLength (mm) and no sensor width for 'Huawei'": 1}
    (root / "Annotations" / "EXIF_tags.csv").write_text("name,Brand\n00001.jpg,Huawei\n")
    with pytest.raises(DatasetError, match="Image name"):
        open_dataset("spaq", root)


def test_raise_ppr10k_zoom_layouts(tmp_path):
    raise_root = tmp_path / "RAISE"
    _save(raise_root / "TIF" / "r000da54ft.tif", 30, 20, make_exif(f_mm=35.0, make="NIKON CORPORATION", model="NIKON D90"))
    (raise_root / "NEF").mkdir()
    (raise_root / "NEF" / "r000da54ft.NEF").write_bytes(b"raw")
    ds = open_dataset("raise", raise_root)
    assert ds.ids == ["TIF/r000da54ft.tif"]
    assert ds[0].focal_px == pytest.approx(35.0 * 30 / 23.6)

    ppr = tmp_path / "PPR10K"
    _save(ppr / "val" / "target_a" / "0_0.jpg", 24, 36, make_exif(f35=85))
    _save(ppr / "val" / "target_b" / "0_0.jpg", 24, 36, make_exif(f35=85))
    ds = open_dataset("ppr10k", ppr)
    assert ds.ids == ["val/target_a/0_0.jpg"] and ds[0].focal_px == pytest.approx(_diag(85, 24, 36))

    zoom = tmp_path / "SR-RAW"
    for step, f35 in enumerate([24, 35, 70], start=1):
        _save(zoom / "test" / "00134" / f"0000{step}.JPG", 30, 20, make_exif(f35=f35, model="ILCE-7RM2"))
    (zoom / "test" / "00134" / "00001.ARW").write_bytes(b"raw")
    ds = open_dataset("zoom", zoom)
    assert ds.ids == [f"test/00134/0000{k}.JPG" for k in (1, 2, 3)]
    assert [s.focal_px for s in ds] == pytest.approx([f * 30 / 36 for f in (24, 35, 70)])


def test_focal_datasets_are_registered_with_protocols():
    names = dataset_names()
    for name in ("exif_folder", "fivek", "dddp", "spaq", "ppr10k", "raise", "zoom"):
        assert name in names
        protocol = load_spec(name)
        assert protocol["name"] == name and protocol["task"] == "focal"
        cls = get_dataset_class(name)
        assert cls.task == "focal"
        assert set(cls.splits) == set(protocol.get("splits", {})), name
        assert protocol["default_split"] in (*cls.splits, "all")
        assert all(float(v) > 0 for v in protocol.get("sensor_width_mm", {}).values())
        assert "choices" in protocol


def test_heic_when_available(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    path = tmp_path / "x.heic"
    Image.fromarray(np.zeros((24, 36, 3), np.uint8)).save(path, exif=make_exif(f35=50))
    ds = open_dataset("exif_folder", tmp_path)
    assert ds.ids == ["x.heic"] and ds[0].focal_px == pytest.approx(50.0)
