"""Identity in reports (issue 10, items 4 and 5): paper rows matched through the model cards,
model options in labels, random weights kept apart, rescored runs named."""

from __future__ import annotations

import json

import numpy as np
from report_runs import boundary_row, dataset_entry, depth_row, manifest, write_run

from dpbench.report import build_report, render_report
from dpbench.report.identity import is_untrained, model_label, paper_identity
from dpbench.report.paper import paper_results
from dpbench.report.tables import ALIGNED, DIFF, RUN, UNTRAINED

DA2_RELATIVE = "hf:depth-anything/Depth-Anything-V2-Large-hf"
DA2_METRIC = "depth-anything-metric:v2"  # routed indoor/outdoor: the paper's Table 1 row


def _run(runs, run_id, model, output_kind, *, options=None, delta_scale=1.0, extra=None, suite="zeroshot"):
    man = manifest(run_id, model=model, suite=suite,
                   datasets=[dataset_entry("booster", ["metric_depth"], num_samples=1),
                             dataset_entry("sintel", ["boundary_depth"], num_samples=1)])
    man["model"]["output_kind"] = output_kind
    man["model_options"] = dict(options or {})
    man.update(extra or {})
    gt = np.full((4, 4), 2.0)
    pred = gt * delta_scale
    return write_run(runs, man, [depth_row("booster", "b0", pred, gt), boundary_row("sintel", "s0", 0.3)])


def _table(report, key):
    return next(t for t in report.sections[0].tables if t.key == key)


def test_identity_comes_from_the_model_cards():
    relative = {"model": {"name": DA2_RELATIVE, "output_kind": "relative_disparity"}}
    metric = {"model": {"name": DA2_METRIC, "output_kind": "metric_depth"}}
    assert paper_identity(relative) == ("depth_anything_v2", "relative")
    assert paper_identity(metric) == ("depth_anything_v2", "metric")
    zoe_n = {"model": {"name": "hf:Intel/zoedepth-nyu", "output_kind": "metric_depth"}}
    assert paper_identity(zoe_n) is None  # the paper evaluated ZoeD_NK only
    assert paper_identity({"model": {"name": "hf:Intel/zoedepth-nyu-kitti", "output_kind": "metric_depth"}})
    # a display name that merely looks like a paper method is no identity
    assert paper_identity({"model": {"name": "predictions:/x/depthpro", "output_kind": "metric_depth"}}) is None
    tiny = {"model": {"name": "depthpro", "output_kind": "metric_depth"},
            "model_options": {"config": "tiny", "pretrained": "false", "batch_size": 4}}
    assert paper_identity(tiny) is None and is_untrained(tiny)
    assert model_label(tiny) == "depthpro [config=tiny, pretrained=false]"  # batch_size: speed only
    paper = paper_results()["depth_anything_v2"]
    assert (paper.kind_of("delta1"), paper.kind_of("boundary_f1")) == ("metric", "relative")


def test_relative_and_metric_runs_of_one_family_meet_different_paper_rows(tmp_path):
    _run(tmp_path, "rel", DA2_RELATIVE, "relative_disparity")
    _run(tmp_path, "met", DA2_METRIC, "metric_depth")
    report = build_report([tmp_path / "rel", tmp_path / "met"], paper=True)
    table1 = _table(report, "table1")
    diffs1 = {row.run_id for row in table1.rows if row.kind == DIFF}
    assert diffs1 == {"met"}  # the relative run is not diffed against the paper's metric δ1 row
    table2 = _table(report, "table2")
    diffs2 = {row.run_id: row for row in table2.rows if row.kind == DIFF}
    assert set(diffs2) == {"rel"}  # ... and the metric run not against the relative boundary row
    sintel = next(i for i, c in enumerate(table2.columns) if c.dataset == "sintel")
    assert diffs2["rel"].cells[sintel].value == 0.3 - 0.228  # ours − the paper's printed 0.228


def test_model_options_label_and_random_weights_never_win(tmp_path):
    _run(tmp_path, "real", "depthpro", "metric_depth", delta_scale=1.5)  # δ1 0 on booster
    _run(tmp_path, "rand", "depthpro", "metric_depth", options={"config": "tiny", "pretrained": "false"})
    report = build_report([tmp_path / "real", tmp_path / "rand"], paper=True)
    table1 = _table(report, "table1")
    rows = {row.run_id: row for row in table1.rows if row.kind != DIFF}
    assert rows["rand"].label == "depthpro [config=tiny, pretrained=false] ⊘ random init"
    assert rows["rand"].kind == UNTRAINED and rows["rand"].cells[0].text == "100.0"
    assert not rows["rand"].cells[0].bold  # best value, yet never bolded with real checkpoints
    assert rows["rand"].cells[-1].text == "(1.0)"  # ranked only among random-initialised runs
    assert {row.run_id for row in table1.rows if row.kind == DIFF} == {"real"}
    latex = render_report(report, "latex")
    assert r"\textbf{100.0}" not in latex.split("tiny")[1].split(r"\\")[0]


