"""Scale-invariant boundary metrics of Depth Pro (Table 2): boundary F1 on depth GT, recall on masks.

The numbers equal those of the released ``SI_boundary_F1`` / ``SI_boundary_Recall``
(``apple/ml-depth-pro``, ``src/depth_pro/eval/boundary_metrics.py``) to the last bit, quirks
included; this module only reorganises the work so that it is vectorised. Definition:

- thresholds ``t_1..t_n = linspace(t_min, t_max, n)``, weights ``w_i = t_i / Σ t``;
- both depth maps become inverse depth ``q = 1 / max(d, 1e-6)`` (so NaN stays NaN and creates no
  contour, 0 becomes a very near point and +inf a point at infinity);
- a neighbour pair is an occluding contour in direction k at threshold t when the ratio of the
  neighbour's inverse depth to this pixel's is strictly ``> t``. Directions, in the released
  order: ``left`` ``q[:, :-1] / q[:, 1:]``, ``top`` ``q[:-1] / q[1:]``, ``right``
  ``q[:, 1:] / q[:, :-1]``, ``bottom`` ``q[1:] / q[:-1]``;
- F1: per direction ``P_k = |pred ∧ gt| / max(|pred|, 1)``, ``R_k = |pred ∧ gt| / max(|gt|, 1)``;
  ``P``, ``R`` are the plain means over the four directions (an empty direction counts 0, so a
  single straight step scores 0.25); ``F1 = 2PR / (P + R)`` (0 when ``P + R = 0``);
  score ``= Σ w_i F1(t_i)``;
- recall: GT contours from ``mask > alpha_threshold`` (foreground pixel next to a background one,
  the direction pointing at the foreground); predicted contours thinned by non-maximum
  suppression (in each row for left/right, each column for top/bottom, every maximal run of
  consecutive above-threshold ratios keeps only its largest entry, the first one on ties);
  ``R = mean_k |thinned pred ∧ gt| / max(|gt|, 1)``; score ``= Σ w_i R(t_i)``.

Floating-point behaviour, reproduced on purpose: float16/32/64 depth maps are inverted and divided
in their own dtype (integer maps in float64), exactly as the released code does. The F1 compares
ratios with NumPy float64 scalars (under NumPy ≥ 2 a float32 ratio is compared in float64); the
recall compares them with Python floats, which NumPy ≥ 2 casts to the ratio's dtype (a float32
ratio is tested against ``float32(t)``). This module compares with operands of the same types,
so float16/32/64 inputs match the released code to the bit under either NumPy casting rule.

dpbench addition (off by default, so the paper's numbers reproduce): ``valid`` excludes every
neighbour pair touching an invalid pixel from both the predicted and the GT contours. For the
recall, the prediction is thinned first (thinning is a property of the prediction alone) and the
invalid pairs are dropped afterwards.

Inputs must be **depth**, not disparity: both functions invert them. Masks must be bool or float
in [0, 1]; uint8 masks are refused with a ValueError (divide 0–255 mattes by 255 yourself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dpbench.metrics._checks import (
    check_2d,
    check_alpha_mask,
    check_bool_mask,
    check_real,
    check_same_shape,
    to_numpy,
)

#: Depth floor before inversion in the released code: q = 1 / max(d, INVERSION_EPS).
INVERSION_EPS = 1e-6
#: The four contour directions, in the order the released code sums them (this fixes round-off).
DIRECTIONS = ("left", "top", "right", "bottom")

_HORIZONTAL = ("left", "right")


@dataclass(frozen=True)
class BoundaryF1Curve:
    """Per-threshold values behind :func:`si_boundary_f1` (for plots and diagnostics).

    ``precision``, ``recall``, ``f1`` have one entry per threshold; ``*_by_direction`` are
    4×n arrays in :data:`DIRECTIONS` order; ``score`` = Σ weights × f1.
    """

    thresholds: np.ndarray
    weights: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    precision_by_direction: np.ndarray
    recall_by_direction: np.ndarray
    score: float


@dataclass(frozen=True)
class BoundaryRecallCurve:
    """Per-threshold values behind :func:`si_boundary_recall`; ``score`` = Σ weights × recall."""

    thresholds: np.ndarray
    weights: np.ndarray
    recall: np.ndarray
    recall_by_direction: np.ndarray
    score: float


# --------------------------------------------------------------------------- building blocks


def thresholds_and_weights(t_min: float = 1.05, t_max: float = 1.25, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """``t = linspace(t_min, t_max, n)`` (float64) and the weights ``t / Σ t`` of the released code."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer number of thresholds, got {n!r}")
    if not (np.isfinite(t_min) and np.isfinite(t_max)):
        raise ValueError(f"t_min/t_max: must be finite, got {t_min!r}, {t_max!r}")
    thresholds = np.linspace(t_min, t_max, int(n))
    if thresholds.sum() == 0:
        raise ValueError("t_min/t_max: the thresholds sum to 0, their weights t / Σt are undefined")
    return thresholds, thresholds / thresholds.sum()


