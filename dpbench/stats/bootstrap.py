"""Bootstrap distributions of per-dataset scores, resampling the images of each dataset.

One resample-count matrix per dataset (``counts[b, i]``: how often image ``i`` is drawn in resample
``b``) is shared by every run and task of that dataset, so the distributions of two runs are
paired (the same images in every resample) and a rank can be computed per resample. A task with
additive statistics (:meth:`dpbench.tasks.Task.additive_stats`) gets every resample from one
matrix product, a task with its own vectorised :meth:`~dpbench.tasks.Task.bootstrap_metrics` (the
focal median) from that; any other task is re-aggregated on each resample's rows (slower, same
result).
Images are identified by ``sample_id``; the images of a dataset are the union over the runs.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dpbench.errors import DpbenchError
from dpbench.tasks import get_task

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
#: Percentile-interval method (the only one; see docs/statistics.md).
METHOD = "percentile"

#: ``{dataset: {task: rows}}`` of one run (:func:`dpbench.report.aggregate.dataset_task_rows`).
RunRows = Mapping[str, Mapping[str, pd.DataFrame]]
#: ``{dataset: {metric: array of one value per resample}}`` of one run.
Distributions = dict[str, dict[str, np.ndarray]]


class StatsError(DpbenchError, ValueError):
    """A bad confidence level or number of resamples, or runs that cannot be compared."""


@dataclass(frozen=True)
class BootstrapOptions:
    """``level``: the interval's coverage as a fraction (0.95); ``resamples``: B; ``seed``."""

    level: float = 0.95
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if not (isinstance(self.level, (int, float)) and 0.0 < self.level < 1.0):
            raise StatsError(f"confidence level {self.level!r}: expected a share in (0, 1), e.g. 0.95")
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int) or self.resamples < 1:
            raise StatsError(f"--bootstrap {self.resamples!r}: expected a number of resamples ≥ 1")

    @classmethod
    def from_percent(cls, percent: float, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
                     ) -> BootstrapOptions:
        """From a level in percent (``--ci 95``)."""
        if not (isinstance(percent, (int, float)) and math.isfinite(percent) and 0.0 < percent < 100.0):
            raise StatsError(f"--ci {percent!r}: expected a confidence level in percent, between 0 and 100 "
                             "(e.g. 95)")
        return cls(float(percent) / 100.0, resamples, seed)

    def as_json(self) -> dict:
        """The facts a JSON document records next to the intervals."""
        return {"ci_level": self.level, "bootstrap": self.resamples, "seed": self.seed, "method": METHOD}


