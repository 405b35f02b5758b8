"""No valid ground truth is not a success (issue 10, item 2): tampered GT gives error rows."""

from __future__ import annotations

import numpy as np
import pytest

from dpbench.protocol import default_protocol
from dpbench.runner.scoring import score_sample
from dpbench.types import Prediction, Sample

H, W = 12, 16


def _rows(depth, valid=None, depth_range=(0.5, 10.0)):
    if valid is None and not np.isfinite(depth).all():
        valid = np.isfinite(depth)  # as the readers mark a NaN disparity
    sample = Sample("tampered_07", np.zeros((H, W, 3), np.uint8), depth=depth, valid=valid)
    prediction = Prediction(np.full((H, W), 2.0, np.float32), focal_px=100.0)
    protocol = default_protocol(alignment="none").for_dataset(depth_range)
    rows = score_sample("d", sample, 0, ["metric_depth", "boundary_depth"], prediction, protocol,
                        "metric_depth", focal_given=None, focal_mode_source="estimated", timings={})
    return {row["task"]: row for row in rows}


@pytest.mark.parametrize(("depth", "reason"), [
    (np.full((H, W), np.nan, np.float32), "no valid pixel"),  # all-NaN disparity → NaN depth
    (np.zeros((H, W), np.float32), "no valid pixel"),  # all-zero depth
])
def test_gt_without_valid_pixel_is_an_error_row(depth, reason):
    rows = _rows(depth)
    for task in ("metric_depth", "boundary_depth"):
        assert rows[task]["status"] == "error"
        assert "'tampered_07'" in rows[task]["error"] and reason in rows[task]["error"]
        assert "boundary_f1" not in rows[task] and "delta1" not in rows[task]


def test_gt_all_outside_the_depth_range_is_an_error_row():
    rows = _rows(np.full((H, W), 50.0, np.float32))  # valid, but beyond the 10 m maximum
    assert rows["metric_depth"]["status"] == "error"
    assert "inside the depth range [0.5, 10.0] m" in rows["metric_depth"]["error"]
    assert rows["boundary_depth"]["status"] == "ok"  # the boundary metric does not use the range


def test_an_empty_valid_mask_is_an_error_row():
    rows = _rows(np.full((H, W), 3.0, np.float32), valid=np.zeros((H, W), bool))
    assert rows["metric_depth"]["status"] == "error" and rows["boundary_depth"]["status"] == "error"


def test_one_valid_pixel_is_scored():
    depth = np.full((H, W), np.nan, np.float32)
    depth[3, 4] = 2.0
    rows = _rows(depth)
    assert rows["metric_depth"]["status"] == "ok" and rows["metric_depth"]["delta1"] == 1.0
