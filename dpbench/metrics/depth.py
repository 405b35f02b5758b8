"""Per-pixel depth metrics (δ1–δ3, AbsRel, SqRel, RMSE, RMSE-log, log10, SI-Log) and their pooling.

One source of truth: :func:`depth_metric_stats` reduces an image to ADDITIVE sufficient
statistics (sums and a count) and :func:`metrics_from_stats` turns any sum of such dicts into the
metrics. ``depth_metrics(...)`` is exactly ``metrics_from_stats(depth_metric_stats(...))``, so a
per-image mean (the default reading of the paper) and a dataset-pooled value (sum the stats of
all images first) come from the same code.

Conventions (p = prediction, g = ground truth, metres; means over valid pixels):

- valid pixels: ``valid`` (if given) AND finite g AND g > 0 AND min_depth <= g <= max_depth
  (bounds inclusive, each optional). The prediction never removes a pixel;
- a prediction that is NaN, -inf or <= 0 on a valid pixel is replaced by :data:`PRED_FLOOR`
  (1e-6 m), +inf by :data:`PRED_CEIL` (1e6 m): it then counts as a δ failure and a large error
  instead of being silently dropped or turning every mean into NaN/inf. The number of replaced
  pixels is kept in the ``count_pred_replaced`` statistic. Predictions are not clipped to
  [min_depth, max_depth] here (that is a protocol choice of the caller);
- δ_k = share of pixels with max(p/g, g/p) < 1.25^k (strict), a fraction in [0, 1];
- abs_rel = mean |p − g| / g; sq_rel = mean (p − g)² / g (Eigen et al. 2014; note that
  ``jspenmar/monodepth_benchmark`` divides by g² instead); rmse = sqrt(mean (p − g)²);
- rmse_log = sqrt(mean d²) and silog = 100 · sqrt(mean d² − (mean d)²) with d = ln p − ln g
  (λ = 1, ×100: the square root of the variance of the log error, scale-invariant);
  log10 = mean |log10 p − log10 g|.

No valid pixel → every metric is NaN and a ``RuntimeWarning`` is issued (never an exception).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from dpbench.metrics._checks import check_bool_mask, check_real, check_same_shape, to_numpy

#: The metric keys returned by :func:`depth_metrics`, in report order.
DEPTH_METRIC_KEYS = ("delta1", "delta2", "delta3", "abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog")
#: δ thresholds: 1.25, 1.25², 1.25³ (Ladicky et al. 2014).
DELTA_BASE = 1.25
#: Substitute for a NaN, -inf or non-positive predicted depth on a valid pixel (metres).
PRED_FLOOR = 1e-6
#: Substitute for a +inf predicted depth on a valid pixel (metres).
PRED_CEIL = 1e6
#: The keys of :func:`depth_metric_stats`; every value is additive over pixels and images.
STAT_KEYS = (
    "count",
    "count_delta1",
    "count_delta2",
    "count_delta3",
    "sum_abs_rel",
    "sum_sq_rel",
    "sum_sq_err",
    "sum_log_err",
    "sum_sq_log_err",
    "sum_abs_log10_err",
    "count_pred_replaced",
)


def _valid_pixels(pred: Any, gt: Any, valid: Any, min_depth: float | None, max_depth: float | None):
    pred = to_numpy(pred, "pred")
    gt = to_numpy(gt, "gt")
    check_real(pred, "pred")
    check_real(gt, "gt")
    check_same_shape(pred, gt, "pred", "gt")
    if min_depth is not None and max_depth is not None and min_depth > max_depth:
        raise ValueError(f"min_depth ({min_depth}) is larger than max_depth ({max_depth})")
    gt = gt.astype(np.float64, copy=False)
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(gt) & (gt > 0)
        if min_depth is not None:
            keep &= gt >= min_depth
        if max_depth is not None:
            keep &= gt <= max_depth
    if valid is not None:
        keep &= check_bool_mask(valid, gt.shape, "valid")
    return pred[keep].astype(np.float64), gt[keep]


def depth_metric_stats(
    pred: Any,
    gt: Any,
    valid: Any = None,
    min_depth: float | None = None,
    max_depth: float | None = None,
) -> dict[str, float]:
    """Additive sufficient statistics of one image (keys :data:`STAT_KEYS`, plain floats).

    Sum the dicts of several images key by key (:func:`sum_stats`) and pass the result to
    :func:`metrics_from_stats` to get dataset-pooled metrics. Arguments as in :func:`depth_metrics`.
    """
    p, g = _valid_pixels(pred, gt, valid, min_depth, max_depth)
    bad_low = ~(p > 0)  # NaN, -inf and non-positive values
    bad_high = p == np.inf
    replaced = int(np.count_nonzero(bad_low) + np.count_nonzero(bad_high))
    if replaced:
        p[bad_low] = PRED_FLOOR
        p[bad_high] = PRED_CEIL
    ratio = np.maximum(p / g, g / p)
    err = p - g
    sq_err = err * err
    log_err = np.log(p) - np.log(g)
    return {
        "count": float(p.size),
        "count_delta1": float(np.count_nonzero(ratio < DELTA_BASE)),
        "count_delta2": float(np.count_nonzero(ratio < DELTA_BASE**2)),
        "count_delta3": float(np.count_nonzero(ratio < DELTA_BASE**3)),
        "sum_abs_rel": float(np.sum(np.abs(err) / g)),
        "sum_sq_rel": float(np.sum(sq_err / g)),
        "sum_sq_err": float(np.sum(sq_err)),
        "sum_log_err": float(np.sum(log_err)),
        "sum_sq_log_err": float(np.sum(log_err * log_err)),
        # |log10 p − log10 g| = |ln p − ln g| / ln 10
        "sum_abs_log10_err": float(np.sum(np.abs(log_err)) / math.log(10)),
        "count_pred_replaced": float(replaced),
    }


def sum_stats(stats: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Key-wise sum of several :func:`depth_metric_stats` dicts (the pooled statistics)."""
    total = dict.fromkeys(STAT_KEYS, 0.0)
    for item in stats:
        missing = set(STAT_KEYS) - set(item)
        if missing:
            raise ValueError(f"stats: missing key(s) {sorted(missing)}; expected {STAT_KEYS}")
        for key in STAT_KEYS:
            total[key] += float(item[key])
    return total


