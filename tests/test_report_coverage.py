"""Coverage: a failed sample never improves a score (issue 10, item 1), through the real runner."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import TEST_DATASET, box_scene, register_test_dataset

from dpbench.check import compare_aggregates
from dpbench.cli import cli
from dpbench.errors import DpbenchError
from dpbench.report import build_report, render_report
from dpbench.runner import RunConfig, run


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """Two predictions runs on four samples: ``nan`` = GT on s0-s2 and NaN on s3 (error row);
    ``half`` = GT with the right half of every image at 2× depth (δ1 = 0.5 on every sample)."""
    register_test_dataset(monkeypatch)
    data, nan_dir, half_dir = tmp_path / "data", tmp_path / "pred_nan", tmp_path / "pred_half"
    for folder in (data, nan_dir, half_dir):
        folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(4):
        image, depth = box_scene(rng)
        np.savez(data / f"s{i}.npz", image=image, depth=depth)
        np.save(nan_dir / f"s{i}.npy", np.full_like(depth, np.nan) if i == 3 else depth)
        half = depth.copy()
        half[:, 30:] *= 2.0
        np.save(half_dir / f"s{i}.npy", half)
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps({"name": "cov", "datasets": [
        {"name": TEST_DATASET, "path": str(data), "split": None, "tasks": ["metric_depth"]}]}))
    out = tmp_path / "runs"
    for run_id, folder in (("nan", nan_dir), ("half", half_dir)):
        run(RunConfig(model=f"predictions:{folder}", suite=str(suite), out=out, run_id=run_id, workers=0,
                      device="cpu", progress=False), say=lambda _: None)
    return out


def _by_run(report):
    return {agg["run_id"]: agg for agg in report.aggregates}


def test_a_failed_sample_is_flagged_not_bolded_not_ranked(runs):
    report = build_report([runs / "nan", runs / "half"])
    scores = _by_run(report)
    nan = scores["nan"]["results"][TEST_DATASET]
    assert (nan["num_scored"], nan["num_expected"], nan["coverage"]) == (3, 4, 0.75)
    assert nan["delta1"] == 1.0  # the three scored samples are perfect ...
    assert scores["half"]["results"][TEST_DATASET]["delta1"] == pytest.approx(0.5)
    table = report.sections[0].tables[0]
    cells = {row.run_id: row.cells[0] for row in table.rows}
    assert cells["nan"].text == "100.0*" and cells["nan"].flagged and not cells["nan"].bold
    assert cells["half"].text == "50.0" and cells["half"].bold  # ... yet the complete run is best
    assert report.sections[0].ranks == {"nan": None, "half": 1.0}
    markdown = render_report(report, "markdown")
    assert "| 100.0\\* |" in markdown and "below full coverage" in markdown
    assert "| 3/4 |" in markdown  # the runs table shows scored / expected
    assert "100.0*" in render_report(report, "latex") and "100.0*" in render_report(report, "html")
    records = [r for r in csv.DictReader(render_report(report, "csv").splitlines())
               if r["run_id"] == "nan" and r["metric"] == "coverage"]
    assert [r["value"] for r in records] == ["0.75"]
    document = json.loads(render_report(report, "json"))
    assert document["runs"][0]["results"][TEST_DATASET]["coverage"] == 0.75


def test_failures_worst_scores_the_failed_sample_at_zero_and_ranks_it(runs):
    report = build_report([runs / "nan", runs / "half"], failures="worst")
    scores = _by_run(report)
    nan = scores["nan"]["results"][TEST_DATASET]
    assert nan["delta1"] == pytest.approx(0.75)  # (1 + 1 + 1 + 0) / 4: 75 % of the GT score
    # abs_rel: the failed sample at the worst per-image value among the runs: half's |2g − g| / g = 1
    # on half the pixels = 0.5 on every image, so (0 + 0 + 0 + 0.5) / 4
    assert scores["half"]["results"][TEST_DATASET]["abs_rel"] == pytest.approx(0.5)
    assert nan["abs_rel"] == pytest.approx(0.125)
    assert nan["coverage"] == 0.75  # still flagged
    assert report.sections[0].ranks == {"nan": 1.0, "half": 2.0}
    cell = next(row.cells[0] for row in report.sections[0].tables[0].rows if row.run_id == "nan")
    assert cell.text == "75.0*" and cell.bold


def test_failures_worst_refuses_pooled(runs):
    with pytest.raises(DpbenchError, match="per_image"):
        build_report([runs / "nan"], failures="worst", aggregation="pooled")


def test_check_treats_lost_coverage_as_a_regression(runs, tmp_path):
    baseline = json.loads(render_report(build_report([runs / "half"]), "json"))["runs"][0]
    nan = build_report([runs / "nan"]).aggregates[0]
    nan["protocol"] = baseline["protocol"]
    result = compare_aggregates(nan, baseline, {(None, "*"): 1.0})  # every metric tolerance huge
    lost = [c for c in result.comparisons if c.metric == "coverage"]
    assert [(c.baseline, c.run, c.verdict) for c in lost] == [(1.0, 0.75, "REGRESSED")]
    assert result.exit_code == 1
    old = {**baseline, "results": {TEST_DATASET: {k: v for k, v in baseline["results"][TEST_DATASET].items()
                                                  if k not in ("coverage", "num_scored", "num_expected")}}}
    derived = [c for c in compare_aggregates(nan, old, {(None, "*"): 1.0}).comparisons if c.metric == "coverage"]
    assert derived[0].baseline == 1.0 and derived[0].verdict == "REGRESSED"  # from num_samples / num_errors


def test_cli_failures_option(runs):
    result = CliRunner().invoke(cli, ["report", str(runs / "nan"), str(runs / "half"), "--failures", "worst"])
    assert result.exit_code == 0, result.output
    assert "| **75.0\\*** |" in result.output
