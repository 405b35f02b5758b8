"""``--paper`` puts the paper's point-cloud (Table 4) and iBims-table numbers beside a run, in
dpbench's units: PC-F / PC-IoU fractions and PC-CD as printed; DDE % / 100, DBE px, PE m and °."""

from __future__ import annotations

import json

import numpy as np
import pytest
from report_runs import dataset_entry, depth_pair, depth_row, manifest, write_run

from dpbench.metrics.pointcloud import pointcloud_metrics
from dpbench.report import build_report, render_report
from dpbench.report.paper import paper_results
from dpbench.report.tables import DIFF, PAPER

# Depth Pro's printed values (Table 4 ETH3D: PC-CD, PC-F, PC-IoU; iBims table: DDE ε0/ε⁻/ε⁺ %,
# DBE acc/comp px, PE plane m, PE orientation °).
DEPTH_PRO_ETH3D_PC = {"pc_cd": 0.094, "pc_f": 0.487, "pc_iou": 0.398}
DEPTH_PRO_IBIMS_PRINTED = {"dde_0": 89.725, "dde_minus": 1.809, "dde_plus": 8.464, "dbe_acc": 1.680,
                           "dbe_comp": 10.138, "pe_plane": 0.095, "pe_orientation": 18.776}


def test_paper_point_cloud_and_ibims_values_in_dpbench_units():
    depth_pro = paper_results()["depth_pro"]
    assert {m: depth_pro.results["eth3d"][m] for m in DEPTH_PRO_ETH3D_PC} == pytest.approx(DEPTH_PRO_ETH3D_PC)
    assert depth_pro.results["sintel"]["pc_cd"] == pytest.approx(41.968)  # as printed (m²)
    assert depth_pro.kind_of("pc_f") == "metric"
    assert "pc_cd" not in depth_pro.results["booster"]  # Booster has no point-cloud columns
    ibims = depth_pro.results["ibims"]
    assert ibims["dde_0"] == pytest.approx(0.89725) and ibims["dde_minus"] == pytest.approx(0.01809)
    assert ibims["dde_plus"] == pytest.approx(0.08464)
    assert (ibims["dbe_acc"], ibims["dbe_comp"]) == pytest.approx((1.680, 10.138))
    assert (ibims["pe_plane"], ibims["pe_orientation"]) == pytest.approx((0.095, 18.776))
    marigold = paper_results()["marigold"]  # a method only in the iBims table
    assert "ibims" in marigold.results and marigold.kind_of("dde_0") == "any"


def _pointcloud_row(dataset, sample_id, pred, gt):
    h, w = gt.shape
    out = pointcloud_metrics(pred, gt, None, 50.0, 50.0, (w - 1) / 2, (h - 1) / 2)
    return {"dataset": dataset, "sample_id": sample_id, "task": "pointcloud", "status": "ok", "error": "",
            **{k: out[k] for k in ("pc_cd", "pc_f", "pc_iou", "pc_precision", "pc_recall")},
            "n_points": out["n_points"], "pc_principal": "image_centre"}


def test_report_paper_puts_table4_point_cloud_rows_beside_a_zeroshot_run(tmp_path):
    rng = np.random.default_rng(5)
    rows = []
    for i in range(2):
        pred, gt = depth_pair(rng, noise=0.05)
        rows += [depth_row("eth3d", f"s{i}", pred, gt), _pointcloud_row("eth3d", f"s{i}", pred, gt)]
    datasets = [dataset_entry("eth3d", ["metric_depth", "pointcloud"], num_samples=2)]
    write_run(tmp_path, manifest("dp", model="depthpro", suite="zeroshot", datasets=datasets), rows)
    report = build_report([tmp_path / "dp"], paper=True)
    table = next(t for t in report.sections[0].tables if t.key == "table4_pointcloud:eth3d")
    assert [c.header for c in table.columns] == ["PC-CD ↓", "PC-F ↑", "PC-IoU ↑"]
    paper_dp = next(row for row in table.rows if row.label == "Depth Pro (paper)")
    assert [c.value for c in paper_dp.cells] == pytest.approx([0.094, 0.487, 0.398])
    assert sum(row.kind == PAPER for row in table.rows) == 8  # every Table 4 ETH3D method
    ours = report.aggregates[0]["results"]["eth3d"]
    want = [np.mean([r[m] for r in rows if r["task"] == "pointcloud"]) for m in ("pc_cd", "pc_f", "pc_iou")]
    assert [ours[m] for m in ("pc_cd", "pc_f", "pc_iou")] == pytest.approx(want)
    diff = next(row for row in table.rows if row.kind == DIFF)
    assert diff.label == "Δ depthpro − Depth Pro (paper)"
    assert [c.value for c in diff.cells] == pytest.approx(list(np.subtract(want, [0.094, 0.487, 0.398])))

    markdown = render_report(report, "markdown")
    line = next(ln for ln in markdown.splitlines() if ln.startswith("| Depth Pro (paper)") and "0.487" in ln)
    assert "0.094" in line and "0.398" in line
    paper = json.loads(render_report(report, "json"))["paper"]
    shown = {r["metric"]: r["value"] for r in paper if r["model"] == "Depth Pro" and r["dataset"] == "eth3d"}
    assert {m: shown[m] for m in DEPTH_PRO_ETH3D_PC} == pytest.approx(DEPTH_PRO_ETH3D_PC)