def inverse_depth(depth: np.ndarray, eps: float = INVERSION_EPS) -> np.ndarray:
    """``1 / max(depth, eps)`` in the depth's own float dtype (NaN stays NaN), as the released code."""
    inverse = depth.clip(min=eps)
    np.divide(1.0, inverse, out=inverse)
    return inverse


def _depth_map(x: Any, name: str) -> np.ndarray:
    depth = to_numpy(x, name)
    check_2d(depth, name)
    check_real(depth, name)
    if not np.issubdtype(depth.dtype, np.floating):
        depth = depth.astype(np.float64)  # the released clip(min=1e-6) promotes integers so
    return depth


def _alpha_mask(x: Any, name: str) -> np.ndarray:
    mask = to_numpy(x, name)
    check_2d(mask, name)
    check_alpha_mask(mask, name)
    return mask


def _ratio(q: np.ndarray, direction: str) -> np.ndarray:
    """Neighbour-over-pixel inverse-depth ratio of every pair, pointing in ``direction``."""
    if direction == "left":
        return q[:, :-1] / q[:, 1:]
    if direction == "right":
        return q[:, 1:] / q[:, :-1]
    if direction == "top":
        return q[:-1, :] / q[1:, :]
    if direction == "bottom":
        return q[1:, :] / q[:-1, :]
    raise ValueError(f"direction: expected one of {DIRECTIONS}, got {direction!r}")


def _mask_pairs(m: np.ndarray, direction: str) -> np.ndarray:
    """GT contour of a bool mask: the pixel the direction points at is foreground, the other not."""
    if direction == "left":
        return m[:, :-1] & ~m[:, 1:]
    if direction == "right":
        return m[:, 1:] & ~m[:, :-1]
    if direction == "top":
        return m[:-1, :] & ~m[1:, :]
    if direction == "bottom":
        return m[1:, :] & ~m[:-1, :]
    raise ValueError(f"direction: expected one of {DIRECTIONS}, got {direction!r}")


def _valid_pairs(valid: np.ndarray, direction: str) -> np.ndarray:
    """Pairs whose two pixels are both valid."""
    if direction in _HORIZONTAL:
        return valid[:, 1:] & valid[:, :-1]
    return valid[1:, :] & valid[:-1, :]


def _same_test_threshold(dtype: np.dtype, t: Any) -> Any:
    """A threshold ``t'`` such that ``x > t'`` equals ``x > t`` for every ``x`` of ``dtype``, and is
    compared in ``dtype`` itself (fast: no cast of the whole map).

    When NumPy compares ``dtype`` with ``t`` in a wider type (a float32 map against a float64
    scalar: the released F1), ``t'`` is the largest ``dtype`` value <= t: every x above it is at
    least the next value, which is > t. Otherwise ``t`` is returned unchanged.
    """
    dtype = np.dtype(dtype)
    if np.result_type(dtype, t) == dtype:
        return t
    with np.errstate(over="ignore"):  # a threshold beyond the dtype's range becomes ±inf
        rounded = dtype.type(t)
    if rounded > t:  # compared in the wider type, exactly
        rounded = np.nextafter(rounded, dtype.type(-np.inf))
    return rounded


