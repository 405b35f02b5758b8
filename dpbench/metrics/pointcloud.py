"""Point-cloud metrics PC-CD, PC-F and PC-IoU (Depth Pro Table 4, "following Spencer et al. 2022").

Definitions (Spencer et al., TMLR 2022, public code ``jspenmar/monodepth_benchmark`` @ 692c4eb,
``src/core/metrics.py`` and ``src/core/evaluator.py``; details in ``docs/metrics.md``):

1. Pixel set M: ``valid`` AND finite g AND g > 0 AND min_depth < g < max_depth (strict, each bound
   optional). Only the GT decides; both clouds use the same M, so both have N = |M| points.
2. Back-projection with the GT-resolution intrinsics: pixel (u, v) = (column, row), integer,
   0-based, no +0.5 offset: X = (u − cx)/fx · d, Y = (v − cy)/fy · d, Z = d (d = z-depth, metres).
   d = p gives the predicted cloud P, d = g the GT cloud G.
3. Exact Euclidean nearest-neighbour distances (metres): a_i = min_j ‖P_i − G_j‖,
   b_j = min_i ‖G_j − P_i‖. No subsampling, voxelisation or outlier removal.
4. PC-CD = mean a² + mean b² (m², ``cd_squared=True``, the default) or mean a + mean b (m,
   ``cd_squared=False``, Spencer's printed definition). Lower is better.
5. Precision Pr = share of a_i < t, recall Re = share of b_j < t (strict, non-squared distance,
   t = ``threshold`` = 0.1 m). PC-F = 2·Pr·Re/(Pr + Re); PC-IoU = Pr·Re/(Pr + Re − Pr·Re)
   (= F/(2 − F); no voxel grid). Degenerate rule: Pr < 1e-3 and Re < 1e-3 → F = IoU = Pr.
   F and IoU are fractions in [0, 1] (Spencer prints ×100; Depth Pro prints fractions). Higher is
   better.

Defaults, and why (the evidence is in ``docs/metrics.md``, "Point clouds"):

- ``cd_squared=True``: with non-squared distances every point farther than t adds at least t, so
  CD ≥ t·(1 − F); 14 of the 43 Table 4 rows break that bound at t = 0.1 m (e.g. Sun-RGBD UniDepth
  CD 0.020, F-bound 0.071), while the squared bound t²·(1 − F) holds for all 43. The large Sintel
  values (32–76) also read naturally as m².
- ``align="median"``: s = median(g[M]) / median(p[M]), p ← s·p (Spencer's ``mono`` mode). Table 4
  pairs δ1 = 9.3 % with F = 0.172 (ETH3D DepthAnything); unaligned, such scale errors leave F at
  0.1 m near 0. The paper does not say it; ``align="none"`` gives the metric as is.
- ``clip=False``: Spencer clips the (scaled) prediction to [min_depth, max_depth]; Table 4 cannot
  tell whether Depth Pro did. ``clip=True`` reproduces Spencer (applied after the alignment).

Predictions: on pixels of M a NaN, −inf or non-positive prediction becomes
:data:`dpbench.metrics.depth.PRED_FLOOR` (1e-6 m) and +inf becomes ``PRED_CEIL`` (1e6 m), as in the
depth metrics: such pixels count as misses instead of poisoning the means. Arithmetic is float64
(Spencer: float32; differences are ~1e-6 m).

Empty M → every value NaN and ``n_points = 0`` (no warning). Non-finite intrinsics, non-positive
focal lengths, a non-positive threshold, an unknown ``align`` or ``min_depth >= max_depth`` →
``ValueError`` naming the argument (a principal point may be 0 or outside the image).

Speed: exact nearest neighbours with :mod:`dpbench.metrics.gridnn`, a search that follows the
depth map (both clouds lie on the same pixel rays): a quadtree of image tiles with oriented-box
bounds, a half-space bound for everything outside a pixel window, warm starts from the
neighbouring pixel's nearest point and packets of four queries; 6–12× faster than a KD-tree on
a Sintel frame (``benchmarks/bench_pointcloud.py``; measured times in ``docs/metrics.md``).
Without numba the same distances come from ``scipy.spatial.cKDTree`` (seconds for Sintel, minutes
for Booster).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from dpbench.metrics import gridnn
from dpbench.metrics._checks import check_bool_mask, check_real, check_same_shape, to_numpy
from dpbench.metrics.depth import PRED_CEIL, PRED_FLOOR

#: F-score / IoU distance threshold (metres); Spencer ``metrics.py:127`` ("10cm", after Örnek et al.).
PC_THRESHOLD = 0.1
#: Below this precision AND recall, F = IoU = precision (Spencer ``metrics.py:114``).
PC_DEGENERATE = 1e-3
#: The keys :func:`pointcloud_metrics` returns.
PC_KEYS = ("pc_cd", "pc_f", "pc_iou", "pc_precision", "pc_recall", "n_points")
#: Alignment modes of :func:`pointcloud_metrics`.
PC_ALIGN = ("none", "median")

# KD-tree build options: the unbalanced, non-compact tree builds about twice as fast and was also
# faster to query on depth-map clouds (measured on synthetic scenes, scipy 1.17).
_TREE_KW = {"leafsize": 32, "balanced_tree": False, "compact_nodes": False}


def _check_positive(value: Any, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a number, got {value!r}") from exc
    if not math.isfinite(out) or out <= 0:
        raise ValueError(f"{name}: must be finite and > 0, got {value!r}")
    return out


def _check_finite(value: Any, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a number, got {value!r}") from exc
    if not math.isfinite(out):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return out


def backproject(depth: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """N×3 float64 points (X, Y, Z) = ((u − cx)/fx·d, (v − cy)/fy·d, d) of pixels (v=rows, u=cols).

    ``depth`` holds the N z-depths (metres) of those pixels; integer pixel coordinates, no +0.5.
    """
    d = np.asarray(depth, dtype=np.float64)
    pts = np.empty((d.size, 3), dtype=np.float64)
    pts[:, 0] = (cols - cx) / fx * d
    pts[:, 1] = (rows - cy) / fy * d
    pts[:, 2] = d
    return pts


def nearest_distances(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance from every row of ``src`` (N×3) to its nearest row of ``dst`` (M×3).

    ``scipy.spatial.cKDTree`` on ``dst`` with ``eps=0`` (exact) and all CPU threads: for clouds of
    any shape (:func:`cloud_metrics`); depth maps go through :mod:`dpbench.metrics.gridnn`.
    """
    tree = cKDTree(dst, copy_data=False, **_TREE_KW)
    dist, _ = tree.query(src, k=1, workers=-1)
    return dist


