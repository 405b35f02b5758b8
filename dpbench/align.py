"""Optional alignment of relative predictions to the ground truth before scoring.

Pure functions of ``(pred, gt, valid)`` returning ``(aligned_depth, params)``. The fit uses the
pixels where ``valid`` (if given) holds, gt is finite and > 0, and pred is finite. ``params`` is a
plain dict (recordable in a run manifest): ``method``, ``ok``, ``scale``, ``shift``, ``n_fit`` and,
when the fit failed, ``reason``.

Methods (p = prediction, g = ground-truth depth, sums over the fit pixels):

- ``none``: p unchanged (metric predictions; the paper's Tables 1 and 4).
- ``median``: s = median(g) / median(p); result s·p.
- ``lstsq_scale``: s = Σ p·g / Σ p² (least squares of s·p − g); result s·p.
- ``lstsq_scale_shift``: (s, b) minimising Σ (s·p + b − g)²; s = cov(p, g) / var(p),
  b = mean(g) − s·mean(p); result s·p + b (depth space).
- ``lstsq_scale_shift_disparity``: p is a disparity-like output (inverse depth up to scale and
  shift); (s, b) minimising Σ (s·p + b − 1/g)²; the aligned disparity is floored at
  ``min_disparity`` and inverted: result 1 / max(s·p + b, floor). The depth task passes
  1 / max_depth of the dataset's depth range (as MiDaS does), so no pixel lands beyond the range;
  :data:`DISPARITY_FLOOR` is only the fallback without a range.

A fit is degenerate when the prediction is constant on the fit pixels up to round-off: its
centred sum of squares is at most :data:`RELATIVE_VARIANCE_TOL` times its plain sum of squares,
so a constant map has one outcome whatever its value (an absolute test would pass 0.1, whose mean
is inexact, and fail 3.0, whose mean is exact).
A degenerate fit (no fit pixel, constant prediction, median(p) <= 0, ...) never raises: it
issues a ``RuntimeWarning``, marks ``ok=False`` with a ``reason``, and applies the identity
(s = 1, b = 0). The output is always depth, so for the disparity method the identity still
inverts the floored input. The aligned map keeps the prediction's float dtype.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from dpbench.errors import UnknownNameError
from dpbench.metrics._checks import check_bool_mask, check_real, check_same_shape, to_numpy

#: Floor on the aligned disparity before inversion (1/m) when no depth range is known: 1e6 m.
DISPARITY_FLOOR = 1e-6
#: Relative spread below which a prediction counts as constant: float32's resolution, squared
#: (a relative standard deviation under one float32 ulp is round-off, not signal).
RELATIVE_VARIANCE_TOL = float(np.finfo(np.float32).eps) ** 2


def _fit_pixels(pred: Any, gt: Any, valid: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The prediction as an array, and its (p, g) values on the fit pixels, in float64."""
    pred = to_numpy(pred, "pred")
    gt = to_numpy(gt, "gt")
    check_real(pred, "pred")
    check_real(gt, "gt")
    check_same_shape(pred, gt, "pred", "gt")
    gt64 = gt.astype(np.float64, copy=False)
    pred64 = pred.astype(np.float64, copy=False)
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(gt64) & (gt64 > 0) & np.isfinite(pred64)
    if valid is not None:
        keep &= check_bool_mask(valid, gt.shape, "valid")
    return pred, pred64[keep], gt64[keep]


def _output_dtype(pred: np.ndarray) -> np.dtype:
    return pred.dtype if np.issubdtype(pred.dtype, np.floating) else np.dtype(np.float64)


def _params(method: str, scale: float, shift: float, n_fit: int, reason: str | None = None) -> dict:
    params = {"method": method, "ok": reason is None, "scale": scale, "shift": shift, "n_fit": n_fit}
    if reason is not None:
        params["reason"] = reason
        warnings.warn(f"alignment '{method}' failed ({reason}); prediction left unaligned",
                      RuntimeWarning, stacklevel=3)
    return params


def _affine(pred: np.ndarray, scale: float, shift: float) -> np.ndarray:
    aligned = scale * pred.astype(np.float64) + shift
    return aligned.astype(_output_dtype(pred), copy=False)


def align_none(pred: Any, gt: Any, valid: Any = None) -> tuple[np.ndarray, dict]:
    """No alignment: returns the prediction (as a float array) and scale 1, shift 0."""
    pred, p, _ = _fit_pixels(pred, gt, valid)
    return pred.astype(_output_dtype(pred), copy=True), _params("none", 1.0, 0.0, int(p.size))