def _split_runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and lengths of the runs of ``keys`` (consecutive keys differ by 1)."""
    n = keys.size
    new_run = np.empty(n, dtype=bool)
    new_run[:1] = True
    np.not_equal(np.diff(keys), 1, out=new_run[1:])
    starts = np.flatnonzero(new_run)
    return starts, np.diff(starts, append=n)


def _first_max_positions(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Position of the first maximum of each run ``values[start : start + length]``."""
    n = values.size
    if n == 0:
        return np.empty(0, dtype=np.intp)
    run_max = np.maximum.reduceat(values, starts)
    at_max = values == np.repeat(run_max, lengths)
    # first maximum of a run = smallest position among the run's maxima
    return np.minimum.reduceat(np.where(at_max, np.arange(n), n), starts)


def _padded_row_ratio(q: np.ndarray, direction: str) -> np.ndarray:
    """Ratio map of the horizontal pairs laid out H×W, the last column NaN (never a contour).

    Computed as one contiguous division over the flattened map (fast), where entry r·W + c is
    the pair (r, c)–(r, c+1); the entries c = W−1 would pair a row's end with the next row's
    start and are set to NaN. Consecutive pairs of a row thus have flat indices differing by
    exactly 1, and a run can never wrap to the next row. ``q`` must be C-contiguous.
    """
    h, w = q.shape
    flat = q.ravel()
    out = np.empty(h * w, dtype=(flat[:1] / flat[:1]).dtype)
    if direction == "right":
        np.divide(flat[1:], flat[:-1], out=out[:-1])
    else:
        np.divide(flat[:-1], flat[1:], out=out[:-1])
    out = out.reshape(h, w)
    out[:, -1] = np.nan
    return out


def _row_candidates(padded_ratio: np.ndarray, lowest: float, flags: np.ndarray | None):
    """Entries ``> lowest`` of a padded horizontal ratio map, in row-major order, as (run keys,
    values, payload): the keys are the flat indices; the payload is ``flags`` at those entries
    (a padded bool map) or, without flags, the flat indices."""
    keys = np.flatnonzero(padded_ratio > lowest)
    values = padded_ratio.ravel()[keys]
    return keys, values, (keys if flags is None else flags.ravel()[keys])


def _column_candidates(ratio: np.ndarray, lowest: float, flags: np.ndarray | None):
    """Entries ``> lowest`` of a vertical-pair ratio map, in column-major order, as (run keys,
    values, payload). Keys are c·(h+1) + r: they jump by at least 2 from one column to the next,
    so runs stay inside a column. The payload is ``flags`` at those entries, or the row-major flat
    indices. Everything is gathered in memory order first, then permuted (cache friendly)."""
    h, w = ratio.shape
    flat = np.flatnonzero(ratio > lowest)
    values = ratio.ravel()[flat]
    payload = flat if flags is None else flags.ravel()[flat]
    rows, cols = np.divmod(flat, w)
    # rows are sorted within each column: a stable sort on the column gives column-major order
    order = np.argsort(cols.astype(np.uint16) if w <= np.iinfo(np.uint16).max else cols, kind="stable")
    keys = cols * (h + 1) + rows
    return keys[order], values[order], payload[order]


def _nms(keys: np.ndarray, values: np.ndarray, payload: np.ndarray, thresholds: list, count: bool) -> list:
    """Non-maximum suppression, at several thresholds, of the candidate entries of one ratio map.

    Candidates are the entries above the lowest threshold, ordered along the runs: two
    consecutive candidates are in the same run iff their ``keys`` differ by 1. In each run of
    consecutive entries ``> t`` only the first maximum is kept. ``payload`` travels with each
    entry: per threshold, the result is the kept entries' payloads or, with ``count``, how many
    kept entries have a True payload (the payload is then a bool "on a GT contour" flag).

    Thresholds are visited in increasing order, each filtering the previous survivors (``v > t``
    implies ``v > t'`` for every smaller t'). Raising the threshold only removes entries, so runs
    only split: an entry alone in its run stays alone and is kept at every higher threshold it
    exceeds. Such entries leave the run computation for a pool, which keeps the work per threshold
    proportional to the multi-entry runs (edges), not to isolated noise.
    """
    steps = sorted(range(len(thresholds)), key=lambda i: thresholds[i])
    result: list = [None] * len(thresholds)
    pool_values, pool_payload, pool_since = values[:0], payload[:0], np.empty(0, dtype=np.intp)
    for step, j in enumerate(steps):
        t = thresholds[j]
        if step:
            above = values > t
            keys, values, payload = keys[above], values[above], payload[above]
        starts, lengths = _split_runs(keys)
        single = lengths == 1
        if single.any():
            first = starts[single]
            moved_values, moved_payload = values[first], payload[first]
            if count:  # only entries on a GT contour can ever add to the count
                moved_values, moved_payload = moved_values[moved_payload], moved_payload[moved_payload]
            pool_values = np.concatenate([pool_values, moved_values])
            pool_payload = np.concatenate([pool_payload, moved_payload])
            pool_since = np.concatenate([pool_since, np.full(moved_values.size, step)])
            in_multi = np.repeat(~single, lengths)
            keys, values, payload = keys[in_multi], values[in_multi], payload[in_multi]
            lengths = lengths[~single]
            starts = np.cumsum(lengths) - lengths
        kept = payload[_first_max_positions(values, starts, lengths)]
        in_pool = (pool_since <= step) & (pool_values > t)
        if count:
            result[j] = int(np.count_nonzero(kept)) + int(np.count_nonzero(in_pool))
        else:
            result[j] = np.concatenate([pool_payload[in_pool], kept])
    return result


