"""Depth metrics per ground-truth depth range (Depth Pro Table 10: Hypersim δ1 by depth range).

Each bin k holds the valid pixels with ``edges[k] <= g < edges[k + 1]`` (lower bound inclusive,
upper exclusive; the last edge may be ``inf``). The paper prints the bins 0–1, 1–2, 2–4, 4–8,
8–16 and > 16 m (``baselines/paper/table10_hypersim_by_range.csv``) without saying which side a
boundary value falls on; dpbench puts it in the upper bin.

The metric math is not repeated here: a bin's statistics are exactly
:func:`dpbench.metrics.depth.depth_metric_stats` on that bin's pixels (validity rules, prediction
replacement and all definitions as documented there), stored under ``bin{k}_stat_<name>`` so that
a result row can hold them and several images can be pooled by summing the values key by key.
:func:`metrics_by_bin` turns such (summed) statistics into ``bin{k}_<metric>`` via
:func:`dpbench.metrics.depth.metrics_from_stats`. An empty bin gives NaN metrics and
``bin{k}_n_valid = 0``, without a warning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dpbench.metrics._checks import check_bool_mask, to_numpy
from dpbench.metrics.depth import (
    DEPTH_METRIC_KEYS,
    STAT_KEYS,
    depth_metric_stats,
    metrics_from_stats,
)

#: Bin edges of the paper's Table 10 (metres): 0–1, 1–2, 2–4, 4–8, 8–16, > 16.
TABLE10_EDGES: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, math.inf)


def check_edges(edges: Sequence[float]) -> tuple[float, ...]:
    """``edges`` as a tuple of floats; raises ``ValueError`` unless ≥ 2, ≥ 0, strictly increasing."""
    try:
        out = tuple(float(e) for e in edges)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"edges: expected a sequence of numbers, got {edges!r}") from exc
    if len(out) < 2:
        raise ValueError(f"edges: need at least two edges (one bin), got {out}")
    if any(math.isnan(e) for e in out) or out[0] < 0:
        raise ValueError(f"edges: must be non-negative numbers, got {out}")
    if any(b <= a for a, b in zip(out[:-1], out[1:], strict=True)):
        raise ValueError(f"edges: must be strictly increasing, got {out}")
    return out


def bin_labels(edges: Sequence[float] = TABLE10_EDGES) -> list[str]:
    """Human-readable bin names, e.g. ``["0–1 m", …, "> 16 m"]``."""
    edges = check_edges(edges)
    return [f"> {lo:g} m" if math.isinf(hi) else f"{lo:g}–{hi:g} m" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def depth_bin_stats(
    pred: Any,
    gt: Any,
    valid: Any = None,
    edges: Sequence[float] = TABLE10_EDGES,
    *,
    min_depth: float | None = None,
    max_depth: float | None = None,
) -> dict[str, float]:
    """Additive depth statistics of every GT-depth bin: keys ``bin{k}_stat_<STAT_KEY>`` (floats).

    ``pred``, ``gt``: H×W depth maps in metres; ``valid``: optional bool mask; ``edges``: bin edges
    (default :data:`TABLE10_EDGES`); ``min_depth``/``max_depth``: the dataset's inclusive GT range,
    applied on top of the bins (as in :func:`depth_metric_stats`).
    """
    edges = check_edges(edges)
    gt_arr = to_numpy(gt, "gt")
    base = None if valid is None else check_bool_mask(valid, gt_arr.shape, "valid")
    with np.errstate(invalid="ignore"):
        gt_f = np.asarray(gt_arr, dtype=np.float64)
    out: dict[str, float] = {}
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        with np.errstate(invalid="ignore"):
            in_bin = (gt_f >= lo) & (gt_f < hi)
        if base is not None:
            in_bin &= base
        stats = depth_metric_stats(pred, gt, in_bin, min_depth, max_depth)
        for name in STAT_KEYS:
            out[f"bin{k}_stat_{name}"] = stats[name]
    return out


def metrics_by_bin(stats: Mapping[str, float], edges: Sequence[float] = TABLE10_EDGES) -> dict[str, float]:
    """Per-bin depth metrics ``bin{k}_<metric>`` and ``bin{k}_n_valid`` from :func:`depth_bin_stats`.

    ``stats`` may be one image's dict or the key-wise sum over many images (pooled metrics).
    Empty bins give NaN metrics and ``n_valid = 0`` (no warning).
    """
    edges = check_edges(edges)
    out: dict[str, float] = {}
    for k in range(len(edges) - 1):
        prefix = f"bin{k}_stat_"
        try:
            bin_stats = {name: float(stats[prefix + name]) for name in STAT_KEYS}
        except KeyError as exc:
            raise ValueError(f"stats: missing key {exc.args[0]!r} (bin {k} of {len(edges) - 1})") from None
        if bin_stats["count"] <= 0:
            metrics = dict.fromkeys(DEPTH_METRIC_KEYS, math.nan)
            metrics["n_valid"] = 0
        else:
            metrics = metrics_from_stats(bin_stats)
        for name, value in metrics.items():
            out[f"bin{k}_{name}"] = value
    return out


__all__ = ["TABLE10_EDGES", "bin_labels", "check_edges", "depth_bin_stats", "metrics_by_bin"]