def _f_iou(precision: float, recall: float) -> tuple[float, float]:
    if precision < PC_DEGENERATE and recall < PC_DEGENERATE:
        return precision, precision
    f = 2.0 * precision * recall / (precision + recall)
    iou = precision * recall / (precision + recall - precision * recall)
    return f, iou


def pointcloud_metrics(
    pred_depth: Any,
    gt_depth: Any,
    valid: Any,
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    *,
    threshold: float = PC_THRESHOLD,
    cd_squared: bool = True,
    align: str = "median",
    min_depth: float | None = None,
    max_depth: float | None = None,
    clip: bool = False,
) -> dict[str, float]:
    """PC-CD, PC-F, PC-IoU (Spencer et al. 2022) of one depth map; definitions in the module docstring.

    ``pred_depth``, ``gt_depth``: H×W z-depth maps in metres at the GT resolution (numpy or torch).
    ``valid``: H×W bool mask or None. ``fx, fy, cx, cy``: intrinsics at that resolution (pixels).
    Returns ``pc_cd`` (m² if ``cd_squared`` else m, ↓), ``pc_f``, ``pc_iou``, ``pc_precision``,
    ``pc_recall`` (fractions, ↑) and ``n_points`` (= |M|, the size of each cloud).
    Example: ``pred = gt`` gives CD 0 and F = IoU = 1.
    """
    fx = _check_positive(fx, "fx")
    fy = _check_positive(fy, "fy")
    cx = _check_finite(cx, "cx")  # a principal point may lie on or outside the image border
    cy = _check_finite(cy, "cy")
    threshold = _check_positive(threshold, "threshold")
    if align not in PC_ALIGN:
        raise ValueError(f"align: expected one of {PC_ALIGN}, got {align!r}")
    for name, bound in (("min_depth", min_depth), ("max_depth", max_depth)):
        if bound is not None and not math.isfinite(float(bound)):
            raise ValueError(f"{name}: must be finite or None, got {bound!r}")
    if min_depth is not None and max_depth is not None and min_depth >= max_depth:
        raise ValueError(f"min_depth ({min_depth}) must be smaller than max_depth ({max_depth})")

    pred = to_numpy(pred_depth, "pred_depth")
    gt = to_numpy(gt_depth, "gt_depth")
    check_real(pred, "pred_depth")
    check_real(gt, "gt_depth")
    check_same_shape(pred, gt, "pred_depth", "gt_depth")
    if gt.ndim != 2:
        raise ValueError(f"gt_depth: expected a 2-D H×W array, got shape {gt.shape}")
    gt = gt.astype(np.float64, copy=False)
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(gt) & (gt > 0)
        if min_depth is not None:
            keep &= gt > min_depth
        if max_depth is not None:
            keep &= gt < max_depth
    if valid is not None:
        keep &= check_bool_mask(valid, gt.shape, "valid")

    n = int(np.count_nonzero(keep))
    if n == 0:
        out = dict.fromkeys(PC_KEYS[:-1], math.nan)
        out["n_points"] = 0
        return out

    g = gt[keep]
    p = pred[keep].astype(np.float64)
    with np.errstate(invalid="ignore"):
        p[~(p > 0)] = PRED_FLOOR  # NaN, -inf, <= 0
    p[p == np.inf] = PRED_CEIL
    if align == "median":
        p *= np.median(g) / np.median(p)
    if clip and min_depth is not None:
        np.maximum(p, min_depth, out=p)
    if clip and max_depth is not None:
        np.minimum(p, max_depth, out=p)

    if gridnn.numba is None:  # the KD-tree gives the same distances, only slower
        rows, cols = np.nonzero(keep)
        cloud_p = backproject(p, rows, cols, fx, fy, cx, cy)
        cloud_g = backproject(g, rows, cols, fx, fy, cx, cy)
        return cloud_metrics(cloud_p, cloud_g, threshold=threshold, cd_squared=cd_squared)
    pred_map = np.zeros(gt.shape, dtype=np.float64)
    pred_map[keep] = p
    gt_map = np.where(keep, gt, 0.0)
    xr = (np.arange(gt.shape[1], dtype=np.float64) - cx) / fx
    yr = (np.arange(gt.shape[0], dtype=np.float64) - cy) / fy
    a = gridnn.DepthCloudIndex(gt_map, keep, xr, yr).nearest_masked(pred_map)
    b = gridnn.DepthCloudIndex(pred_map, keep, xr, yr).nearest_masked(gt_map)
    return _scores(a, b, threshold, cd_squared)


