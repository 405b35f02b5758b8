"""What a task exposes so that bootstrap intervals are vectorised: per-image additive statistics.

A task whose dataset score is a function of SUMS over its images (a mean is Σ value / Σ count,
the pooled depth metrics are functions of the summed ``stat_*`` columns) exposes, for a set of
rows, one row of statistics per image and the function from summed statistics to metrics. A
bootstrap resample is then a weighted sum (resample counts × statistics: one matrix product for
every resample at once), and the full sample (every count 1) gives exactly ``Task.aggregate``.
A task whose score is not a function of sums (a median) computes its resampled metrics itself
(:meth:`dpbench.tasks.Task.bootstrap_metrics`, with helpers such as :func:`weighted_median`).
See ``docs/statistics.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Summed statistics (any leading shape, last axis = the statistics) -> metric name -> array.
Finisher = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class AdditiveStats:
    """``values[i]``: the statistics of the i-th row (finite; 0 where the row adds nothing);
    ``finish(sums)``: the metrics of summed statistics, vectorised over the leading axes."""

    values: np.ndarray  # (n_rows, k) float64
    finish: Finisher

    def metrics_of(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The metrics of the rows weighted by ``weights`` (one row of weights per resample)."""
        return self.finish(np.asarray(weights, dtype=np.float64) @ self.values)


def numeric_column(rows: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as float64 (NaN where absent or not a number)."""
    import pandas as pd

    if name not in rows:
        return np.full(len(rows), np.nan)
    return pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=np.float64)


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (an undefined mean)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _nan_as_zero(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), 0.0, values)


def mean_stats(rows: pd.DataFrame, names: Sequence[str]) -> AdditiveStats:
    """Statistics of the per-image mean over the finite values of each column in ``names``
    (what :func:`dpbench.tasks.base.column_mean` computes): (value or 0, 1 if finite) per column."""
    names = tuple(names)
    columns = []
    for name in names:
        values = numeric_column(rows, name)
        finite = np.isfinite(values)
        columns += [np.where(finite, values, 0.0), finite.astype(np.float64)]
    matrix = np.stack(columns, axis=1) if columns else np.zeros((len(rows), 0))

    def finish(sums: np.ndarray) -> dict[str, np.ndarray]:
        return {name: ratio(sums[..., 2 * i], sums[..., 2 * i + 1]) for i, name in enumerate(names)}

    return AdditiveStats(matrix, finish)


def sum_stats(rows: pd.DataFrame, columns: Sequence[str], finish: Callable[[dict[str, np.ndarray]], dict]
              ) -> AdditiveStats:
    """Statistics that are the row values of ``columns`` themselves (NaN counted as 0, as a
    pooled ``fillna(0).sum()`` does); ``finish`` receives the sums by column name."""
    columns = tuple(columns)
    matrix = np.stack([_nan_as_zero(numeric_column(rows, c)) for c in columns], axis=1) \
        if columns else np.zeros((len(rows), 0))
    return AdditiveStats(matrix, lambda sums: finish({c: sums[..., i] for i, c in enumerate(columns)}))


def combined(parts: Sequence[AdditiveStats]) -> AdditiveStats:
    """Several statistics side by side; the metrics of every part (later parts win on a clash)."""
    widths = [part.values.shape[1] for part in parts]
    edges = np.cumsum([0, *widths])

    def finish(sums: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for part, lo, hi in zip(parts, edges[:-1], edges[1:], strict=True):
            out.update(part.finish(sums[..., lo:hi]))
        return out

    return AdditiveStats(np.concatenate([part.values for part in parts], axis=1), finish)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``np.median`` of ``values`` repeated ``weights[b]`` times, for every row ``b`` of integer
    ``weights`` (``(resamples, n)``) at once; NaN for an empty resample."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ordered = np.append(values[order], np.nan)
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64)[:, order], axis=1)
    total = cumulative[:, -1] if values.size else np.zeros(len(weights))
    below, above = np.floor((total - 1) / 2), np.ceil((total - 1) / 2)

    def at(position: np.ndarray) -> np.ndarray:  # the value at 0-based position in the sorted multiset
        index = np.sum(cumulative <= position[:, None], axis=1)
        return ordered[np.where(total > 0, index, values.size)]

    with np.errstate(invalid="ignore"):
        return (at(below) + at(above)) / 2.0