# --------------------------------------------------------------------------- contour maps


def occluding_contours(depth: Any, threshold: float) -> dict[str, np.ndarray]:
    """The four directional occluding-contour maps of a depth map at ratio ``threshold``.

    ``maps[k][r, c]`` is True when, for the pair starting at (r, c), the neighbour in direction k
    has inverse depth more than ``threshold`` times this pixel's (the neighbour is in front).
    Shapes: H×(W−1) for left/right, (H−1)×W for top/bottom.
    """
    q = inverse_depth(_depth_map(depth, "depth"))
    return {direction: _ratio(q, direction) > threshold for direction in DIRECTIONS}


def thinned_occluding_contours(depth: Any, threshold: float) -> dict[str, np.ndarray]:
    """:func:`occluding_contours` after the non-maximum suppression used by the mask recall.

    Each maximal run of consecutive contour pairs (along rows for left/right, along columns for
    top/bottom) keeps only its pair with the largest ratio, the first one on ties.
    """
    q = np.ascontiguousarray(inverse_depth(_depth_map(depth, "depth")))
    maps = {}
    for direction in DIRECTIONS:
        maps[direction] = _thinned_map(q, direction, threshold)
    return maps


def _thinned_map(q: np.ndarray, direction: str, threshold: float) -> np.ndarray:
    h, w = q.shape
    if direction in _HORIZONTAL:
        if h == 0 or w < 2:
            return np.zeros((h, max(w - 1, 0)), dtype=bool)
        padded = _padded_row_ratio(q, direction)
        (kept,) = _nms(*_row_candidates(padded, threshold, None), [threshold], count=False)
        out = np.zeros((h, w), dtype=bool)
        out.ravel()[kept] = True
        return np.ascontiguousarray(out[:, :-1])
    if h < 2 or w == 0:
        return np.zeros((max(h - 1, 0), w), dtype=bool)
    ratio = _ratio(q, direction)
    (kept,) = _nms(*_column_candidates(ratio, threshold, None), [threshold], count=False)
    out = np.zeros(ratio.shape, dtype=bool)
    out.ravel()[kept] = True
    return out


def mask_contours(mask: Any, alpha_threshold: float = 0.1) -> dict[str, np.ndarray]:
    """GT contour maps of a mask: foreground = ``mask > alpha_threshold``; the pair is marked in the
    direction of its foreground pixel when the other pixel is background."""
    m = _alpha_mask(mask, "mask") > alpha_threshold
    return {direction: _mask_pairs(m, direction) for direction in DIRECTIONS}


# --------------------------------------------------------------------------- boundary F1


def _direction_means(hits: np.ndarray, totals: np.ndarray) -> tuple[list, np.ndarray]:
    """Per threshold, the plain mean over the four directions of ``hits / max(totals, 1)``.

    An empty direction contributes 0; the arithmetic order is the released code's. Returns the
    means (one per threshold) and the 4×n per-direction ratios.
    """
    means = []
    by_direction = np.zeros(hits.shape)
    for j in range(hits.shape[1]):
        terms = [int(hits[k, j]) / max(int(totals[k, j]), 1) for k in range(4)]
        by_direction[:, j] = terms
        means.append(0.25 * (terms[0] + terms[1] + terms[2] + terms[3]))
    return means, by_direction