def cloud_metrics(
    cloud_pred: np.ndarray, cloud_gt: np.ndarray, *, threshold: float = PC_THRESHOLD,
    cd_squared: bool = True,
) -> dict[str, float]:
    """Steps 3–5 of the module docstring on two non-empty N×3 / M×3 point clouds (metres).

    Directional means run over each cloud's own points (N for a, M for b). Same keys as
    :func:`pointcloud_metrics`, with ``n_points`` = N (the predicted cloud's size).
    """
    threshold = _check_positive(threshold, "threshold")
    cloud_pred = np.asarray(cloud_pred, dtype=np.float64)
    cloud_gt = np.asarray(cloud_gt, dtype=np.float64)
    for name, cloud in (("cloud_pred", cloud_pred), ("cloud_gt", cloud_gt)):
        if cloud.ndim != 2 or cloud.shape[1] != 3 or cloud.shape[0] == 0:
            raise ValueError(f"{name}: expected a non-empty N×3 array, got shape {cloud.shape}")
    a = nearest_distances(cloud_pred, cloud_gt)  # predicted → GT (precision side)
    b = nearest_distances(cloud_gt, cloud_pred)  # GT → predicted (recall side)
    return _scores(a, b, threshold, cd_squared)


def _scores(a: np.ndarray, b: np.ndarray, threshold: float, cd_squared: bool) -> dict[str, float]:
    """Steps 4–5 from the nearest distances a (pred → GT) and b (GT → pred)."""
    if cd_squared:
        cd = float(np.mean(a * a) + np.mean(b * b))
    else:
        cd = float(np.mean(a) + np.mean(b))
    precision = float(np.count_nonzero(a < threshold)) / a.size
    recall = float(np.count_nonzero(b < threshold)) / b.size
    f, iou = _f_iou(precision, recall)
    return {
        "pc_cd": cd,
        "pc_f": f,
        "pc_iou": iou,
        "pc_precision": precision,
        "pc_recall": recall,
        "n_points": int(a.size),
    }

__all__ = ["PC_ALIGN", "PC_DEGENERATE", "PC_KEYS", "PC_THRESHOLD", "backproject",
           "cloud_metrics", "nearest_distances", "pointcloud_metrics"]
