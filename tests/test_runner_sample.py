"""End to end: `dpbench run --suite sample` with the probes on the generated sample suite."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from dpbench.cli import cli
from dpbench.store import list_runs

PROBES = ["probe:gt", "probe:gt-blur", "probe:gt-scale", "probe:constant"]


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    from dpbench.sample import generate_sample_suite

    base = tmp_path_factory.mktemp("sample_e2e")
    generate_sample_suite(base / "data" / "sample", scale=0.5)  # small images: a fast test
    result = CliRunner().invoke(cli, ["run", "--suite", "sample", "--data-root", str(base / "data"),
                                      "--out", str(base / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    runs = {store.manifest["model"]["name"]: store for store in list_runs(base / "runs")}
    return result.output, runs


def _by_task(store):
    rows = store.rows()
    return {task: group for task, group in rows.groupby("task")}


def test_one_complete_run_per_probe(sample_runs):
    output, runs = sample_runs
    assert sorted(runs) == sorted(PROBES)
    assert output.count("(complete)") == 4 and "dpbench report" in output
    for store in runs.values():
        store.validate()
        manifest = store.manifest
        assert manifest["suite"] == "sample" and manifest["status"] == "complete"
        assert all(d["status"] == "complete" for d in manifest["datasets"])
        assert set(store.rows()["task"]) == {"metric_depth", "boundary_depth", "boundary_mask", "focal",
                                               "pointcloud"}
        assert (store.rows()["status"] == "ok").all()


def test_probe_gt_scores_perfectly_everywhere(sample_runs):
    tasks = _by_task(sample_runs[1]["probe:gt"])
    depth = tasks["metric_depth"]
    assert (depth["delta1"] == 1.0).all() and (depth["delta3"] == 1.0).all()
    assert np.allclose(depth[["abs_rel", "rmse", "log10", "silog"]], 0.0, atol=1e-6)
    assert (tasks["boundary_depth"]["boundary_f1"] == 1.0).all()
    assert (tasks["boundary_mask"]["boundary_recall"] == 1.0).all()
    assert np.allclose(tasks["focal"]["focal_rel_err"], 0.0)
    cloud = tasks["pointcloud"]
    assert set(cloud["dataset"]) == {"middlebury", "sintel", "booster", "sunrgbd"}
    assert np.allclose(cloud["pc_cd"], 0.0, atol=1e-9) and (cloud["pc_f"] == 1.0).all()


def test_probe_gt_scale_keeps_boundaries_and_loses_delta1(sample_runs):
    runs = sample_runs[1]
    gt, scaled = _by_task(runs["probe:gt"]), _by_task(runs["probe:gt-scale"])
    assert (scaled["metric_depth"]["delta1"] == 0.0).all()
    # scale invariant up to float32 round-off of the scaled depth (a ratio may cross a threshold)
    np.testing.assert_allclose(scaled["boundary_depth"]["boundary_f1"], gt["boundary_depth"]["boundary_f1"], atol=1e-3)
    np.testing.assert_allclose(scaled["boundary_mask"]["boundary_recall"], gt["boundary_mask"]["boundary_recall"],
                               atol=1e-3)
    assert (scaled["focal"]["focal_rel_err"] > 0.5).all()


def test_probe_gt_blur_keeps_delta1_and_loses_boundaries(sample_runs):
    blur = _by_task(sample_runs[1]["probe:gt-blur"])
    assert blur["metric_depth"]["delta1"].mean() > 0.8
    assert blur["boundary_depth"]["boundary_f1"].max() < 0.5
    constant = _by_task(sample_runs[1]["probe:constant"])
    assert (constant["boundary_depth"]["boundary_f1"] == 0.0).all()
