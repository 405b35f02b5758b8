"""Focal-length accuracy (Table 3) and the focal / field-of-view conversions used across dpbench.

Focal lengths are horizontal, in pixels, at the image's resolution. The relative error of an
image is ``e = |f̂ − f| / f``; over a set of images: ``abs_rel = mean e``, ``median_rel =
median e``, ``delta_25 = share of e < 0.25``, ``delta_50 = share of e < 0.5`` (strict; the paper
prints δ25% and δ50% in percent).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from dpbench.metrics._checks import check_real, to_numpy

#: δ thresholds on the relative focal error, by metric key.
FOCAL_DELTA_THRESHOLDS = {"delta_25": 0.25, "delta_50": 0.5}
#: The 35 mm film frame (mm) that defines "35 mm-equivalent" focal lengths.
FILM_35MM_WIDTH_MM = 36.0
FILM_35MM_HEIGHT_MM = 24.0


def _focal_array(x: Any, name: str) -> np.ndarray:
    arr = to_numpy(x, name)
    check_real(arr, name)
    return np.atleast_1d(arr).astype(np.float64).ravel()


def focal_metrics(pred_focal: Any, gt_focal: Any) -> dict:
    """Focal accuracy over a set of images (one focal per image, in pixels).

    Returns ``abs_rel`` (mean |f̂ − f| / f), ``median_rel``, ``delta_25`` and ``delta_50``
    (fractions of images with relative error < 0.25 / < 0.5), ``n`` and ``rel_errors`` (the
    per-image errors, an ndarray). A non-finite prediction (a model that failed) gets relative
    error +inf: it counts as a δ failure and makes ``abs_rel`` inf, never silently dropped.
    Non-positive or non-finite GT, or a length mismatch, raises ValueError. No image → NaN
    metrics and a RuntimeWarning.
    Example: ``focal_metrics([110, 300], [100, 200])`` → errors [0.1, 0.5], delta_25 = 0.5,
    delta_50 = 0.5 (0.5 is not < 0.5), abs_rel = 0.3.
    """
    pred = _focal_array(pred_focal, "pred_focal")
    gt = _focal_array(gt_focal, "gt_focal")
    if pred.shape != gt.shape:
        raise ValueError(f"pred_focal has {pred.size} values but gt_focal has {gt.size}")
    bad_gt = ~(np.isfinite(gt) & (gt > 0))
    if bad_gt.any():
        first = int(np.flatnonzero(bad_gt)[0])
        raise ValueError(
            f"gt_focal: {int(bad_gt.sum())} value(s) are not finite positive pixels "
            f"(first at index {first}: {gt[first]!r})"
        )
    if pred.size == 0:
        warnings.warn("focal metrics: no image; every metric is NaN", RuntimeWarning, stacklevel=2)
        return {"abs_rel": math.nan, "median_rel": math.nan, "delta_25": math.nan,
                "delta_50": math.nan, "n": 0, "rel_errors": np.empty(0)}
    with np.errstate(invalid="ignore"):
        rel = np.abs(pred - gt) / gt
    rel[~np.isfinite(rel)] = np.inf
    out = {
        "abs_rel": float(np.mean(rel)),
        "median_rel": float(np.median(rel)),
    }
    for key, threshold in FOCAL_DELTA_THRESHOLDS.items():
        out[key] = float(np.count_nonzero(rel < threshold) / rel.size)
    out["n"] = int(rel.size)
    out["rel_errors"] = rel
    return out


def _positive(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(to_numpy(x, name), dtype=np.float64)
    if not np.all(np.isfinite(arr) & (arr > 0)):
        raise ValueError(f"{name}: must be finite and positive, got {x!r}")
    return arr


def _scalar_or_array(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if arr.ndim == 0 else arr


def fov_to_focal(fov_deg: Any, width: Any) -> float | np.ndarray:
    """Horizontal focal length in pixels from a horizontal field of view: f = 0.5·W / tan(FoV/2).

    ``fov_deg`` in degrees, strictly between 0 and 180; ``width`` in pixels. Arrays broadcast.
    """
    fov = _positive(fov_deg, "fov_deg")
    if np.any(fov >= 180):
        raise ValueError(f"fov_deg: must be below 180 degrees, got {fov_deg!r}")
    w = _positive(width, "width")
    return _scalar_or_array(0.5 * w / np.tan(np.radians(fov) / 2))


def focal_to_fov(focal_px: Any, width: Any) -> float | np.ndarray:
    """Horizontal field of view in degrees from a focal length in pixels: FoV = 2·atan(0.5·W / f)."""
    f = _positive(focal_px, "focal_px")
    w = _positive(width, "width")
    return _scalar_or_array(np.degrees(2 * np.arctan(0.5 * w / f)))


def focal_from_35mm(f35_mm: Any, width: Any, height: Any) -> float | np.ndarray:
    """Focal in pixels from an EXIF 35 mm-equivalent focal length, by the diagonal rule.

    f_px = f35 · sqrt(W² + H²) / sqrt(36² + 24²): the image diagonal is matched to the diagonal
    of the 36×24 mm frame (the rule of the released Depth Pro loader).
    """
    f35 = _positive(f35_mm, "f35_mm")
    w = _positive(width, "width")
    h = _positive(height, "height")
    film_diagonal = math.hypot(FILM_35MM_WIDTH_MM, FILM_35MM_HEIGHT_MM)
    return _scalar_or_array(f35 * np.hypot(w, h) / film_diagonal)


def focal_from_mm(f_mm: Any, width: Any, sensor_width_mm: Any) -> float | np.ndarray:
    """Focal in pixels from a physical focal length and the sensor width: f_px = f_mm · W / sensor_w."""
    f = _positive(f_mm, "f_mm")
    w = _positive(width, "width")
    sensor = _positive(sensor_width_mm, "sensor_width_mm")
    return _scalar_or_array(f * w / sensor)
