"""Suites as data: the built-in suites, suite.json files, selection and name errors."""

from __future__ import annotations

import json

import pytest

from dpbench.errors import UnknownNameError
from dpbench.resources import load_toml, resource_path
from dpbench.suites import (
    SuiteError,
    default_protocol_options,
    get_suite,
    suite_from_json,
    suite_names,
)

DEPTH_METRICS = ["delta1", "delta2", "delta3", "abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog"]


def test_builtin_suite_names():
    assert suite_names() == ["zeroshot", "zeroshot-evidence", "boundary", "focal", "ibims", "upperbound", "sample", "all"]


def test_zeroshot_is_table1():
    suite = get_suite("zeroshot")
    assert suite.dataset_names == ["booster", "eth3d", "middlebury", "nuscenes", "sintel", "sunrgbd"]
    assert all(e.tasks == ("metric_depth", "pointcloud") for e in suite.entries)
    assert suite.tasks == ["metric_depth", "pointcloud"]
    assert suite.metrics == [*DEPTH_METRICS, "pc_cd", "pc_f", "pc_iou"]
    assert suite.protocol["alignment"] == "auto"
    assert suite.protocol["alignment_defaults"]["metric_depth"] == "none"


def test_boundary_and_focal_suites():
    boundary = get_suite("boundary")
    assert {e.dataset: e.tasks for e in boundary.entries} == {
        "sintel": ("boundary_depth",), "spring": ("boundary_depth",), "ibims": ("boundary_depth",),
        "am2k": ("boundary_mask",), "p3m10k": ("boundary_mask",), "dis5k": ("boundary_mask",)}
    assert boundary.metrics == ["boundary_f1", "boundary_recall"]
    focal = get_suite("focal")
    assert focal.dataset_names == ["fivek", "dddp", "spaq", "ppr10k", "raise", "zoom"]
    assert focal.metrics[:3] == ["focal_abs_rel", "focal_delta_25", "focal_delta_50"]


def test_all_merges_tasks_of_shared_datasets():
    suite = get_suite("all")
    names = suite.dataset_names
    assert len(names) == len(set(names)) == 6 + 6 + 6 - 1  # sintel is in zeroshot and boundary
    assert suite.entry("sintel").tasks == ("metric_depth", "boundary_depth", "pointcloud")
    assert suite.tasks == ["metric_depth", "boundary_depth", "boundary_mask", "focal", "pointcloud"]


def test_every_suite_dataset_is_registered():
    from dpbench.datasets import dataset_names

    registered = set(dataset_names())
    missing = [name for name in get_suite("all").dataset_names if name not in registered]
    assert missing == []


def test_protocol_defaults_come_from_the_toml():
    data = load_toml(resource_path("datasets", "suites.toml"))
    options = default_protocol_options()
    for key, value in data["protocol"].items():
        assert options[key] == value
    assert options["alignment_defaults"] == data["alignment_defaults"]


def test_unknown_suite_and_dataset_names_suggest():
    with pytest.raises(UnknownNameError, match="Did you mean 'zeroshot'") as info:
        get_suite("zeroshto")
    assert "Known: all, boundary, focal, ibims, sample, upperbound, zeroshot" in str(info.value)
    with pytest.raises(UnknownNameError, match="Did you mean 'middlebury'"):
        get_suite("zeroshot").select(["midlebury"])


def test_select_keeps_suite_order():
    suite = get_suite("zeroshot").select(["sintel", "booster", "sintel"])
    assert suite.dataset_names == ["booster", "sintel"]
    assert get_suite("zeroshot").select(None).dataset_names[0] == "booster"


def test_suite_json(tmp_path):
    (tmp_path / "a").mkdir()
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"datasets": [
        {"name": "middlebury", "path": "a", "split": "all", "tasks": ["boundary_depth", "metric_depth"]},
        {"name": "dis5k", "path": str(tmp_path / "abs"), "tasks": ["boundary_mask"]}],
        "protocol": {"focal_mode": "gt"}}))
    for ref in (path, tmp_path, str(tmp_path)):
        suite = get_suite(str(ref)) if isinstance(ref, str) else suite_from_json(ref)
        assert suite.source == "file" and suite.root == tmp_path
        assert suite.entries[0].path == tmp_path / "a" and suite.entries[0].split == "all"
        assert suite.entries[0].tasks == ("metric_depth", "boundary_depth")  # canonical order
        assert suite.entries[1].path == tmp_path / "abs" and suite.entries[1].split is None
        assert suite.protocol["focal_mode"] == "gt" and suite.protocol["resize"] == "bilinear_inverse_depth"


@pytest.mark.parametrize("content, message", [
    ("{", "unreadable suite file"),
    ("[]", "expected a JSON object"),
    ('{"datasets": []}', "non-empty list"),
    ('{"datasets": [{"path": "x", "tasks": ["focal"]}]}', "needs a 'name'"),
    ('{"datasets": [{"name": "x", "tasks": []}]}', "non-empty 'tasks'"),
    ('{"datasets": [{"name": "x", "tasks": ["depth"]}]}', "unknown task 'depth'"),
    ('{"datasets": [{"name": "x", "tasks": ["focal"]}, {"name": "x", "tasks": ["focal"]}]}', "listed twice"),
])
def test_bad_suite_json(tmp_path, content, message):
    path = tmp_path / "suite.json"
    path.write_text(content)
    with pytest.raises(SuiteError, match=message) as info:
        suite_from_json(path)
    assert str(path) in str(info.value)


def test_sample_suite_reads_its_suite_json(tmp_path):
    """The sample suite takes datasets, folders and tasks from <sample root>/suite.json (the
    generated data itself is exercised end to end in test_runner_sample.py)."""
    listed = [{"name": "middlebury", "path": "middlebury", "split": "all", "tasks": ["metric_depth", "boundary_depth"]},
              {"name": "am2k", "path": "am2k", "split": "all", "tasks": ["boundary_mask"]},
              {"name": "exif_folder", "path": "exif", "split": "all", "tasks": ["focal"]}]
    (tmp_path / "suite.json").write_text(json.dumps({"format": "dpbench-sample/1", "datasets": listed}))
    suite = get_suite("sample", sample_root=tmp_path, generate=False)
    assert suite.name == "sample" and suite.source == "sample"
    assert suite.dataset_names == ["middlebury", "am2k", "exif_folder"]
    assert suite.entry("exif_folder").path == tmp_path / "exif" and suite.entry("am2k").split == "all"
    assert suite.tasks == ["metric_depth", "boundary_depth", "boundary_mask", "focal"]
    assert suite.protocol["focal_mode"] == "estimated"