def test_report_paper_puts_the_ibims_table_beside_an_ibims_run(tmp_path):
    rows = [{"dataset": "ibims", "sample_id": f"s{i}", "task": "ibims", "status": "ok", "error": "",
             "dde_0": 0.9, "dde_minus": 0.02 + 0.02 * i, "dde_plus": 0.08 - 0.02 * i, "dbe_acc": 1.5 + i,
             "dbe_comp": 10.0, "pe_plane_sum": 0.3, "pe_orientation_sum": 60.0, "pe_count": 3.0,
             "pe_plane": 0.1, "pe_orientation": 20.0, "dbe_variant": "v0.9"} for i in range(2)]
    datasets = [dataset_entry("ibims", ["ibims"], num_samples=2)]
    write_run(tmp_path, manifest("dp", model="depthpro", suite="ibims", datasets=datasets), rows)
    report = build_report([tmp_path / "dp"], paper=True)
    table = next(t for t in report.sections[0].tables if t.key == "ibims:ibims")
    assert sum(row.kind == PAPER for row in table.rows) == 10  # the table's ten methods
    paper_dp = next(row for row in table.rows if row.label == "Depth Pro (paper)")
    printed = DEPTH_PRO_IBIMS_PRINTED
    assert [c.value for c in paper_dp.cells] == pytest.approx(
        [printed["dde_0"] / 100, printed["dde_minus"] / 100, printed["dde_plus"] / 100,
         printed["dbe_acc"], printed["dbe_comp"], printed["pe_plane"], printed["pe_orientation"]])
    diff = next(row for row in table.rows if row.kind == DIFF)
    assert [c.value for c in diff.cells] == pytest.approx(
        [0.9 - 0.89725, 0.03 - 0.01809, 0.07 - 0.08464, 2.0 - 1.680, 10.0 - 10.138, 0.1 - 0.095, 20.0 - 18.776])

    markdown = render_report(report, "markdown")
    line = next(ln for ln in markdown.splitlines() if ln.startswith("| Depth Pro (paper)"))
    assert "89.7" in line and "18.776" in line
    paper = json.loads(render_report(report, "json"))["paper"]
    shown = {r["metric"]: r["value"] for r in paper if r["model"] == "Depth Pro"}
    assert shown == pytest.approx({m: v / 100 if m.startswith("dde") else v for m, v in printed.items()})
    assert {r["suite"] for r in paper} == {"ibims"} and {r["dataset"] for r in paper} == {"ibims"}


def test_ibims_numbers_are_not_shown_without_paper(tmp_path):
    rows = [{"dataset": "ibims", "sample_id": "s0", "task": "ibims", "status": "ok", "error": "",
             "dde_0": 0.9, "dde_minus": 0.05, "dde_plus": 0.05, "dbe_acc": 1.5, "dbe_comp": 10.0,
             "pe_plane_sum": 0.1, "pe_orientation_sum": 20.0, "pe_count": 1.0, "pe_plane": 0.1,
             "pe_orientation": 20.0, "dbe_variant": "v0.9"}]
    write_run(tmp_path, manifest("dp", model="depthpro", suite="ibims",
                                 datasets=[dataset_entry("ibims", ["ibims"], num_samples=1)]), rows)
    report = build_report([tmp_path / "dp"])
    assert all(row.kind != PAPER for s in report.sections for t in s.tables for row in t.rows)
    assert "paper" not in json.loads(render_report(report, "json"))
