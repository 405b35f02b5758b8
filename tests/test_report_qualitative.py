"""The side-by-side qualitative figure (pixel colours of the saved PNG at known positions, contour
overlays, missing predictions, aligned relative outputs) and the sample selection rules."""

from __future__ import annotations

import io
from html import escape

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from report_runs import (
    PROTOCOL,
    TEST_DATASET,
    box_scene,
    dataset_entry,
    depth_row,
    manifest,
    register_test_dataset,
    write_run,
)

import dpbench.report.side_by_side as side_by_side
from dpbench.cli import cli
from dpbench.report import build_report
from dpbench.report.figures import report_plots
from dpbench.report.html import render_html
from dpbench.report.qualitative import BOTH, INVERSE_DEPTH_CMAP
from dpbench.report.qualitative_select import (
    SelectionError,
    candidate_samples,
    metric_spreads,
    parse_rule,
    select_samples,
)
from dpbench.store import RunStore

SAMPLES = ("s0", "s1", "s2")


@pytest.fixture
def registered(monkeypatch):
    register_test_dataset(monkeypatch)


def _write_data(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "data" / TEST_DATASET
    data.mkdir(parents=True)
    for sample_id in SAMPLES:
        image, depth = box_scene(rng)
        np.savez(data / f"{sample_id}.npz", image=image, depth=depth)
    return data


def _run(tmp_path, data, model, make_prediction, *, saved=SAMPLES, output_kind="metric_depth",
         protocol=None, factors=None):
    """A run of ``model`` whose cached prediction of each sample is ``make_prediction(gt)`` (times
    ``factors[sample_id]`` when given)."""
    rows, predictions = [], {}
    for sample_id in SAMPLES:
        gt = np.load(data / f"{sample_id}.npz")["depth"]
        prediction = (make_prediction(gt) * (factors or {}).get(sample_id, 1.0)).astype(np.float32)
        predictions[sample_id] = prediction
        depth_like = prediction if output_kind == "metric_depth" and prediction.shape == gt.shape else gt
        rows.append(depth_row(TEST_DATASET, sample_id, depth_like, gt))
    man = manifest(model, model=model, protocol=protocol,
                   datasets=[dataset_entry(TEST_DATASET, ["metric_depth"], root=data, num_samples=3)])
    man["model"]["output_kind"] = output_kind
    folder = write_run(tmp_path / "runs", man, rows)
    store = RunStore(folder)
    for sample_id in saved:
        store.write_prediction(TEST_DATASET, sample_id, predictions[sample_id],
                               {"focal_px": 500.0, "output_kind": output_kind})
    store.merge_predictions()
    return folder


@pytest.fixture
def captured(monkeypatch):
    """The matplotlib figures the side-by-side module renders, by figure title."""
    figures = {}
    real = side_by_side.figure_png

    def keep(figure):
        figures[figure._suptitle.get_text()] = figure
        return real(figure)

    monkeypatch.setattr(side_by_side, "figure_png", keep)
    return figures


def _axes_at(figure, row, column):
    return next(a for a in figure.axes if a.get_subplotspec() is not None
                and a.get_subplotspec().rowspan.start == row and a.get_subplotspec().colspan.start == column)


def _pixel(png: bytes, figure, axes, x: float, y: float) -> np.ndarray:
    """The RGB colour of the saved PNG where data point (x, y) of ``axes`` was drawn."""
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png))
    px, py = axes.transData.transform((x, y))
    return pixels[int(round(pixels.shape[0] - py)), int(round(px)), :3]


def _turbo(value: float, low: float, high: float) -> np.ndarray:
    from matplotlib import colormaps

    return np.asarray(colormaps[INVERSE_DEPTH_CMAP]((value - low) / (high - low)))[:3]