def align_median(pred: Any, gt: Any, valid: Any = None) -> tuple[np.ndarray, dict]:
    """Median scaling: s = median(g) / median(p) over the fit pixels; returns s·p."""
    pred, p, g = _fit_pixels(pred, gt, valid)
    if p.size == 0:
        return _affine(pred, 1.0, 0.0), _params("median", 1.0, 0.0, 0, "no valid pixel")
    median_pred = float(np.median(p))
    if not median_pred > 0:
        return _affine(pred, 1.0, 0.0), _params("median", 1.0, 0.0, int(p.size), "median(pred) <= 0")
    scale = float(np.median(g)) / median_pred
    return _affine(pred, scale, 0.0), _params("median", scale, 0.0, int(p.size))


def align_lstsq_scale(pred: Any, gt: Any, valid: Any = None) -> tuple[np.ndarray, dict]:
    """Least-squares scale: s = Σ p·g / Σ p² over the fit pixels; returns s·p."""
    pred, p, g = _fit_pixels(pred, gt, valid)
    if p.size == 0:
        return _affine(pred, 1.0, 0.0), _params("lstsq_scale", 1.0, 0.0, 0, "no valid pixel")
    energy = float(np.dot(p, p))
    if not energy > 0:
        return _affine(pred, 1.0, 0.0), _params("lstsq_scale", 1.0, 0.0, int(p.size), "prediction is all zero")
    scale = float(np.dot(p, g)) / energy
    return _affine(pred, scale, 0.0), _params("lstsq_scale", scale, 0.0, int(p.size))


def _fit_scale_shift(p: np.ndarray, target: np.ndarray) -> tuple[float, float, str | None]:
    """Least squares of s·p + b − target, in centred form (stable); reason set when degenerate."""
    if p.size < 2:
        return 1.0, 0.0, f"{p.size} valid pixel(s), need at least 2"
    p_mean, t_mean = float(np.mean(p)), float(np.mean(target))
    p_centred = p - p_mean
    variance = float(np.dot(p_centred, p_centred))
    energy = float(np.dot(p, p))
    if not math.isfinite(variance) or not variance > RELATIVE_VARIANCE_TOL * energy:
        return 1.0, 0.0, "prediction is constant on the valid pixels"
    scale = float(np.dot(p_centred, target - t_mean)) / variance
    return scale, t_mean - scale * p_mean, None


def align_lstsq_scale_shift(pred: Any, gt: Any, valid: Any = None) -> tuple[np.ndarray, dict]:
    """Least-squares scale and shift in depth space: argmin Σ (s·p + b − g)²; returns s·p + b."""
    pred, p, g = _fit_pixels(pred, gt, valid)
    scale, shift, reason = _fit_scale_shift(p, g)
    return _affine(pred, scale, shift), _params("lstsq_scale_shift", scale, shift, int(p.size), reason)


def align_lstsq_scale_shift_disparity(
    pred: Any, gt: Any, valid: Any = None, *, min_disparity: float | None = None
) -> tuple[np.ndarray, dict]:
    """Least-squares scale and shift in disparity space, then inversion to depth.

    ``pred`` is a disparity-like map. (s, b) = argmin Σ (s·p + b − 1/g)²; returns
    1 / max(s·p + b, min_disparity) (default floor :data:`DISPARITY_FLOOR`).
    """
    floor = DISPARITY_FLOOR if min_disparity is None else float(min_disparity)
    if not (math.isfinite(floor) and floor > 0):
        raise ValueError(f"min_disparity: must be a finite positive number, got {min_disparity!r}")
    pred, p, g = _fit_pixels(pred, gt, valid)
    scale, shift, reason = _fit_scale_shift(p, 1.0 / g)
    disparity = scale * pred.astype(np.float64) + shift
    depth = 1.0 / np.maximum(disparity, floor)
    params = _params("lstsq_scale_shift_disparity", scale, shift, int(p.size), reason)
    params["min_disparity"] = floor
    return depth.astype(_output_dtype(pred), copy=False), params


_METHODS: dict[str, Callable[..., tuple[np.ndarray, dict]]] = {
    "none": align_none,
    "median": align_median,
    "lstsq_scale": align_lstsq_scale,
    "lstsq_scale_shift": align_lstsq_scale_shift,
    "lstsq_scale_shift_disparity": align_lstsq_scale_shift_disparity,
}
#: The alignment method names accepted by :func:`align`.
ALIGNMENTS = tuple(_METHODS)


def align(method: str, pred: Any, gt: Any, valid: Any = None, **options: Any) -> tuple[np.ndarray, dict]:
    """Align ``pred`` to ``gt`` with the named method (one of :data:`ALIGNMENTS`).

    Returns ``(aligned_depth, params)``; ``options`` go to the method (``min_disparity`` for
    ``lstsq_scale_shift_disparity``). Unknown names raise :class:`UnknownNameError`.
    """
    if method not in _METHODS:
        raise UnknownNameError("alignment", method, ALIGNMENTS)
    return _METHODS[method](pred, gt, valid, **options)
