"""Aggregation of a run's rows: per-image mean vs pooled, errors, focal, missing datasets, summary."""

from __future__ import annotations

import math

import numpy as np
import pytest
from report_runs import (
    boundary_row,
    dataset_entry,
    depth_row,
    focal_row,
    manifest,
    mask_row,
    write_run,
)

from dpbench.errors import DpbenchError
from dpbench.report import aggregate_run, summarize_run


def _hand_made_run(tmp_path, kind="csv", aggregation="per_image"):
    # Image A: 4 pixels, one prediction off by ×1.7 (> 1.25² = 1.5625, < 1.25³ = 1.953125)
    # -> δ1 = δ2 = 3/4, δ3 = 1, AbsRel = 0.7 / 4 = 0.175.
    gt_a = np.ones((2, 2))
    pred_a = np.array([[1.0, 1.0], [1.0, 1.7]])
    # Image B: 2 pixels, perfect -> δ1 = 1, AbsRel = 0.
    gt_b = np.array([[2.0, 4.0]])
    pred_b = gt_b.copy()
    # Image C: no valid pixel -> every per-image metric NaN (left out of the per-image mean).
    gt_c = np.zeros((1, 3))
    rows = [
        depth_row("middlebury", "a", pred_a, gt_a),
        depth_row("middlebury", "b", pred_b, gt_b),
        depth_row("middlebury", "e", None, None, status="error", error="model returned NaN"),
        boundary_row("middlebury", "a", 0.2),
        boundary_row("middlebury", "b", 0.6),
        boundary_row("middlebury", "e", math.nan, status="error"),
        mask_row("am2k", "m0", 0.5),
        mask_row("am2k", "m1", 0.25),
        # focal errors 0.1, 0.5, 0.0 -> δ25 = 2/3, δ50 = 2/3 (0.5 is not < 0.5), AbsRel 0.2, median 0.1
        focal_row("exif_folder", "f0", 110.0, 100.0),
        focal_row("exif_folder", "f1", 300.0, 200.0),
        focal_row("exif_folder", "f2", 100.0, 100.0),
    ]
    with pytest.warns(RuntimeWarning):
        rows.append(depth_row("middlebury", "c", np.ones((1, 3)), gt_c))
    datasets = [dataset_entry("middlebury", ["metric_depth", "boundary_depth"], num_samples=4),
                dataset_entry("am2k", ["boundary_mask"], num_samples=2),
                dataset_entry("exif_folder", ["focal"], num_samples=3),
                dataset_entry("sintel", ["metric_depth"], status="missing", reason="not found under /data",
                              num_samples=0)]
    protocol = {"aggregation": aggregation, "focal_mode": "estimated"}
    return write_run(tmp_path, manifest("hand", datasets=datasets, protocol=protocol), rows, kind=kind)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_per_image_mean_by_hand(tmp_path, kind):
    agg = aggregate_run(_hand_made_run(tmp_path, kind))
    depth = agg["results"]["middlebury"]
    assert depth["delta1"] == pytest.approx((0.75 + 1.0) / 2)
    assert depth["abs_rel"] == pytest.approx((0.175 + 0.0) / 2)
    assert depth["delta2"] == pytest.approx((0.75 + 1.0) / 2)
    assert depth["delta3"] == pytest.approx(1.0)
    assert depth["boundary_f1"] == pytest.approx(0.4)
    assert depth["num_samples"] == 4 and depth["num_errors"] == 1
    assert agg["results"]["am2k"]["boundary_recall"] == pytest.approx(0.375)
    focal = agg["results"]["exif_folder"]
    assert focal["focal_delta_25"] == pytest.approx(2 / 3)
    assert focal["focal_delta_50"] == pytest.approx(2 / 3)
    assert focal["focal_abs_rel"] == pytest.approx(0.2)
    assert focal["focal_median_rel"] == pytest.approx(0.1)
    assert "sintel" not in agg["results"]
    assert agg["datasets"]["sintel"]["status"] == "missing"
    assert agg["protocol"]["aggregation"] == "per_image"
    assert agg["reference"] is False and agg["model"]["name"] == "model-a"


