"""The Table 7 layout and the Fig. 9-style curves of the report (dpbench.report.upperbound), from
real probe runs on the sample suite's Sintel part and from hand-made rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dpbench.report import build_report, render_report
from dpbench.report.figures import report_plots
from dpbench.report.upperbound import (
    paper_table7,
    perturbation_plots,
    perturbation_points,
    upperbound_markdown,
    upperbound_table,
    weighted_boundary_score,
)
from dpbench.runner import RunConfig, run

RUNS = [("probe:gt-resample", {"size": 1536}), ("probe:gt-resample", {"size": 2, "filter": "nearest"}),
        ("probe:gt-resample", {"size": 8}), ("probe:gt-shift", {"k": 1}), ("probe:gt-shift", {"k": 2}),
        ("probe:gt", {})]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from dpbench.sample import generate_sample_suite

    base = tmp_path_factory.mktemp("report_upperbound")
    root = generate_sample_suite(base / "sample", scale=0.5)
    stores = []
    for model, options in RUNS:
        config = RunConfig(model=model, suite="upperbound", datasets=["sintel"], data_root=root, limit=2,
                           out=base / "runs", progress=False, device="cpu", model_options=options)
        stores.append(run(config, say=lambda message: None).store)
    return build_report(stores)


def test_paper_table7_is_read_by_size():
    table = paper_table7()
    assert sorted(table) == [384, 518, 768, 1536]
    assert table[1536] == {"model": "Depth Pro", "log10": 0.019, "abs_rel": 0.004, "boundary_f1": 0.311}
    assert table[384]["boundary_f1"] == 0.044


def test_weighted_boundary_score_by_hand():
    rows = pd.DataFrame({
        "dataset": ["d", "d", "d"], "task": ["boundary_depth"] * 3, "status": ["ok", "ok", "error"],
        "boundary_precision_t0": [0.2, 0.4, np.nan], "boundary_precision_t1": [1.0, 0.0, np.nan],
        "boundary_recall_t0": [0.5, 0.5, np.nan], "boundary_recall_t1": [0.5, 0.5, np.nan],
    })
    agg = {"protocol": {"boundary_thresholds": [1.0, 3.0]}}
    # per-threshold means over the 2 scored rows: precision [0.3, 0.5]; weights 1/4, 3/4
    assert weighted_boundary_score(rows, agg, "d", "precision") == pytest.approx(0.3 / 4 + 0.5 * 3 / 4)
    assert weighted_boundary_score(rows, agg, "d", "recall") == pytest.approx(0.5)
    assert math.isnan(weighted_boundary_score(rows, agg, "other", "recall"))


def test_table7_layout(report):
    (section,) = report.sections
    table = upperbound_table(section)
    assert table.datasets == ["sintel"]
    assert [label for label, _, _ in table.rows] == ["1536×1536", "8×8", "2×2 (nearest)"]  # largest first
    by_size = {agg["model"]["size"]: agg for agg in section.aggregates
               if agg["model"]["name"] == "probe:gt-resample"}
    for _, size, results in table.rows:
        assert results["sintel"]["abs_rel"] == by_size[size]["results"]["sintel"]["abs_rel"]
    # a coarser grid loses more of the GT
    values = [results["sintel"] for _, _, results in table.rows]
    assert values[0]["abs_rel"] < values[1]["abs_rel"] < values[2]["abs_rel"]
    assert values[0]["boundary_f1"] > values[2]["boundary_f1"]
    lines = upperbound_markdown(section)
    text = "\n".join(lines)
    assert "| Output grid | sintel Log10 ↓ | sintel AbsRel ↓ | sintel F1 ↑ | paper unrealstereo4k Log10 ↓" in text
    row_1536 = next(line for line in lines if line.startswith("| 1536×1536 |"))
    f1 = by_size[1536]["results"]["sintel"]["boundary_f1"]
    assert row_1536.endswith(f"| {f1:.3f} | 0.019 | 0.004 | 0.311 | Depth Pro |")
    assert next(line for line in lines if line.startswith("| 8×8 |")).endswith("| - | - | - | - |")
    assert "Upper bound from the output resolution" in render_report(report, "markdown")
    html = render_report(report, "html", plots=[])
    assert "Upper bound from the output resolution" in html and "<td>1536×1536</td>" in html


def test_perturbation_points_and_plot(report):
    (section,) = report.sections
    points = perturbation_points(section, report.rows)
    assert set(points) == {"probe:gt-resample", "probe:gt-shift"}  # probe:gt has no strength
    shift = points["probe:gt-shift"]["sintel"]
    assert [strength for strength, _, _ in shift] == [1.0, 2.0]
    # a shift keeps the number of contour pairs in each direction away from the image edge, so
    # precision and recall stay close; both are far below the unshifted GT's 1
    for _, precision, recall in shift:
        assert 0.0 <= precision < 0.9 and 0.0 <= recall < 0.9
    agg = next(a for a in section.aggregates if a["model"]["name"] == "probe:gt-shift" and a["model"]["k"] == 1)
    rows = report.rows[agg["run_id"]]
    ok = rows[(rows["task"] == "boundary_depth") & (rows["status"] == "ok")]
    weights = np.asarray(agg["protocol"]["boundary_thresholds"], float)
    per_threshold = ok[[f"boundary_precision_t{i}" for i in range(len(weights))]].to_numpy(float).mean(axis=0)
    assert shift[0][1] == pytest.approx(float(per_threshold @ weights / weights.sum()))
    (plot,) = perturbation_plots(section, report.rows)
    assert plot.name == "upperbound_perturbation_curves" and plot.png.startswith(b"\x89PNG")
    names = [p.name for p in report_plots(report, qualitative=0)[0]]
    assert "upperbound_perturbation_curves" in names


def test_no_section_without_probe_runs(report):
    (section,) = report.sections
    only_gt = type(section)(**{**section.__dict__, "aggregates": [a for a in section.aggregates
                                                                  if a["model"]["name"] == "probe:gt"]})
    assert upperbound_table(only_gt) is None and upperbound_markdown(only_gt) == []
    assert perturbation_plots(only_gt, report.rows) == []
