"""End to end through the real runner: run two probes on a small suite, report, gate with check."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import TEST_DATASET, box_scene, register_test_dataset

from dpbench.cli import cli
from dpbench.report import build_report, collect_runs, render_report
from dpbench.runner import RunConfig, run


@pytest.fixture
def two_probe_runs(tmp_path, monkeypatch):
    register_test_dataset(monkeypatch)
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(11)
    for i in range(3):
        image, depth = box_scene(rng)
        np.savez(data / f"s{i}.npz", image=image, depth=depth)
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps({"name": "itest", "datasets": [
        {"name": TEST_DATASET, "path": str(data), "split": None, "tasks": ["metric_depth", "boundary_depth"]}]}))
    runs = tmp_path / "runs"
    for model in ("probe:gt", "probe:gt-scale"):
        run(RunConfig(model=model, suite=str(suite), out=runs, run_id=model.replace(":", "-"), workers=0,
                      device="cpu", save_predictions=True, progress=False), say=lambda _: None)
    return runs


def test_probes_through_runner_report_and_check(two_probe_runs, tmp_path):
    runs = two_probe_runs
    report = build_report(collect_runs(runs_dir=runs))
    scores = {agg["model"]["name"]: agg["results"][TEST_DATASET] for agg in report.aggregates}
    assert scores["probe:gt"]["delta1"] == 1.0 and scores["probe:gt"]["abs_rel"] == 0.0
    assert scores["probe:gt-scale"]["delta1"] < 0.5  # the scale is off: δ1 collapses
    assert scores["probe:gt-scale"]["boundary_f1"] == pytest.approx(scores["probe:gt"]["boundary_f1"])
    assert all(agg["reference"] for agg in report.aggregates)
    # probes are references, ranked among themselves: gt first (δ1 100 %), gt-scale second
    assert report.sections[0].ranks == {"probe-gt": 1.0, "probe-gt-scale": 2.0}

    html = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", "--runs-dir", str(runs), "--format", "html",
                                      "--out", str(html), "--qualitative", "2"])
    assert result.exit_code == 0, result.output
    text = html.read_text()
    assert text.count("data:image/png;base64,") >= 5
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert notes == [f"note: qualitative samples of suite itest (first): {TEST_DATASET}/s0, {TEST_DATASET}/s1"]
    assert "samples (contours" in text  # the qualitative grids are there
    assert "predictions side by side" in text  # and the side-by-side figure of both runs

    baseline = tmp_path / "baseline.json"
    baseline.write_text(render_report(build_report([runs / "probe-gt"]), "json"))
    same = CliRunner().invoke(cli, ["check", str(runs / "probe-gt"), "--against", str(baseline)])
    assert same.exit_code == 0, same.output
    worse = CliRunner().invoke(cli, ["check", "probe-gt-scale", "--runs-dir", str(runs),
                                     "--against", str(baseline)])
    assert worse.exit_code == 1, worse.output
    assert "REGRESSED" in worse.output and "delta1" in worse.output
