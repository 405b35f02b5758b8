"""Rank stability: the distribution of each row's average rank over joint bootstrap resamples.

Every dataset's resamples are drawn once and shared by all runs
(:func:`dpbench.stats.bootstrap.bootstrap_runs`), so resample ``b`` is one joint re-draw of the
images of every dataset; in it each dataset's column is ranked with the report's tie rule
(:func:`dpbench.report.rank.rank_values`, vectorised here) and the ranks are averaged over the
datasets a row has a value on, exactly as the Avg. Rank column is. Rows without a distribution
(the paper's published numbers) keep their value in every resample.
"""

from __future__ import annotations

import numpy as np

from dpbench.report.options import DEFAULT_TIE_RULE, TIE_RULES


def column_ranks(values: np.ndarray, *, higher_is_better: bool = True, ties: str = DEFAULT_TIE_RULE) -> np.ndarray:
    """Ranks (1 = best) of the rows of ``values`` (``(resamples, rows)``) in each resample; NaN
    entries get no rank (NaN). Same tie rules as :func:`dpbench.report.rank.rank_values`."""
    if ties not in TIE_RULES:
        raise ValueError(f"unknown tie rule {ties!r}; expected one of {TIE_RULES}")
    signed = values if higher_is_better else -values
    present = np.isfinite(signed)
    mine, other = signed[:, :, None], signed[:, None, :]
    better = np.sum((other > mine) & present[:, None, :], axis=2)
    tied = np.sum((other == mine) & present[:, None, :], axis=2)  # includes itself
    best, worst = better + 1.0, better + tied * 1.0
    ranks = worst if ties == "max" else best if ties == "min" else (best + worst) / 2.0
    return np.where(present, ranks, np.nan)


def average_rank_samples(table: np.ndarray, *, higher_is_better: bool = True,
                         ties: str = DEFAULT_TIE_RULE) -> np.ndarray:
    """``table[b, row, dataset]`` → ``(resamples, rows)`` mean rank over the datasets where the
    row has a value (NaN for a row with none)."""
    ranks = np.stack([column_ranks(table[:, :, d], higher_is_better=higher_is_better, ties=ties)
                      for d in range(table.shape[2])], axis=2) if table.shape[2] else \
        np.full(table.shape, np.nan)
    counted = np.sum(np.isfinite(ranks), axis=2)
    total = np.nansum(ranks, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counted > 0, total / np.maximum(counted, 1), np.nan)


def first_place_probability(average_ranks: np.ndarray) -> np.ndarray:
    """Per row: the share of resamples in which it has the best (lowest) average rank; a tie
    for first shares the resample equally, so the probabilities of the rows sum to 1."""
    ranked = np.where(np.isfinite(average_ranks), average_ranks, np.inf)
    best = ranked.min(axis=1, keepdims=True)
    first = (ranked == best) & np.isfinite(best)
    shares = first / np.maximum(first.sum(axis=1, keepdims=True), 1)
    return shares.mean(axis=0)