def test_a_rescored_run_is_named_in_the_report(tmp_path):
    _run(tmp_path, "orig", "depthpro", "metric_depth")
    _run(tmp_path, "orig-rescored", "depthpro", "metric_depth", extra={"rescored_from": "orig"})
    report = build_report([tmp_path / "orig-rescored"])
    assert report.sections[0].labels["orig-rescored"] == "depthpro (rescored from orig)"
    assert "depthpro (rescored from orig)" in render_report(report, "markdown")


def test_paper_marks_an_entry_scored_on_a_subset(tmp_path):
    folder = _run(tmp_path, "few", "depthpro", "metric_depth")
    man = json.loads((folder / "manifest.json").read_text())
    man["datasets"][0]["expected_samples"] = 228  # Booster in the paper; the run selected 1
    (folder / "manifest.json").write_text(json.dumps(man))
    with_paper = build_report([folder], paper=True)
    row = next(r for r in _table(with_paper, "table1").rows if r.run_id == "few" and r.kind != DIFF)
    assert row.cells[0].text == "100.0‡"
    assert any("fewer samples than the paper's dataset" in note for note in _table(with_paper, "table1").notes)
    diff = next(r for r in _table(with_paper, "table1").rows if r.kind == DIFF)
    assert diff.cells[0].text.endswith("‡")
    assert r"$^\ddagger$" in render_report(with_paper, "latex")
    plain = build_report([folder])
    assert next(r for r in _table(plain, "table1").rows).cells[0].text == "100.0"  # no paper, no mark


def test_an_aligned_relative_run_is_never_ranked_beside_metric_models(tmp_path):
    _run(tmp_path, "met", DA2_METRIC, "metric_depth", delta_scale=1.5)  # δ1 0 on booster
    _run(tmp_path, "rel", DA2_RELATIVE, "relative_disparity")  # aligned to GT: δ1 100
    report = build_report([tmp_path / "met", tmp_path / "rel"])
    table1 = _table(report, "table1")
    rows = {row.run_id: row for row in table1.rows}
    assert rows["rel"].kind == ALIGNED and rows["rel"].label.endswith("(aligned to GT)")
    assert rows["rel"].cells[0].text == "100.0" and not rows["rel"].cells[0].bold
    assert rows["met"].cells[0].bold  # the only metric model is the best metric model
    assert (rows["met"].cells[-1].text, rows["rel"].cells[-1].text) == ("1.0", "(1.0)")
    assert [row.run_id for row in table1.rows] == ["met", "rel"]  # metric models first
    assert any("aligned to GT" in note for note in table1.notes)
    # Scale-invariant boundary metrics rank both together (the paper's Table 2 does).
    table2 = _table(report, "table2")
    assert {row.kind for row in table2.rows} == {RUN}
    assert "(aligned to GT)" not in render_report(report, "markdown").split("Table 2")[-1]


def test_a_local_clone_of_upstream_code_keeps_the_identity():
    run = {"model": {"name": "metric3d-v2:vit-giant2", "output_kind": "metric_depth"},
           "model_options": {"repo": "/clones/Metric3D"}}
    assert model_label(run) == "metric3d-v2:vit-giant2"
    assert paper_identity(run) == ("metric3d_v2", "metric")
    assert paper_identity({**run, "model_options": {"repo": "/x", "crop": "512x992"}}) is None


def test_a_predictions_folder_meets_a_paper_row_only_by_its_declared_card_name():
    spec = {"model": {"name": "predictions:/out/spec", "output_kind": "metric_depth", "declared_by": "spec"}}
    assert paper_identity(spec) == ("spec", "metric")
    assert paper_identity({"model": {**spec["model"], "declared_by": "SPEC camera calibration"}}) is None
    assert paper_identity({"model": {**spec["model"], "declared_by": None}}) is None
    named_like = {"model": {"name": "predictions:/out/depthpro", "output_kind": "metric_depth"}}
    assert paper_identity(named_like) is None
