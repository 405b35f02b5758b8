"""Figures: the qualitative grid (cached predictions + the dataset re-opened from the manifest),
the focal CDF values, the per-threshold boundary curves and the contour overlay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_runs import (
    TEST_DATASET,
    THRESHOLDS,
    boundary_row,
    box_scene,
    dataset_entry,
    depth_row,
    focal_row,
    manifest,
    register_test_dataset,
    write_run,
)

from dpbench.report import build_report
from dpbench.report.figures import report_plots, write_plots
from dpbench.report.plots import _threshold_means, _thresholds, focal_errors
from dpbench.report.qualitative import contour_pixels
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
    assert notes == [] and len(grids) == 1
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
    assert notes == [] and any("qualitative" in p.name for p in plots)


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
