"""Dataset specs (datasets/<name>.toml): the one source of a dataset's facts, data-only datasets
declared by a spec file alone, the pinned protocol hashes and the pinned nuScenes val_881 draw."""

from __future__ import annotations

import hashlib
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _fake_trees import make_pinned_fixture
from PIL import Image

import dpbench.datasets as registry
from dpbench.datasets import (
    Dataset,
    dataset_names,
    find_dataset_root,
    get_dataset_class,
    load_spec,
    open_dataset,
    register_dataset,
)
from dpbench.datasets.exif_folder import ExifFolder
from dpbench.datasets.listing import dataset_row
from dpbench.datasets.nuscenes import SUBSET_ORDER, draw_subset
from dpbench.errors import DatasetError, UnknownNameError
from dpbench.io.exif import make_exif
from dpbench.protocol import FOCAL_MODES
from dpbench.resources import resource_dir

# -- pinned values -------------------------------------------------------------------------------
# Computed with the code before the spec rename (commit 020d1e9, Dataset.protocol / load_protocol)
# on tests/_fake_trees.make_pinned_fixture: protocol_hash() and the ids must not change.
PINNED = [  # (dataset, split, options, protocol_hash, ids)
    ("booster", None, {}, "f0e72ba5c9fd1679", ["Bathroom/im0", "Bathroom/im1", "Kitchen/im0"]),
    ("booster", None, {"mask": "none"}, "88c9e223230681b0", ["Bathroom/im0", "Bathroom/im1", "Kitchen/im0"]),
    ("am2k", None, {}, "41f381ab7f7c167c", ["validation/m_a", "validation/m_b"]),
    ("exif_folder", None, {}, "2d3ae12ca924e8e2", ["a/one.jpg", "b/two.jpg"]),
    ("exif_folder", None, {"sensor_widths": {"Other": 5.0}}, "196c2770f951101b", ["a/one.jpg", "b/two.jpg"]),
    ("nuscenes", None, {}, "3ed3800af55e047d", [
        "scene-0002/CAM_FRONT/sample-1-0", "scene-0002/CAM_FRONT/sample-1-1", "scene-0002/CAM_FRONT/sample-1-2",
        "scene-0002/CAM_FRONT/sample-1-3", "scene-0005/CAM_FRONT/sample-0-0", "scene-0005/CAM_FRONT/sample-0-1",
        "scene-0005/CAM_FRONT/sample-0-2", "scene-0009/CAM_FRONT/sample-2-0", "scene-0009/CAM_FRONT/sample-2-1"]),
    ("nuscenes", "val_881", {}, "f54acc6da4b4c649", [
        "scene-0002/CAM_FRONT/sample-1-0", "scene-0002/CAM_FRONT/sample-1-3", "scene-0005/CAM_FRONT/sample-0-1",
        "scene-0009/CAM_FRONT/sample-2-0"]),
    ("nuscenes", "val_881", {"cameras": ["CAM_FRONT", "CAM_BACK"]}, "c9556f351610a11e", [
        "scene-0002/CAM_BACK/sample-1-0", "scene-0002/CAM_BACK/sample-1-3", "scene-0005/CAM_BACK/sample-0-1",
        "scene-0005/CAM_FRONT/sample-0-2"]),
]


@pytest.fixture
def pinned(tmp_path, monkeypatch):
    roots = make_pinned_fixture(tmp_path)
    monkeypatch.setenv("DPBENCH_DATASETS_DIR", str(roots["datasets"]))
    return roots


def test_protocol_hash_and_ids_are_unchanged(pinned):
    for name, split, options, expected_hash, expected_ids in PINNED:
        ds = open_dataset(name, pinned[name], split, **options)
        assert (ds.protocol_hash(), ds.ids) == (expected_hash, expected_ids), (name, split, options)


def test_the_spec_is_the_datasets_toml_and_protocol_means_the_options_alone(pinned):
    ds = open_dataset("booster", pinned["booster"])
    assert ds.spec == {**load_spec("booster"), "options": {"fx_source": "proj_matL", "mask": "nonzero"}}
    assert not hasattr(ds, "protocol") and not hasattr(registry, "load_protocol")


def test_nuscenes_val_881_is_a_documented_own_draw(pinned):
    spec = load_spec("nuscenes")
    assert spec["subset_order"] == SUBSET_ORDER == "scene_timestamp"
    # The tokens of the pinned tree sort differently from (scene, timestamp): the pinned ids above
    # pin the order before the draw, not only the seed.
    ids = open_dataset("nuscenes", pinned["nuscenes"], "val").ids
    assert ids != sorted(ids, key=lambda i: i.rsplit("/", 1)[1])
    spec_file = pinned["datasets"] / "nuscenes.toml"
    spec_file.write_text(spec_file.read_text().replace('"scene_timestamp"', '"sample_token"'))
    with pytest.raises(DatasetError, match="subset_order = 'sample_token' is not implemented"):
        open_dataset("nuscenes", pinned["nuscenes"], "val_881")
    spec_file.write_text(spec_file.read_text().replace('subset_order = "sample_token"\n', ""))
    with pytest.raises(DatasetError, match="nuscenes.toml has no 'subset_order'"):
        open_dataset("nuscenes", pinned["nuscenes"], "val_881")