def metrics_from_stats(stats: Mapping[str, float]) -> dict[str, float]:
    """The depth metrics (keys :data:`DEPTH_METRIC_KEYS` + ``n_valid``) from summed statistics.

    Definitions in the module docstring. ``count == 0`` gives NaN metrics, ``n_valid = 0`` and a
    ``RuntimeWarning``.
    """
    missing = set(STAT_KEYS) - set(stats)
    if missing:
        raise ValueError(f"stats: missing key(s) {sorted(missing)}; expected {STAT_KEYS}")
    n = float(stats["count"])
    if n <= 0:
        warnings.warn("depth metrics: no valid pixel; every metric is NaN", RuntimeWarning, stacklevel=2)
        out = dict.fromkeys(DEPTH_METRIC_KEYS, math.nan)
        out["n_valid"] = 0
        return out
    out = {key: float(value) for key, value in metric_arrays_from_stats(stats).items()}
    out["n_valid"] = int(n)
    return out


def metric_arrays_from_stats(stats: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """:func:`metrics_from_stats` on arrays of summed statistics (one value per bootstrap
    resample, say), without warnings: NaN where ``count`` is 0; keys :data:`DEPTH_METRIC_KEYS`."""
    n = np.asarray(stats["count"], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(n > 0, n, np.nan)
        mean_log = stats["sum_log_err"] / n
        mean_sq_log = stats["sum_sq_log_err"] / n
        return {
            "delta1": stats["count_delta1"] / n,
            "delta2": stats["count_delta2"] / n,
            "delta3": stats["count_delta3"] / n,
            "abs_rel": stats["sum_abs_rel"] / n,
            "sq_rel": stats["sum_sq_rel"] / n,
            "rmse": np.sqrt(stats["sum_sq_err"] / n),
            "rmse_log": np.sqrt(mean_sq_log),
            "log10": stats["sum_abs_log10_err"] / n,
            # max(…, 0): round-off can make a zero variance slightly negative
            "silog": 100.0 * np.sqrt(np.maximum(mean_sq_log - mean_log * mean_log, 0.0)),
        }


def depth_metrics(
    pred: Any,
    gt: Any,
    valid: Any = None,
    min_depth: float | None = None,
    max_depth: float | None = None,
) -> dict[str, float]:
    """Depth metrics of one prediction against its ground truth (definitions: module docstring).

    ``pred``, ``gt``: arrays of the same shape (numpy or torch), depth in metres. ``valid``:
    optional bool mask of the same shape. ``min_depth``/``max_depth``: optional inclusive GT range.
    Returns ``delta1 delta2 delta3 abs_rel sq_rel rmse rmse_log log10 silog`` (floats, δ as
    fractions) and ``n_valid``. Example: ``depth_metrics(1.1 * gt, gt)`` gives δ1 = 1 and
    abs_rel = 0.1.
    """
    return metrics_from_stats(depth_metric_stats(pred, gt, valid, min_depth, max_depth))