def _scores_f1(tp: np.ndarray, n_pred: np.ndarray, n_gt: np.ndarray) -> tuple[list, list, list, np.ndarray, np.ndarray]:
    """P, R, F1 per threshold from 4×n integer counts, with the released code's arithmetic order."""
    recall, r_dir = _direction_means(tp, n_gt)
    precision, p_dir = _direction_means(tp, n_pred)
    f1 = [0.0 if r + p == 0 else 2 * (r * p) / (r + p) for p, r in zip(precision, recall, strict=True)]
    return precision, recall, f1, p_dir, r_dir


def boundary_f1_curve(
    pred_depth: Any,
    gt_depth: Any,
    t_min: float = 1.05,
    t_max: float = 1.25,
    n: int = 10,
    valid: Any = None,
) -> BoundaryF1Curve:
    """Per-threshold precision, recall and F1 of the scale-invariant boundary F1 (see module doc)."""
    pred = _depth_map(pred_depth, "pred_depth")
    gt = _depth_map(gt_depth, "gt_depth")
    check_same_shape(pred, gt, "pred_depth", "gt_depth")
    if valid is not None:
        valid = check_bool_mask(valid, gt.shape, "valid")
    thresholds, weights = thresholds_and_weights(t_min, t_max, n)
    threshold_list = list(thresholds)  # np.float64 scalars, as the released loop compares with

    q_pred = np.ascontiguousarray(inverse_depth(pred))
    q_gt = np.ascontiguousarray(inverse_depth(gt))
    h, w = q_gt.shape
    shape = (len(DIRECTIONS), len(threshold_list))
    tp, n_pred, n_gt = np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    steps = sorted(range(len(threshold_list)), key=lambda i: threshold_list[i])
    for k, direction in enumerate(DIRECTIONS):
        pair_ok = None if valid is None else _valid_pairs(valid, direction)
        if direction in _HORIZONTAL:  # padded layout: one contiguous division per map
            if h == 0 or w < 2:
                continue
            pred_ratio = _padded_row_ratio(q_pred, direction)
            gt_ratio = _padded_row_ratio(q_gt, direction)
            if pair_ok is not None:
                pair_ok = np.pad(pair_ok, ((0, 0), (0, 1)))
        else:
            if h < 2 or w == 0:
                continue
            pred_ratio = _ratio(q_pred, direction)
            gt_ratio = _ratio(q_gt, direction)
        pred_t = [_same_test_threshold(pred_ratio.dtype, t) for t in threshold_list]
        gt_t = [_same_test_threshold(gt_ratio.dtype, t) for t in threshold_list]
        # one compaction for both maps: pairs above the lowest threshold in either
        candidate = pred_ratio > min(pred_t)
        candidate |= gt_ratio > min(gt_t)
        if pair_ok is not None:
            candidate &= pair_ok
        index = np.flatnonzero(candidate)
        del candidate, pair_ok
        pred_values, gt_values = pred_ratio.ravel()[index], gt_ratio.ravel()[index]
        del pred_ratio, gt_ratio, index
        # increasing thresholds: keep only pairs still above the threshold in either map
        for j in steps:
            pred_above = pred_values > pred_t[j]
            gt_above = gt_values > gt_t[j]
            n_pred[k, j] = np.count_nonzero(pred_above)
            n_gt[k, j] = np.count_nonzero(gt_above)
            either = pred_above | gt_above
            pred_above &= gt_above
            tp[k, j] = np.count_nonzero(pred_above)
            pred_values, gt_values = pred_values[either], gt_values[either]

    precision, recall, f1, p_dir, r_dir = _scores_f1(tp, n_pred, n_gt)
    f1_array = np.array(f1)
    return BoundaryF1Curve(
        thresholds=thresholds,
        weights=weights,
        precision=np.array(precision),
        recall=np.array(recall),
        f1=f1_array,
        precision_by_direction=p_dir,
        recall_by_direction=r_dir,
        score=float(np.sum(f1_array * weights)),
    )


