"""Depth metrics per GT-depth bin (Depth Pro Table 10)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dpbench.metrics.depth import DEPTH_METRIC_KEYS, depth_metrics
from dpbench.metrics.depth_bins import (
    TABLE10_EDGES,
    bin_labels,
    depth_bin_stats,
    metrics_by_bin,
)


def test_default_edges_are_table10():
    assert TABLE10_EDGES == (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, math.inf)
    assert bin_labels() == ["0–1 m", "1–2 m", "2–4 m", "4–8 m", "8–16 m", "> 16 m"]


def test_bins_equal_direct_per_bin_computation():
    rng = np.random.default_rng(3)
    gt = rng.uniform(0.2, 30.0, (40, 50))
    gt[rng.random(gt.shape) < 0.05] = 0.0
    gt[0, :5] = [1.0, 2.0, 4.0, 16.0, np.nan]  # boundary values go to the upper bin
    pred = gt * rng.uniform(0.7, 1.4, gt.shape)
    valid = rng.random(gt.shape) < 0.9
    stats = depth_bin_stats(pred, gt, valid)
    got = metrics_by_bin(stats)
    edges = TABLE10_EDGES
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        with np.errstate(invalid="ignore"):
            sel = valid & (gt >= lo) & (gt < hi)
        want = depth_metrics(pred, gt, sel)
        assert got[f"bin{k}_n_valid"] == want["n_valid"] > 0
        for key in DEPTH_METRIC_KEYS:
            assert got[f"bin{k}_{key}"] == pytest.approx(want[key], rel=1e-12)
    total = sum(stats[f"bin{k}_stat_count"] for k in range(6))
    assert total == depth_metrics(pred, gt, valid)["n_valid"]


def test_pooling_by_summing_stats():
    rng = np.random.default_rng(4)
    gts = [rng.uniform(0.5, 5.0, (10, 10)) for _ in range(2)]
    preds = [g * 1.1 for g in gts]
    edges = (0.0, 2.0, 10.0)
    s1, s2 = (depth_bin_stats(p, g, None, edges) for p, g in zip(preds, gts, strict=True))
    pooled = metrics_by_bin({k: s1[k] + s2[k] for k in s1}, edges)
    both = depth_metrics(np.concatenate(preds), np.concatenate(gts), np.concatenate(gts) < 2.0)
    assert pooled["bin0_abs_rel"] == pytest.approx(both["abs_rel"])
    assert pooled["bin0_n_valid"] == both["n_valid"]


def test_empty_bins_nan_without_warning():
    gt = np.full((5, 5), 3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = metrics_by_bin(depth_bin_stats(gt, gt))
    assert out["bin2_delta1"] == 1.0 and out["bin2_n_valid"] == 25
    for k in (0, 1, 3, 4, 5):
        assert out[f"bin{k}_n_valid"] == 0
        assert all(math.isnan(out[f"bin{k}_{m}"]) for m in DEPTH_METRIC_KEYS)


def test_min_max_depth_apply_within_bins():
    gt = np.array([[0.5, 1.5, 3.0, 20.0]])
    stats = depth_bin_stats(gt, gt, max_depth=10.0)
    assert [stats[f"bin{k}_stat_count"] for k in range(6)] == [1, 1, 1, 0, 0, 0]


@pytest.mark.parametrize("edges", [(1.0,), (0.0, 2.0, 1.0), (-1.0, 1.0), (0.0, float("nan"))])
def test_bad_edges(edges):
    gt = np.ones((2, 2))
    with pytest.raises(ValueError, match="edges"):
        depth_bin_stats(gt, gt, None, edges)


def test_missing_stat_key():
    with pytest.raises(ValueError, match="stats"):
        metrics_by_bin({"bin0_stat_count": 1.0}, (0.0, 1.0))