def test_side_by_side_shares_the_gt_colour_scale_and_draws_contours(tmp_path, registered, captured):
    data = _write_data(tmp_path)
    exact = _run(tmp_path, data, "exact", lambda gt: gt)
    far = _run(tmp_path, data, "far", lambda gt: gt * 1.25, saved=("s0", "s2"))
    report = build_report([exact, far])
    plots, notes = report_plots(report, qualitative=2)
    plot = next(p for p in plots if p.name == "sample_side_by_side")
    figure = next(iter(captured.values()))
    heads = {a.get_title(): a for a in figure.axes if a.get_title()}
    assert {"image", "GT", "exact", "far"} <= set(heads)
    # box (rows 10-29, cols 15-39) at 2 m, wall at 8 m: the GT's 2nd/98th percentiles of 1/depth
    low, high = 0.125, 0.5
    for title in ("GT", "exact"):
        np.testing.assert_allclose(_pixel(plot.png, figure, heads[title], 27, 20), _turbo(0.5, low, high), atol=0.02)
        np.testing.assert_allclose(_pixel(plot.png, figure, heads[title], 5, 35), _turbo(0.125, low, high), atol=0.02)
    np.testing.assert_allclose(_pixel(plot.png, figure, heads["far"], 27, 20), _turbo(0.4, low, high), atol=0.02)
    # contour line under "exact": the box's top edge is a contour of GT and prediction (yellow)
    column = heads["exact"].get_subplotspec().colspan.start
    overlay = _axes_at(figure, 1, column)
    np.testing.assert_allclose(_pixel(plot.png, figure, overlay, 27, 10), BOTH, atol=0.02)
    # s1 has no cached prediction in "far": an empty panel and a note
    assert any(t.get_text() == "no saved\nprediction" for a in figure.axes for t in a.texts)
    assert "side-by-side figure: far has no saved prediction for report_test_depth/s1" in notes
    assert "qualitative samples of suite sample (first): report_test_depth/s0, report_test_depth/s1" in notes
    html = render_html(report, plots, notes)
    assert escape(plot.title) in html and html.count("<img") == len(plots)
    assert '<figure id="sample_side_by_side"><img' in html


def test_relative_outputs_are_aligned_and_marked(tmp_path, registered, captured):
    data = _write_data(tmp_path)
    exact = _run(tmp_path, data, "exact", lambda gt: gt)
    relative = _run(tmp_path, data, "relative", lambda gt: 3.0 / gt + 0.2, output_kind="relative_disparity",
                    protocol={**PROTOCOL, "alignment": "auto"})
    plots, _ = report_plots(build_report([exact, relative]), qualitative=1)
    plot = next(p for p in plots if p.name == "sample_side_by_side")
    figure = next(iter(captured.values()))
    heads = {a.get_title(): a for a in figure.axes if a.get_title()}
    aligned = next(a for title, a in heads.items() if title.startswith("relative"))
    assert "aligned:" in aligned.get_title().replace("\n", " ")
    assert "lstsq_scale_shift_disparity" in aligned.get_title().replace("\n", "")
    np.testing.assert_allclose(_pixel(plot.png, figure, aligned, 27, 20), _turbo(0.5, 0.125, 0.5), atol=0.02)


def test_side_by_side_needs_two_runs_with_predictions(tmp_path, registered):
    data = _write_data(tmp_path)
    exact = _run(tmp_path, data, "exact", lambda gt: gt)
    unsaved = _run(tmp_path, data, "unsaved", lambda gt: gt, saved=())
    plots, notes = report_plots(build_report([exact, unsaved]), qualitative=1)
    assert "sample_side_by_side" not in [p.name for p in plots]
    assert any("needs two runs with saved predictions (1 found" in note for note in notes)
    assert "sample_qualitative_exact" in [p.name for p in plots]


def _rows(values):
    """Rows of one run: {sample_id: delta1} (None: an error row)."""
    return pd.DataFrame([{"dataset": "d", "sample_id": s, "task": "metric_depth",
                          "status": "ok" if v is not None else "error", "delta1": v}
                         for s, v in values.items()])


def test_differ_picks_the_largest_spread_across_runs():
    runs = {"a": _rows({"x": 0.75, "y": 0.5, "z": 0.25, "w": 0.75}),
            "b": _rows({"x": 0.5, "y": 0.875, "z": None, "w": 0.25}),
            "c": _rows({"x": 0.625, "y": 0.625, "z": 0.5, "w": 0.75})}
    candidates = candidate_samples(runs, ["metric_depth"], ["d"])
    assert candidates == [("d", "x"), ("d", "y"), ("d", "z"), ("d", "w")]
    spreads = metric_spreads(runs, "delta1", candidates)
    assert spreads == {("d", "x"): 0.25, ("d", "y"): 0.375, ("d", "z"): 0.25, ("d", "w"): 0.5}
    chosen = select_samples("differ:delta1", 3, runs, candidates)  # x and z tie: row order
    assert [(c.sample_id, c.spread) for c in chosen] == [("w", 0.5), ("y", 0.375), ("x", 0.25)]