def test_the_shipped_val_881_draw_is_pinned():
    chosen = draw_subset(6019, 881, 42)
    assert chosen[:8] == [28, 29, 32, 36, 38, 40, 45, 53] and len(set(chosen)) == 881
    assert hashlib.sha256(",".join(map(str, chosen)).encode()).hexdigest()[:16] == "62e4093718408392"
    spec = load_spec("nuscenes")
    assert (spec["subset_size"], spec["subset_seed"], spec["subset_order"]) == (881, 42, "scene_timestamp")
    assert spec["splits"]["val_881"]["paper_subset"] is False
    assert "NOT" in spec["splits"]["val_881"]["description"]


def test_sunrgbd_records_the_focal_evidence():
    spec = load_spec("sunrgbd")
    assert spec["focal_mode_evidence"] in FOCAL_MODES and spec["focal_mode_evidence"] == "gt"
    assert "0.743" in spec["choices"]["depth_folder"]["reason"]


# -- one source per fact -------------------------------------------------------------------------

def _builtin_classes() -> dict[str, type[Dataset]]:
    dataset_names()
    return {name: cls for name, cls in registry._REGISTRY.items() if cls.__module__.startswith("dpbench.datasets")}


def test_adapter_classes_do_not_repeat_their_spec():
    classes = _builtin_classes()
    assert {"booster", "exif_folder", "am2k", "nuscenes"} <= set(classes)
    for name, cls in classes.items():
        for klass in cls.__mro__:
            if klass is not Dataset:
                assert not {"task", "layout", "splits"} & set(vars(klass)), (name, klass)
        spec = load_spec(name)
        assert spec["name"] == name
        assert (cls.task, cls.layout, cls.splits) == (spec["task"], spec["layout"], tuple(spec.get("splits", {})))


def test_the_focal_sets_are_data_only():
    package = Path(registry.__file__).parent
    for name in ("fivek", "dddp", "spaq", "ppr10k", "raise", "zoom"):
        cls = get_dataset_class(name)
        assert issubclass(cls, ExifFolder) and cls is not ExifFolder and cls.name == name
        assert load_spec(name)["adapter"] == "exif_folder" and name not in registry._REGISTRY
        assert not (package / f"{name}.py").exists()
    assert get_dataset_class("fivek").splits == ("expertC", "expertA", "expertB", "expertD", "expertE", "input")
    with pytest.raises(UnknownNameError) as info:
        get_dataset_class("fivk")
    assert info.value.suggestions[0] == "fivek"


# -- a new data-only dataset is one TOML file ----------------------------------------------------

POCKET = textwrap.dedent('''\
    # A made-up camera roll: the exif_folder adapter with this file's folders and sensor table.
    adapter = "exif_folder"
    name = "zz_pocket"
    task = "focal"
    version = 1
    default_split = "shots"
    folders = ["PocketRoll"]
    layout = "<root>/DCIM/**/*.jpg with EXIF focal lengths"
    suffixes = [".jpg"]

    [splits.shots]
    dirs = ["DCIM"]

    [sensor_width_mm]
    "Pocket 1" = 6.0
    ''')


@pytest.fixture
def spec_folder(tmp_path, monkeypatch):
    """A datasets folder of its own: the shipped spec files plus zz_pocket.toml."""
    folder = tmp_path / "datasets"
    folder.mkdir()
    for path in resource_dir("datasets").iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "zz_pocket.toml").write_text(POCKET)
    monkeypatch.setenv("DPBENCH_DATASETS_DIR", str(folder))
    return folder


def _pocket_tree(root: Path) -> None:
    for relative, exif in (("DCIM/100/b.jpg", make_exif(f35=28)), ("DCIM/100/a.jpg", make_exif(f_mm=5.0, model="Pocket 1")),
                           ("DCIM/101/c.jpg", make_exif()), ("other/d.jpg", make_exif(f35=50))):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(path, format="JPEG", exif=exif)


