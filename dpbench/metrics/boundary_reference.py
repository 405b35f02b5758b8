"""Slow, literal reference for the boundary metrics. For tests and benchmarks only — use
:mod:`dpbench.metrics.boundary` for real work.

It follows the released Depth Pro algorithm step by step, written for readability rather than
speed: for every threshold it rebuilds the four full contour maps, and the non-maximum
suppression walks the above-threshold entries one by one in a Python loop (as the released code
does), so a 1536×1536 map takes seconds to minutes. The fast implementation must agree with it
bit for bit; the tests and ``benchmarks/bench_boundary.py`` check that.

Operand types mirror the released code, because they decide float32 round-off: depth is inverted
as ``1.0 / depth.clip(min=1e-6)`` in its own dtype; the F1 compares ratios with the float64
elements of ``linspace``; the recall compares them with ``float(t)``.
"""

from __future__ import annotations

import numpy as np


def _thresholds(t_min: float, t_max: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(t_min, t_max, n)
    return t, t / t.sum()


def _invert(depth: np.ndarray) -> np.ndarray:
    return 1.0 / depth.clip(min=1e-6)


def _contour_ratios(q: np.ndarray) -> list[np.ndarray]:
    """Ratios neighbour / pixel in the order left, top, right, bottom."""
    return [
        q[:, :-1] / q[:, 1:],
        q[:-1, :] / q[1:, :],
        q[:, 1:] / q[:, :-1],
        q[1:, :] / q[:-1, :],
    ]


def _mask_contours(m: np.ndarray) -> list[np.ndarray]:
    """Foreground-next-to-background pairs in the order left, top, right, bottom."""
    return [
        m[:, :-1] & ~m[:, 1:],
        m[:-1, :] & ~m[1:, :],
        m[:, 1:] & ~m[:, :-1],
        m[1:, :] & ~m[:-1, :],
    ]


def _pair_validity(valid: np.ndarray) -> list[np.ndarray]:
    horizontal = valid[:, :-1] & valid[:, 1:]
    vertical = valid[:-1, :] & valid[1:, :]
    return [horizontal, vertical, horizontal, vertical]


def _runs(rows: np.ndarray, cols: np.ndarray):
    """Yield index lists of runs: consecutive entries of one row whose columns rise by exactly 1."""
    run = [0]
    for i in range(1, len(rows)):
        last = run[-1]
        if rows[i] == rows[last] and cols[i] == cols[last] + 1:
            run.append(i)
        else:
            yield run
            run = [i]
    yield run


def _nms_along_rows(ratio: np.ndarray, t: float) -> np.ndarray:
    """Keep, in every run of consecutive above-threshold entries of a row, the first maximum
    (``np.argmax`` over the run's values, as the released loop does)."""
    keep = np.zeros(ratio.shape, dtype=bool)
    rows, cols = np.nonzero(ratio > t)
    if len(rows) == 0:
        return keep
    for run in _runs(rows, cols):
        best = run[int(np.argmax([ratio[rows[i], cols[i]] for i in run]))]
        keep[rows[best], cols[best]] = True
    return keep


def _nms_along_columns(ratio: np.ndarray, t: float) -> np.ndarray:
    return _nms_along_rows(ratio.T, t).T


def reference_si_boundary_f1(pred_depth, gt_depth, t_min=1.05, t_max=1.25, n=10, valid=None) -> float:
    """Reference scale-invariant boundary F1 (see :func:`dpbench.metrics.boundary.si_boundary_f1`)."""
    pred_depth, gt_depth = np.asarray(pred_depth), np.asarray(gt_depth)
    assert pred_depth.ndim == gt_depth.ndim == 2 and pred_depth.shape == gt_depth.shape
    thresholds, weights = _thresholds(t_min, t_max, n)
    pair_ok = None if valid is None else _pair_validity(np.asarray(valid, dtype=bool))
    scores = []
    for t in thresholds:
        pred_maps = [r > t for r in _contour_ratios(_invert(pred_depth))]
        gt_maps = [r > t for r in _contour_ratios(_invert(gt_depth))]
        if pair_ok is not None:
            pred_maps = [p & ok for p, ok in zip(pred_maps, pair_ok, strict=True)]
            gt_maps = [g & ok for g, ok in zip(gt_maps, pair_ok, strict=True)]
        recall_sum = 0.0
        precision_sum = 0.0
        for p, g in zip(pred_maps, gt_maps, strict=True):
            hits = np.count_nonzero(p & g)
            recall_sum = recall_sum + hits / max(np.count_nonzero(g), 1)
            precision_sum = precision_sum + hits / max(np.count_nonzero(p), 1)
        recall = 0.25 * recall_sum
        precision = 0.25 * precision_sum
        if recall + precision == 0:
            scores.append(0.0)
        else:
            scores.append(2 * (recall * precision) / (recall + precision))
    return float(np.sum(np.array(scores) * weights))


def reference_si_boundary_recall(
    pred_depth, gt_mask, t_min=1.05, t_max=1.25, n=10, alpha_threshold=0.1, valid=None
) -> float:
    """Reference scale-invariant boundary recall (see :func:`dpbench.metrics.boundary.si_boundary_recall`)."""
    pred_depth, gt_mask = np.asarray(pred_depth), np.asarray(gt_mask)
    assert pred_depth.ndim == gt_mask.ndim == 2 and pred_depth.shape == gt_mask.shape
    thresholds, weights = _thresholds(t_min, t_max, n)
    foreground = gt_mask > alpha_threshold
    scores = []
    for t in thresholds:
        t = float(t)
        gt_maps = _mask_contours(foreground)
        if valid is not None:
            pair_ok = _pair_validity(np.asarray(valid, dtype=bool))
            gt_maps = [g & ok for g, ok in zip(gt_maps, pair_ok, strict=True)]
        ratios = _contour_ratios(_invert(pred_depth))
        pred_maps = [
            _nms_along_rows(ratios[0], t),
            _nms_along_columns(ratios[1], t),
            _nms_along_rows(ratios[2], t),
            _nms_along_columns(ratios[3], t),
        ]
        total = 0.0
        for p, g in zip(pred_maps, gt_maps, strict=True):
            total = total + np.count_nonzero(p & g) / max(np.count_nonzero(g), 1)
        scores.append(0.25 * total)
    return float(np.sum(np.array(scores) * weights))
