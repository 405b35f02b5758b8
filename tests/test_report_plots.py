"""Figures: the qualitative grid (cached predictions + the dataset re-opened from the manifest),
the focal CDF values, the per-threshold boundary curves and the contour overlay."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from report_runs import (
    PROTOCOL,
    TEST_DATASET,
    THRESHOLDS,
    boundary_row,
    box_scene,
    dataset_entry,
    depth_row,
    focal_row,
    manifest,
    mask_row,
    register_test_dataset,
    standard_run,
    write_run,
)

import dpbench.report.plots as plots_module
import dpbench.report.qualitative as qualitative_module
from dpbench.report import build_report
from dpbench.report.figures import report_plots, write_plots
from dpbench.report.plots import _threshold_means, _thresholds, focal_errors
from dpbench.report.qualitative import INVERSE_DEPTH_CMAP, contour_pixels
from dpbench.store import RunStore


@pytest.fixture
def registered(monkeypatch):
    register_test_dataset(monkeypatch)


def _run_with_predictions(tmp_path, rng, *, root, save=True, run_id="q"):
    data = tmp_path / "data" / TEST_DATASET
    data.mkdir(parents=True, exist_ok=True)
    rows, predictions = [], {}
    for i in range(3):
        image, depth = box_scene(rng)
        np.savez(data / f"s{i}.npz", image=image, depth=depth)
        pred = depth * 1.1
        predictions[f"s{i}"] = pred
        rows.append(depth_row(TEST_DATASET, f"s{i}", pred, depth))
    entry = dataset_entry(TEST_DATASET, ["metric_depth"], root=root or data, num_samples=3)
    folder = write_run(tmp_path / "runs", manifest(run_id, datasets=[entry]), rows)
    if save:
        store = RunStore(folder)
        for sample_id, pred in predictions.items():
            store.write_prediction(TEST_DATASET, sample_id, pred, {"focal_px": 500.0, "output_kind": "metric_depth"})
        store.merge_predictions()
    return folder, data


def test_qualitative_grid_from_cached_predictions(tmp_path, registered):
    rng = np.random.default_rng(0)
    folder, _ = _run_with_predictions(tmp_path, rng, root=None)
    report = build_report([folder])
    plots, notes = report_plots(report, qualitative=2)
    grids = [p for p in plots if "qualitative" in p.name]
    assert notes == [f"qualitative samples of suite sample (first): {TEST_DATASET}/s0, {TEST_DATASET}/s1"]
    assert len(grids) == 1
    assert grids[0].png.startswith(b"\x89PNG") and "model-a" in grids[0].title
    written = write_plots(plots, tmp_path / "png")
    assert all(path.read_bytes() == next(p.png for p in plots if p.name == name) for name, path in written.items())


def test_qualitative_grid_finds_moved_data_under_data_root(tmp_path, registered):
    rng = np.random.default_rng(1)
    folder, data = _run_with_predictions(tmp_path, rng, root=tmp_path / "gone")
    report = build_report([folder])
    _, notes = report_plots(report, qualitative=1)
    assert any("cannot re-open" in note for note in notes)
    plots, notes = report_plots(report, qualitative=1, data_root=data.parent)
    assert notes == [f"qualitative samples of suite sample (first): {TEST_DATASET}/s0"]
    assert any("qualitative" in p.name for p in plots)


def test_qualitative_grid_is_skipped_with_a_note_without_predictions(tmp_path, registered):
    rng = np.random.default_rng(2)
    folder, _ = _run_with_predictions(tmp_path, rng, root=None, save=False)
    plots, notes = report_plots(build_report([folder]), qualitative=2)
    assert not any("qualitative" in p.name for p in plots)
    assert notes == ["model-a: predictions were not saved (run with --save-predictions to get the qualitative grid)"]


def test_contour_pixels_outline_the_box():
    depth = np.full((8, 10), 8.0)
    depth[2:5, 3:7] = 2.0
    edges = contour_pixels(depth, 1.15)
    expected = np.zeros_like(edges)
    box = np.zeros_like(edges)
    box[2:5, 3:7] = True
    # every pixel with a 4-neighbour on the other side of the box boundary
    for r in range(8):
        for c in range(10):
            for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                rr, cc = r + dr, c + dc
                if 0 <= rr < 8 and 0 <= cc < 10 and box[r, c] != box[rr, cc]:
                    expected[r, c] = True
    np.testing.assert_array_equal(edges, expected)


def test_focal_errors_and_threshold_means_from_rows():
    rows = pd.DataFrame([
        focal_row("f", "a", 110.0, 100.0), focal_row("f", "b", 50.0, 100.0),
        focal_row("f", "c", 1.0, 1.0, status="error"), focal_row("g", "d", 1.0, 2.0),
        boundary_row("d", "x", 0.5, ([0.1] * 10, [0.2] * 10, [0.3 + 0.01 * i for i in range(10)])),
        boundary_row("d", "y", 0.5, ([0.3] * 10, [0.4] * 10, [0.5] * 10)),
        boundary_row("d", "z", 0.5, status="error"),
    ])
    np.testing.assert_allclose(np.sort(focal_errors(rows, "f")), [0.1, 0.5])
    np.testing.assert_allclose(_threshold_means(rows, "boundary_depth", "d", "precision"), [0.2] * 10)
    np.testing.assert_allclose(_threshold_means(rows, "boundary_depth", "d", "f1"),
                               [(0.3 + 0.01 * i + 0.5) / 2 for i in range(10)])


def test_boundary_plots_use_the_protocol_thresholds(tmp_path):
    rows = [boundary_row("d", "x", 0.5)]
    folder = write_run(tmp_path, manifest("b", datasets=[dataset_entry("d", ["boundary_depth"])]), rows)
    report = build_report([folder])
    plots, _ = report_plots(report, qualitative=0)
    assert [p.name for p in plots] == ["sample_bars_boundary_f1", "sample_boundary_depth_thresholds"]
    np.testing.assert_array_equal(_thresholds(report.aggregates[0], 10), THRESHOLDS)
    np.testing.assert_array_equal(_thresholds(report.aggregates[0], 3), [0.0, 1.0, 2.0])  # no match: indices


@pytest.fixture
def captured(monkeypatch):
    """The matplotlib figures rendered by the plots and qualitative modules, in drawing order."""
    figures = []
    real = plots_module.figure_png

    def keep(figure):
        png = real(figure)
        figures.append((figure, png))
        return png

    monkeypatch.setattr(plots_module, "figure_png", keep)
    monkeypatch.setattr(qualitative_module, "figure_png", keep)
    return figures


def _pixel(png, axes, x, y):
    """RGB of the saved PNG where data point (x, y) of ``axes`` was drawn (display px = PNG px)."""
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png))
    px, py = axes.transData.transform((x, y))
    return pixels[int(round(pixels.shape[0] - py)), int(round(px)), :3]


def _inside(inner, outer) -> bool:
    return inner.x0 >= outer.x0 and inner.y0 >= outer.y0 and inner.x1 <= outer.x1 and inner.y1 <= outer.y1


def _figure_named(captured, text):
    return next((f, png) for f, png in captured if f._suptitle is not None
                and text in f._suptitle.get_text().replace("\n", " "))


def test_bars_carry_their_values_and_the_legend_stays_off_the_axes(tmp_path, captured):
    rng = np.random.default_rng(3)
    good = standard_run(tmp_path, "good", model="good", rng=rng, noise=0.01, depth_sets=("middlebury", "sintel"))
    off = standard_run(tmp_path, "off", model="off", rng=rng, scale=3.0, noise=0.01)  # δ1 = 0, no sintel
    report_plots(build_report([good, off]), qualitative=0)
    figure, png = _figure_named(captured, "δ1 per dataset")
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    labels = [t.get_text() for t in axes.texts]
    assert labels.count("100.0") == 2 and "0.0" in labels and "n/a" in labels  # zero drawn, missing said
    legend_box = figure.legends[0].get_window_extent(renderer)
    assert not legend_box.overlaps(axes.get_window_extent(renderer))
    assert _inside(legend_box, figure.bbox)
    assert _inside(figure._suptitle.get_window_extent(renderer), figure.bbox)
    first = axes.containers[0][0]  # run "good" on middlebury: a full bar in the first colour
    centre = (first.get_x() + first.get_width() / 2, first.get_height() / 2)
    np.testing.assert_allclose(_pixel(png, axes, *centre), first.get_facecolor()[:3], atol=0.02)


def test_a_long_title_in_a_narrow_figure_is_wrapped_not_clipped(tmp_path, captured):
    rows = [mask_row("am2k", f"m{i}", 0.5) for i in range(2)]
    folder = write_run(tmp_path, manifest("m", datasets=[dataset_entry("am2k", ["boundary_mask"])]), rows)
    report_plots(build_report([folder]), qualitative=0)
    figure, _ = _figure_named(captured, "recall against the threshold (mask GT)")
    title = figure._suptitle
    assert "\n" in title.get_text()
    assert _inside(title.get_window_extent(figure.canvas.get_renderer()), figure.bbox)


def test_identical_curves_stay_distinguishable(tmp_path, captured):
    rows = [boundary_row("d", "x", 0.5)]
    folders = [write_run(tmp_path, manifest(name, model=name, datasets=[dataset_entry("d", ["boundary_depth"])]), rows)
               for name in ("a", "b", "c")]
    report_plots(build_report(folders), qualitative=0)
    figure, _ = _figure_named(captured, "precision / recall / F1")
    lines = figure.axes[0].get_lines()
    assert len(lines) == 3
    np.testing.assert_array_equal(lines[0].get_ydata(), lines[1].get_ydata())  # the same curve ...
    assert len({line.get_linestyle() for line in lines}) == 3  # ... drawn three ways
    assert len({line.get_marker() for line in lines}) == 3
    widths = [line.get_linewidth() for line in lines]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]  # the first shows around the others
    renderer = figure.canvas.get_renderer()
    legend_box = figure.legends[0].get_window_extent(renderer)
    assert not any(legend_box.overlaps(a.get_window_extent(renderer)) for a in figure.axes)


def test_qualitative_grid_has_colour_bars_and_no_row_gaps(tmp_path, registered, captured):
    from matplotlib import colormaps

    rng = np.random.default_rng(4)
    folder, _ = _run_with_predictions(tmp_path, rng, root=None)
    report_plots(build_report([folder]), qualitative=3)
    figure, png = _figure_named(captured, "model-a: samples")
    bars = [a for a in figure.axes if a.get_ylabel() in ("1/m", "|p − g| / g")]
    assert len(bars) == 2 * 3  # a depth and an error colour bar per row
    renderer = figure.canvas.get_renderer()
    images = [a for a in figure.axes if a.get_subplotspec().colspan.start == 0]
    boxes = [a.get_window_extent(renderer) for a in images]
    for upper, lower in zip(boxes, boxes[1:], strict=False):
        assert upper.y0 - lower.y1 < 0.15 * upper.height  # rows sized to the images: a thin gap only
    gt_axes = next(a for a in figure.axes if a.get_title() == "GT inverse depth")
    box = np.asarray(colormaps[INVERSE_DEPTH_CMAP](1.0))[:3]  # the 2 m box: the nearest GT, top of the scale
    np.testing.assert_allclose(_pixel(png, gt_axes, 27, 20), box, atol=0.02)
    assert PROTOCOL["boundary_thresholds"]  # contours drawn at the protocol's thresholds (title)
    assert "t = 1.15" in figure._suptitle.get_text().replace("\n", " ")


def test_the_legend_of_a_narrow_chart_fits_the_figure(tmp_path, captured):
    rng = np.random.default_rng(5)
    folders = [standard_run(tmp_path, f"r{i}", model=f"a-rather-long-model-name-{i}", rng=rng) for i in range(4)]
    report_plots(build_report(folders), qualitative=0)
    figure, _ = _figure_named(captured, "δ25% per dataset")
    assert len(figure.axes[0].get_xticks()) == 1  # one dataset: the narrowest bar chart
    renderer = figure.canvas.get_renderer()
    assert len(figure.legends) == 1
    legend_box = figure.legends[0].get_window_extent(renderer)
    assert _inside(legend_box, figure.bbox) and not legend_box.overlaps(figure.axes[0].get_window_extent(renderer))
    assert len(figure.legends[0].get_texts()) == 4
