"""Point-cloud metrics (Spencer et al. 2022): closed forms, a brute-force reference, edge cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from dpbench.metrics.pointcloud import PC_KEYS, cloud_metrics, pointcloud_metrics


def slow_reference(pred, gt, valid, fx, fy, cx, cy, threshold=0.1, cd_squared=True, align="median",
                   min_depth=None, max_depth=None, clip=False):
    """Plain reading of the definitions: loops for the clouds, all-pairs distances."""
    h, w = gt.shape
    pts_g, gs, ps = [], [], []
    for v in range(h):
        for u in range(w):
            g = gt[v, u]
            ok = (valid is None or valid[v, u]) and np.isfinite(g) and g > 0
            ok = ok and (min_depth is None or g > min_depth) and (max_depth is None or g < max_depth)
            if ok:
                gs.append(g)
                ps.append(pred[v, u])
                pts_g.append((u, v))
    if not gs:
        return None
    gs, ps = np.array(gs), np.array(ps, dtype=np.float64)
    if align == "median":
        ps = ps * (np.median(gs) / np.median(ps))
    if clip:
        ps = np.clip(ps, min_depth, max_depth)
    uv = np.array(pts_g, dtype=np.float64)
    ray = np.stack([(uv[:, 0] - cx) / fx, (uv[:, 1] - cy) / fy, np.ones(len(uv))], 1)
    cg, cp = ray * gs[:, None], ray * ps[:, None]
    dist = cdist(cp, cg)
    a, b = dist.min(1), dist.min(0)
    cd = (a**2).mean() + (b**2).mean() if cd_squared else a.mean() + b.mean()
    pr, re = (a < threshold).mean(), (b < threshold).mean()
    if pr < 1e-3 and re < 1e-3:
        f = iou = pr
    else:
        f, iou = 2 * pr * re / (pr + re), pr * re / (pr + re - pr * re)
    return {"pc_cd": cd, "pc_f": f, "pc_iou": iou, "pc_precision": pr, "pc_recall": re,
            "n_points": len(gs)}


def _grid_plane(n, spacing, z):
    i, j = np.meshgrid(np.arange(n), np.arange(n))
    return np.stack([i.ravel() * spacing, j.ravel() * spacing, np.full(n * n, z)], 1).astype(float)


@pytest.mark.parametrize("delta", [0.03, 0.15, 0.3])
def test_parallel_planes_closed_form(delta):
    # Two translated copies of a 5 cm grid: every nearest neighbour is the partner at distance δ.
    gt = _grid_plane(12, 0.05 if delta < 0.05 else 1.0, 2.0)
    pred = gt + np.array([0.0, 0.0, delta])
    out = cloud_metrics(pred, gt, cd_squared=False)
    assert out["pc_cd"] == pytest.approx(2 * delta)
    out_sq = cloud_metrics(pred, gt, cd_squared=True)
    assert out_sq["pc_cd"] == pytest.approx(2 * delta**2)
    expected = 1.0 if delta < 0.1 else 0.0
    for key in ("pc_f", "pc_iou", "pc_precision", "pc_recall"):
        assert out[key] == expected


def test_threshold_is_strict_and_partial_scores():
    # 10 GT points on a line 1 m apart; 6 predictions exact, 4 shifted by 0.2 m off the line.
    gt = np.stack([np.arange(10.0), np.zeros(10), np.full(10, 3.0)], 1)
    pred = gt.copy()
    pred[6:, 1] += 0.2
    out = cloud_metrics(pred, gt, threshold=0.1, cd_squared=False)
    assert out["pc_precision"] == pytest.approx(0.6) and out["pc_recall"] == pytest.approx(0.6)
    assert out["pc_f"] == pytest.approx(0.6)
    assert out["pc_iou"] == pytest.approx(0.36 / (1.2 - 0.36))
    assert out["pc_iou"] == pytest.approx(out["pc_f"] / (2 - out["pc_f"]))
    assert out["pc_cd"] == pytest.approx(2 * 0.4 * 0.2)
    # a distance of exactly t does not count (strict <); 0.25 is exact in binary
    exact = cloud_metrics(gt + np.array([0, 0.25, 0]), gt, threshold=0.25)
    assert exact["pc_precision"] == 0.0 and exact["pc_f"] == 0.0


def test_degenerate_rule():
    gt = _grid_plane(40, 1.0, 0.0)  # 1600 points
    pred = gt + np.array([0, 0, 0.5])
    pred[0, 2] = 0.0  # one exact point: P = R = 1/1600 < 1e-3
    out = cloud_metrics(pred, gt)
    assert out["pc_precision"] == pytest.approx(1 / 1600)
    assert out["pc_f"] == out["pc_iou"] == out["pc_precision"]


def test_single_pixel_on_axis_through_depth_maps():
    gt = np.zeros((5, 7))
    gt[2, 3] = 4.0
    pred = np.full((5, 7), 4.05)
    out = pointcloud_metrics(pred, gt, None, 100.0, 100.0, 3.0, 2.0, align="none")
    assert out["n_points"] == 1
    assert out["pc_cd"] == pytest.approx(2 * 0.05**2)
    assert out["pc_f"] == 1.0
    off = pointcloud_metrics(pred, gt, None, 100.0, 100.0, 3.0, 2.0, align="none", cd_squared=False)
    assert off["pc_cd"] == pytest.approx(0.1)


def test_identical_and_median_alignment_cancels_scale():
    rng = np.random.default_rng(1)
    gt = rng.uniform(1, 5, (20, 30))
    same = pointcloud_metrics(gt, gt, None, 40.0, 40.0, 15.0, 10.0)
    assert same["pc_cd"] == 0.0 and same["pc_f"] == 1.0 and same["pc_iou"] == 1.0
    scaled = pointcloud_metrics(3.7 * gt, gt, None, 40.0, 40.0, 15.0, 10.0, align="median")
    assert scaled["pc_cd"] == pytest.approx(0.0, abs=1e-20) and scaled["pc_f"] == 1.0
    unaligned = pointcloud_metrics(3.7 * gt, gt, None, 40.0, 40.0, 15.0, 10.0, align="none")
    assert unaligned["pc_cd"] > 1.0 and unaligned["pc_f"] < 0.5


@pytest.mark.parametrize("seed", range(6))
def test_fast_equals_brute_force_on_random_scenes(seed):
    rng = np.random.default_rng(seed)
    h, w = 18, 25
    gt = rng.uniform(0.5, 8.0, (h, w))
    gt[rng.random((h, w)) < 0.1] = 0.0  # holes
    gt[0, 0] = np.nan
    gt[1, 1] = 50.0  # out of range for max_depth=10
    pred = gt * rng.uniform(0.8, 2.0) * (1 + 0.05 * rng.standard_normal((h, w)))
    pred[rng.random((h, w)) < 0.03] = 40.0  # far outliers
    pred = np.where(np.isfinite(pred), pred, 1.0)
    valid = rng.random((h, w)) < 0.9
    fx, fy, cx, cy = 30.0, 32.0, 12.3, 8.9
    for kw in (dict(align="none"), dict(align="median"), dict(align="median", cd_squared=False),
               dict(align="median", min_depth=0.7, max_depth=10.0, clip=True),
               dict(align="none", threshold=0.5, min_depth=1.0)):
        fast = pointcloud_metrics(pred, gt, valid, fx, fy, cx, cy, **kw)
        slow = slow_reference(pred, gt, valid, fx, fy, cx, cy, **kw)
        assert fast["n_points"] == slow["n_points"]
        for key in PC_KEYS[:-1]:
            assert fast[key] == pytest.approx(slow[key], rel=1e-9, abs=1e-12), (key, kw)


def test_bad_predictions_are_replaced_not_propagated():
    gt = np.full((4, 4), 2.0)
    pred = gt.copy()
    pred[0, 0], pred[0, 1], pred[0, 2] = np.nan, -1.0, np.inf
    out = pointcloud_metrics(pred, gt, None, 10.0, 10.0, 2.0, 2.0, align="none")
    assert all(math.isfinite(out[k]) for k in PC_KEYS)
    assert out["pc_precision"] == pytest.approx(13 / 16)


def test_empty_mask_gives_nan_without_warning():
    gt = np.zeros((6, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = pointcloud_metrics(gt, gt, None, 5.0, 5.0, 3.0, 3.0)
        out2 = pointcloud_metrics(np.ones((6, 6)), np.ones((6, 6)), np.zeros((6, 6), bool),
                                  5.0, 5.0, 3.0, 3.0)
    for res in (out, out2):
        assert res["n_points"] == 0
        assert all(math.isnan(res[k]) for k in PC_KEYS[:-1])
    assert set(out) == set(PC_KEYS)


def test_strict_depth_range():
    gt = np.array([[1.0, 2.0, 3.0]])
    out = pointcloud_metrics(gt, gt, None, 1.0, 1.0, 1.0, 1.0, min_depth=1.0, max_depth=3.0)
    assert out["n_points"] == 1


@pytest.mark.parametrize(("name", "bad"), [(n, b) for n in ("fx", "fy") for b in (0.0, -2.0, math.nan, math.inf)]
                         + [(n, b) for n in ("cx", "cy") for b in (math.nan, math.inf)])
def test_bad_intrinsics_raise_naming_the_argument(name, bad):
    kw = dict(fx=10.0, fy=10.0, cx=2.0, cy=2.0)
    kw[name] = bad
    gt = np.ones((4, 4))
    with pytest.raises(ValueError, match=rf"^{name}:"):
        pointcloud_metrics(gt, gt, None, **kw)


def test_principal_point_on_the_border_is_allowed():
    # pixel (0, 0) with cx = cy = 0 lies on the axis: G = (0, 0, 2), P = (0, 0, 2.5)
    out = pointcloud_metrics(np.array([[2.5]]), np.array([[2.0]]), None, 1.0, 1.0, 0.0, 0.0, align="none")
    assert out["pc_cd"] == 2 * 0.25


def test_other_argument_errors():
    gt = np.ones((4, 4))
    args = (gt, gt, None, 10.0, 10.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="align"):
        pointcloud_metrics(*args, align="mean")
    with pytest.raises(ValueError, match="threshold"):
        pointcloud_metrics(*args, threshold=0.0)
    with pytest.raises(ValueError, match="min_depth"):
        pointcloud_metrics(*args, min_depth=5.0, max_depth=1.0)
    with pytest.raises(ValueError, match="valid"):
        pointcloud_metrics(gt, gt, np.ones((4, 4)), 10.0, 10.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="shape"):
        pointcloud_metrics(np.ones((3, 4)), gt, None, 10.0, 10.0, 2.0, 2.0)