def test_a_data_only_dataset_is_one_toml_file(spec_folder, tmp_path):
    _pocket_tree(tmp_path / "data" / "PocketRoll")
    assert "zz_pocket" in dataset_names() and "fivek" in dataset_names()
    cls = get_dataset_class("zz_pocket")
    assert issubclass(cls, ExifFolder) and cls.name == "zz_pocket"
    assert (cls.task, cls.splits) == ("focal", ("shots",))
    root = find_dataset_root("zz_pocket", tmp_path / "data")
    assert root == tmp_path / "data" / "PocketRoll"
    ds = open_dataset("zz_pocket", root)
    assert ds.split == "shots" and ds.ids == ["DCIM/100/a.jpg", "DCIM/100/b.jpg"]
    assert ds.exclusion_summary() == {"no focal length in EXIF": 1}
    assert ds[0].focal_px == pytest.approx(5.0 * 30 / 6.0) and ds[1].focal_px == pytest.approx(28 * np.hypot(30, 20) / np.hypot(36, 24))
    assert open_dataset("zz_pocket", root, split="all").ids == ["DCIM/100/a.jpg", "DCIM/100/b.jpg", "other/d.jpg"]
    with pytest.raises(DatasetError, match="DCIM/\\*\\*/\\*.jpg with EXIF"):
        open_dataset("zz_pocket", tmp_path / "missing")
    row = dataset_row("zz_pocket", tmp_path / "data")
    assert (row["task"], row["found"], row["samples"]) == ("focal", True, 2)
    assert row["layout"] == "<root>/DCIM/**/*.jpg with EXIF focal lengths"
    with pytest.raises(UnknownNameError) as info:
        get_dataset_class("zz_pockt")
    assert "zz_pocket" in info.value.suggestions


def test_the_declarations_follow_the_datasets_folder(spec_folder, monkeypatch):
    assert "zz_pocket" in dataset_names()
    monkeypatch.delenv("DPBENCH_DATASETS_DIR")
    assert "zz_pocket" not in dataset_names()
    with pytest.raises(UnknownNameError):
        get_dataset_class("zz_pocket")


def test_unusable_declarations_say_why(spec_folder, tmp_path):
    (spec_folder / "zz_typo.toml").write_text('adapter = "exif_fodler"\ntask = "focal"\n')
    (spec_folder / "zz_named.toml").write_text('adapter = "exif_folder"\nname = "other"\ntask = "focal"\n')
    (spec_folder / "zz_broken.toml").write_text('adapter = "exif_folder\n')
    assert {"zz_typo", "zz_named"} <= set(dataset_names()) and "zz_broken" not in dataset_names()
    with pytest.raises(UnknownNameError) as info:
        get_dataset_class("zz_typo")
    assert "exif_folder" in info.value.suggestions and "datasets/zz_typo.toml" in str(info.value)
    with pytest.raises(DatasetError, match="differs from the file name"):
        get_dataset_class("zz_named")
    assert "cannot load" in dataset_row("zz_typo", None)["notes"]
    with pytest.raises(ValueError, match="declared by datasets/zz_pocket.toml"):
        @register_dataset("zz_pocket")
        class Clash(Dataset):
            pass


def test_a_class_names_itself_in_its_spec(tmp_path, monkeypatch):
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "zz_spec_named.toml").write_text('name = "something_else"\ntask = "metric_depth"\n')
    monkeypatch.setenv("DPBENCH_DATASETS_DIR", str(folder))

    @register_dataset("zz_spec_named")
    class Named(Dataset):
        def _index(self):
            return ["x"]

    with pytest.raises(DatasetError, match="says name = 'something_else'"):
        Named(tmp_path)


def test_a_plugin_class_may_declare_its_facts_itself():
    @register_dataset("zz_spec_plugin_facts")
    class Plugin(Dataset):
        task = "boundary_mask"
        layout = "<root>/x"
        splits = ("a",)

    assert (Plugin.task, Plugin.layout, Plugin.splits) == ("boundary_mask", "<root>/x", ("a",))


PLUGIN = textwrap.dedent('''
    from dpbench.datasets import Dataset

    class Flat(Dataset):
        task = "metric_depth"
        layout = "<root>/flat.txt"
''')


def test_an_entry_point_does_not_take_over_a_declared_name(tmp_path, monkeypatch):
    (tmp_path / "zz_spec_plugin.py").write_text(PLUGIN)
    info = tmp_path / "zz_spec_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zz-spec-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dpbench.datasets]\nfivek = zz_spec_plugin:Flat\n"
                                           "zz_spec_flat = zz_spec_plugin:Flat\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "zz_spec_plugin", raising=False)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_loaded", False)
    assert get_dataset_class("zz_spec_flat").__name__ == "Flat"
    assert issubclass(get_dataset_class("fivek"), ExifFolder)


def test_every_spec_domain_is_known_and_the_paper_rule_holds():
    from dpbench.datasets.base import DOMAINS, dataset_domain

    names = [p.stem for p in resource_dir("datasets").glob("*.toml") if p.stem != "suites"]
    assert all(dataset_domain(name) in DOMAINS for name in names)
    # Appendix C.5's indoor / outdoor examples.
    assert [dataset_domain(n) for n in ("sunrgbd", "ibims", "nyuv2", "hypersim")] == ["indoor"] * 4
    assert [dataset_domain(n) for n in ("nuscenes", "eth3d", "kitti")] == ["outdoor"] * 3
    assert dataset_domain("no_such_dataset") == "mixed"


def test_a_bad_domain_names_the_spec(monkeypatch):
    import dpbench.datasets.base as base

    monkeypatch.setattr(base, "load_spec", lambda name: {"domain": "underwater"})
    with pytest.raises(base.DatasetError, match="datasets/x.toml: domain must be one of"):
        base.dataset_domain("x")