def test_first_and_random_rules():
    candidates = [("a", "1"), ("a", "2"), ("a", "3"), ("b", "1"), ("b", "2")]
    first = select_samples("first", 3, {}, candidates)
    assert [(c.dataset, c.sample_id) for c in first] == [("a", "1"), ("b", "1"), ("a", "2")]
    drawn = [(c.dataset, c.sample_id) for c in select_samples("random:7", 4, {}, candidates)]
    assert drawn == [(c.dataset, c.sample_id) for c in select_samples("random:7", 4, {}, candidates)]
    assert len(set(drawn)) == 4 and set(drawn) <= set(candidates)
    assert len({tuple(c.sample_id for c in select_samples(f"random:{seed}", 5, {}, candidates))
                for seed in range(8)}) > 1


@pytest.mark.parametrize("text", ["", "first:1", "random", "random:x", "differ:", "differ:delta", "best"])
def test_bad_rules_are_refused(text):
    with pytest.raises(SelectionError, match="--qualitative-select"):
        parse_rule(text)
    assert parse_rule("differ:abs_rel") == ("differ", "abs_rel")


def test_cli_refuses_a_bad_rule_in_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["report", "--runs-dir", str(tmp_path), "--qualitative-select", "differ:delta"])
    assert result.exit_code == 2
    assert "unknown metric 'delta'" in result.output and "Did you mean" in result.output


def test_a_damaged_prediction_file_costs_the_pictures_not_the_report(tmp_path, registered):
    data = _write_data(tmp_path)
    exact = _run(tmp_path, data, "exact", lambda gt: gt)
    damaged = _run(tmp_path, data, "damaged", lambda gt: gt)
    (damaged / "predictions.h5").write_bytes(b"not an HDF5 file")
    plots, notes = report_plots(build_report([exact, damaged]), qualitative=1)
    assert "sample_qualitative_exact" in [p.name for p in plots]
    assert any(note.startswith("damaged: ") and "predictions.h5" in note for note in notes)


def test_a_smaller_prediction_is_resampled_to_the_gt(tmp_path, registered, captured):
    data = _write_data(tmp_path)
    exact = _run(tmp_path, data, "exact", lambda gt: gt)
    half = _run(tmp_path, data, "half", lambda gt: gt[::2, ::2])  # 20×30 for a 40×60 GT
    plots, notes = report_plots(build_report([exact, half]), qualitative=1)
    plot = next(p for p in plots if p.name == "sample_side_by_side")
    assert not any("half" in note for note in notes)
    figure = next(iter(captured.values()))
    heads = {a.get_title(): a for a in figure.axes if a.get_title()}
    assert heads["half"].images[0].get_array().shape == (40, 60)
    np.testing.assert_allclose(_pixel(plot.png, figure, heads["half"], 27, 20), _turbo(0.5, 0.125, 0.5), atol=0.02)


def test_cli_draws_the_samples_where_the_runs_differ_most(tmp_path, registered):
    data = _write_data(tmp_path)
    exact = _run(tmp_path, data, "exact", lambda gt: gt)
    # δ1 of "off": 1 on s0 and s2 (ratio below 1.25), 0 on s1: the sample where the runs differ most
    off = _run(tmp_path, data, "off", lambda gt: gt, factors={"s0": 1.0, "s1": 1.5, "s2": 1.2})
    html = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", str(exact), str(off), "--format", "html", "--out", str(html),
                                      "--qualitative", "1", "--qualitative-select", "differ:delta1",
                                      "--plots", str(tmp_path / "png")])
    assert result.exit_code == 0, result.output
    assert f"note: qualitative samples of suite sample (differ:delta1): {TEST_DATASET}/s1 (δ1 spread 100.0 pp)" \
        in result.output
    assert (tmp_path / "png" / "sample_side_by_side.png").read_bytes().startswith(b"\x89PNG")
    assert "largest δ1 spread across the runs" in html.read_text()
