"""Rank stability: the vectorised per-resample ranks against dpbench.report.rank, first-place shares."""

from __future__ import annotations

import numpy as np
import pytest

from dpbench.report.rank import average_ranks, rank_values
from dpbench.stats.ranks import average_rank_samples, column_ranks, first_place_probability


@pytest.mark.parametrize("ties", ["max", "min", "average"])
@pytest.mark.parametrize("higher", [True, False])
def test_column_ranks_equal_rank_values_in_every_resample(ties, higher):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 4, size=(40, 5)).astype(float)  # many ties
    values[rng.random(values.shape) < 0.15] = np.nan  # missing entries get no rank
    ranks = column_ranks(values, higher_is_better=higher, ties=ties)
    for b in range(values.shape[0]):
        column = {r: (None if np.isnan(v) else v) for r, v in enumerate(values[b])}
        expected = rank_values(column, higher_is_better=higher, ties=ties)
        for r in range(values.shape[1]):
            if r in expected:
                assert ranks[b, r] == expected[r]
            else:
                assert np.isnan(ranks[b, r])


def test_average_rank_samples_equal_average_ranks_per_resample():
    rng = np.random.default_rng(1)
    table = rng.normal(size=(25, 4, 3))
    table[:, 2, 1] = np.nan  # row 2 has no value on dataset 1: averaged over the other two
    samples = average_rank_samples(table, higher_is_better=True, ties="max")
    for b in range(25):
        by_row = {r: {d: (None if np.isnan(table[b, r, d]) else table[b, r, d]) for d in range(3)} for r in range(4)}
        expected = average_ranks(by_row, higher_is_better=True, ties="max")
        assert np.allclose(samples[b], [expected[r] for r in range(4)])


def test_first_place_probability_by_hand():
    ranks = np.array([[1.0, 2.0, 3.0],
                      [2.0, 1.0, 3.0],
                      [1.5, 1.5, 3.0],   # a tie for first shares the resample
                      [1.0, np.nan, 2.0]])
    assert np.allclose(first_place_probability(ranks), [(1 + 0 + 0.5 + 1) / 4, (0 + 1 + 0.5 + 0) / 4, 0.0])
    assert first_place_probability(ranks).sum() == pytest.approx(1.0)