def si_boundary_f1(
    pred_depth: Any,
    gt_depth: Any,
    t_min: float = 1.05,
    t_max: float = 1.25,
    n: int = 10,
    valid: Any = None,
) -> float:
    """Scale-invariant boundary F1 of a predicted depth map against a GT depth map.

    ``Σ_i w_i F1(t_i)`` with ``t = linspace(t_min, t_max, n)``, ``w = t / Σt``, and F1(t) from
    the four-direction mean precision and recall of occluding contours (module doc). Equals the
    released ``SI_boundary_F1`` bit for bit. ``valid`` (H×W bool, optional, off by default)
    drops pairs touching invalid pixels. Example: a perfect prediction of a square in front of a
    plane scores 1.0; of a single straight step, 0.25.
    """
    return boundary_f1_curve(pred_depth, gt_depth, t_min, t_max, n, valid).score


# --------------------------------------------------------------------------- mask recall


def _thinned_hits(
    q: np.ndarray, foreground: np.ndarray, valid: np.ndarray | None, direction: str, thresholds: list
) -> tuple[np.ndarray, int]:
    """Per threshold, |NMS-thinned predicted contours ∧ mask contours|, and |mask contours|."""
    gt_pairs = _mask_pairs(foreground, direction)
    if valid is not None:
        gt_pairs &= _valid_pairs(valid, direction)
    n_gt = int(np.count_nonzero(gt_pairs))
    h, w = q.shape
    if direction in _HORIZONTAL:
        if h == 0 or w < 2:
            return np.zeros(len(thresholds), dtype=np.int64), n_gt
        padded_gt = np.zeros((h, w), dtype=bool)
        padded_gt[:, :-1] = gt_pairs
        ratio = _padded_row_ratio(q, direction)
        candidates = _row_candidates(ratio, min(thresholds), padded_gt)
    else:
        if h < 2 or w == 0:
            return np.zeros(len(thresholds), dtype=np.int64), n_gt
        candidates = _column_candidates(_ratio(q, direction), min(thresholds), gt_pairs)
    return np.array(_nms(*candidates, thresholds, count=True), dtype=np.int64), n_gt


def boundary_recall_curve(
    pred_depth: Any,
    gt_mask: Any,
    t_min: float = 1.05,
    t_max: float = 1.25,
    n: int = 10,
    alpha_threshold: float = 0.1,
    valid: Any = None,
) -> BoundaryRecallCurve:
    """Per-threshold recall of the NMS-thinned predicted contours against mask contours."""
    pred = _depth_map(pred_depth, "pred_depth")
    mask = _alpha_mask(gt_mask, "gt_mask")
    check_same_shape(pred, mask, "pred_depth", "gt_mask")
    if valid is not None:
        valid = check_bool_mask(valid, mask.shape, "valid")
    thresholds, weights = thresholds_and_weights(t_min, t_max, n)
    threshold_list = [float(t) for t in thresholds]  # Python floats, as the released recall loop
    foreground = mask > alpha_threshold

    shape = (len(DIRECTIONS), len(threshold_list))
    tp, n_gt = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    q = np.ascontiguousarray(inverse_depth(pred))
    for k, direction in enumerate(DIRECTIONS):
        tp[k], n_gt[k] = _thinned_hits(q, foreground, valid, direction, threshold_list)
    del q

    recall, r_dir = _direction_means(tp, n_gt)
    recall_array = np.array(recall)
    return BoundaryRecallCurve(
        thresholds=thresholds,
        weights=weights,
        recall=recall_array,
        recall_by_direction=r_dir,
        score=float(np.sum(recall_array * weights)),
    )


def si_boundary_recall(
    pred_depth: Any,
    gt_mask: Any,
    t_min: float = 1.05,
    t_max: float = 1.25,
    n: int = 10,
    alpha_threshold: float = 0.1,
    valid: Any = None,
) -> float:
    """Scale-invariant boundary recall of a predicted depth map against a GT mask or alpha matte.

    ``Σ_i w_i R(t_i)``: GT contours from ``gt_mask > alpha_threshold`` (strict), predicted
    contours thinned by NMS along rows/columns, R the four-direction mean recall (module doc).
    Equals the released ``SI_boundary_Recall`` bit for bit. ``gt_mask``: bool, or float in
    [0, 1]; uint8 raises ValueError (divide by 255). ``valid``: optional, off by default.
    """
    return boundary_recall_curve(pred_depth, gt_mask, t_min, t_max, n, alpha_threshold, valid).score