def test_pooled_aggregation_by_hand(tmp_path):
    run = _hand_made_run(tmp_path)
    pooled = aggregate_run(run, aggregation="pooled")  # image C's zero statistics add nothing
    depth = pooled["results"]["middlebury"]
    # 6 valid pixels pooled: 5 within 1.25 -> δ1 = 5/6; AbsRel = 0.7/6; RMSE = sqrt(0.49/6)
    assert depth["delta1"] == pytest.approx(5 / 6)
    assert depth["delta3"] == pytest.approx(1.0)
    assert depth["abs_rel"] == pytest.approx(0.7 / 6)
    assert depth["rmse"] == pytest.approx(math.sqrt(0.49 / 6))
    assert depth["boundary_f1"] == pytest.approx(0.4)  # boundary scores stay per-image means
    assert pooled["protocol"]["aggregation"] == "pooled"


def test_pooled_is_read_from_the_manifest_and_overridable(tmp_path):
    run = _hand_made_run(tmp_path, aggregation="pooled")
    assert aggregate_run(run)["results"]["middlebury"]["delta1"] == pytest.approx(5 / 6)
    assert aggregate_run(run, "per_image")["results"]["middlebury"]["delta1"] == pytest.approx(0.875)


def test_unknown_aggregation_is_refused(tmp_path):
    with pytest.raises(DpbenchError, match="aggregation"):
        aggregate_run(_hand_made_run(tmp_path), aggregation="median")


def test_pooled_without_stat_columns_is_a_clear_error(tmp_path):
    rows = [{"dataset": "d", "sample_id": "s", "task": "metric_depth", "status": "ok", "error": "",
             "delta1": 0.5}]
    run = write_run(tmp_path, manifest("nostats", datasets=[dataset_entry("d", ["metric_depth"])]), rows)
    assert aggregate_run(run)["results"]["d"]["delta1"] == 0.5
    with pytest.raises(DpbenchError, match="stat_"):
        aggregate_run(run, aggregation="pooled")


def test_all_rows_failed_gives_undefined_scores_not_a_crash(tmp_path):
    rows = [depth_row("d", "s0", None, None, status="error", error="x"),
            focal_row("f", "s0", 1.0, 1.0, status="error")]
    datasets = [dataset_entry("d", ["metric_depth"]), dataset_entry("f", ["focal"])]
    agg = aggregate_run(write_run(tmp_path, manifest("bad", datasets=datasets), rows))
    assert agg["results"]["d"]["delta1"] is None and agg["results"]["d"]["num_errors"] == 1
    assert agg["results"]["f"]["focal_delta_25"] is None


def test_summarize_run_lists_every_dataset(tmp_path):
    text = summarize_run(_hand_made_run(tmp_path))
    lines = text.splitlines()
    assert lines[0].startswith("run hand") and "model model-a" in lines[0]
    body = {line.split()[0]: line for line in lines[3:]}
    assert set(body) == {"middlebury", "am2k", "exif_folder", "sintel"}
    assert "87.5" in body["middlebury"] and "0.087" in body["middlebury"] and "0.400" in body["middlebury"]
    assert "66.7" in body["exif_folder"]
    assert "not found under /data" in body["sintel"]


def test_a_missing_focal_prediction_counts_as_a_failure(tmp_path):
    rows = [focal_row("f", "a", 110.0, 100.0), focal_row("f", "b", math.nan, 100.0)]
    agg = aggregate_run(write_run(tmp_path, manifest("nan", datasets=[dataset_entry("f", ["focal"])]), rows))
    scores = agg["results"]["f"]
    assert scores["focal_delta_25"] == 0.5 and scores["focal_delta_50"] == 0.5
    assert scores["focal_abs_rel"] is None  # infinite: undefined in JSON, printed "-"