def dataset_rng(seed: int, dataset: str) -> np.random.Generator:
    """The generator of one dataset's resamples: fixed by the seed and the dataset's name, so a
    dataset's intervals do not depend on which other datasets or runs are reported."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(dataset.encode("utf-8"))])


def resample_counts(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(resamples, n)`` float64: how often each of ``n`` images is drawn in each resample of
    ``n`` draws with replacement (one index matrix, counted with one ``bincount``)."""
    if n == 0:
        return np.zeros((resamples, 0))
    dtype = np.int32 if resamples * n < 2**31 else np.int64
    draws = rng.integers(0, n, size=(resamples, n), dtype=dtype)
    draws += (np.arange(resamples, dtype=dtype) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def percentile_interval(samples: np.ndarray, level: float) -> tuple[float | None, float | None]:
    """The ``level`` percentile interval of a bootstrap distribution (NaN resamples, where the
    metric is undefined, left out); ``(None, None)`` when no resample has a value."""
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return None, None
    lo, hi = np.quantile(samples, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


def sample_universe(frames: list[pd.DataFrame]) -> pd.Index:
    """The images a dataset's resamples draw from: every sample id of the frames, sorted."""
    ids = [frame["sample_id"].astype(str) for frame in frames if len(frame) and "sample_id" in frame]
    return pd.Index(sorted(pd.unique(pd.concat(ids, ignore_index=True)))) if ids else pd.Index([])


def task_distributions(task_name: str, rows: pd.DataFrame, aggregation: str, positions: np.ndarray,
                       counts: np.ndarray) -> dict[str, np.ndarray]:
    """The task's metrics in every resample: ``counts[:, positions[r]]`` is the weight of row r.

    Additive statistics are summed per image first and multiplied with ``counts`` (no copy of the
    count matrix); otherwise the task's :meth:`~dpbench.tasks.Task.bootstrap_metrics` gets the
    rows' weights, and without that :meth:`~dpbench.tasks.Task.aggregate` runs per resample."""
    return _finished(task_name, rows, aggregation, positions, counts, _additive(task_name, rows, aggregation,
                                                                                 positions, counts.shape[1]))


def _additive(task_name: str, rows: pd.DataFrame, aggregation: str, positions: np.ndarray, images: int):
    """(statistics, their per-image sums ``(images, k)``), or None for a task without them."""
    stats = get_task(task_name).additive_stats(rows, aggregation)
    if stats is None:
        return None
    per_image = np.zeros((images, stats.values.shape[1]))
    np.add.at(per_image, positions, stats.values)
    return stats, per_image


def _finished(task_name: str, rows: pd.DataFrame, aggregation: str, positions: np.ndarray, counts: np.ndarray,
              additive, sums: np.ndarray | None = None) -> dict[str, np.ndarray]:
    task = get_task(task_name)
    if additive is not None:
        stats, per_image = additive
        metrics = stats.finish(counts @ per_image if sums is None else sums)
    else:
        weights = counts[:, positions] if len(rows) else np.zeros((counts.shape[0], 0))
        metrics = task.bootstrap_metrics(rows, aggregation, weights)
        if metrics is None:
            return _recomputed(task_name, rows, aggregation, weights)
    return {name: np.asarray(metrics[name], dtype=np.float64) for name in task.metrics if name in metrics}


def _recomputed(task_name: str, rows: pd.DataFrame, aggregation: str, weights: np.ndarray
                ) -> dict[str, np.ndarray]:
    """The fallback: :meth:`Task.aggregate` on each resample's rows (a loop over resamples)."""
    task = get_task(task_name)
    out = {name: np.full(weights.shape[0], np.nan) for name in task.metrics}
    index = np.arange(len(rows))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an empty resample has undefined metrics
        for b in range(weights.shape[0]):
            taken = rows.iloc[np.repeat(index, weights[b].astype(np.int64))]
            for name, value in task.aggregate(taken, aggregation).items():
                if name in out and value is not None:
                    out[name][b] = value
    return out


def bootstrap_dataset(dataset: str, runs: Mapping[str, Mapping[str, pd.DataFrame]],
                      aggregations: Mapping[str, str], options: BootstrapOptions) -> dict[str, dict[str, np.ndarray]]:
    """``{key: {metric: distribution}}`` of one dataset for several runs (``runs[key][task]`` =
    the rows the task aggregates), all resampled with the same counts, i.e. paired. The additive
    statistics of every run and task are multiplied with the counts in one matrix product."""
    universe = sample_universe([frame for tasks in runs.values() for frame in tasks.values()])
    counts = resample_counts(len(universe), options.resamples, dataset_rng(options.seed, dataset))
    parts = []  # (key, task, rows, positions, additive)
    for key, tasks in runs.items():
        for task_name, rows in tasks.items():
            positions = (universe.get_indexer(rows["sample_id"].astype(str)) if len(rows)
                         else np.zeros(0, dtype=np.int64))
            parts.append((key, task_name, rows, positions,
                          _additive(task_name, rows, aggregations[key], positions, len(universe))))
    blocks = [part[4][1] for part in parts if part[4] is not None]
    product = counts @ np.concatenate(blocks, axis=1) if blocks else None
    out: dict[str, dict[str, np.ndarray]] = {key: {} for key in runs}
    column = 0
    for key, task_name, rows, positions, additive in parts:
        sums = None
        if additive is not None:
            width = additive[1].shape[1]
            sums, column = product[:, column:column + width], column + width
        out[key].update(_finished(task_name, rows, aggregations[key], positions, counts, additive, sums))
    return out


def bootstrap_runs(runs: Mapping[str, RunRows], aggregations: Mapping[str, str],
                   options: BootstrapOptions) -> dict[str, Distributions]:
    """``{key: {dataset: {metric: distribution}}}`` of several runs, paired per dataset."""
    datasets: list[str] = []
    for per_dataset in runs.values():
        datasets += [name for name in per_dataset if name not in datasets]
    out: dict[str, Distributions] = {key: {} for key in runs}
    for dataset in datasets:
        present = {key: per_dataset[dataset] for key, per_dataset in runs.items() if dataset in per_dataset}
        for key, metrics in bootstrap_dataset(dataset, present, aggregations, options).items():
            out[key][dataset] = metrics
    return out
