"""``dpbench check --significant``: a drop counts only when its bootstrap interval excludes zero.

The drop of a metric is direction-aware as in :mod:`dpbench.check` (baseline − run where higher is
better, run − baseline where lower is better). Its interval is

- **paired** when the baseline run's rows are at hand (a run folder whose id is the baseline
  entry's ``run_id``, looked up in the runs folder): both runs are resampled with the same images
  and the interval is the percentile interval of the per-resample drops;
- **unpaired** otherwise: the percentile interval of the drop with the run resampled and the
  baseline value fixed, each side widened in quadrature by the half-width of the baseline's own
  interval when the baseline was written with ``dpbench report --ci`` (independent errors).

A comparison beyond the tolerance whose interval contains zero becomes :data:`WITHIN_NOISE`
(not a regression, not an improvement); coverage and error counts are compared as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from dpbench.errors import DpbenchError
from dpbench.report.aggregate import dataset_task_rows
from dpbench.stats.bootstrap import BootstrapOptions, bootstrap_runs, percentile_interval
from dpbench.store import RunStore
from dpbench.tasks import all_metrics

#: The verdict of a change beyond the tolerance that the interval cannot tell from zero.
WITHIN_NOISE = "within noise"


def baseline_store(baseline: Mapping, runs_dir) -> RunStore | None:
    """The run folder of the baseline entry (its ``run_id`` in ``runs_dir``), if it is there."""
    from dpbench.report.select import open_run

    run_id = baseline.get("run_id")
    if not run_id or runs_dir is None:
        return None
    try:
        return open_run(str(run_id), runs_dir)
    except DpbenchError:
        return None


def _drop_samples(metric: str, run: np.ndarray, base: np.ndarray | float) -> np.ndarray:
    higher = all_metrics()[metric].higher_is_better
    return (base - run) if higher else (run - base)


def _widened(point: float, low: float, high: float, base_ci: Mapping | None) -> tuple[float, float]:
    """The unpaired interval, each side widened by the baseline's half-width in quadrature."""
    if not base_ci or base_ci.get("ci_low") is None or base_ci.get("ci_high") is None:
        return low, high
    half = (float(base_ci["ci_high"]) - float(base_ci["ci_low"])) / 2.0
    return point - math.hypot(point - low, half), point + math.hypot(high - point, half)


def apply_significance(result, run: RunStore, baseline: Mapping, options: BootstrapOptions,
                       runs_dir=None) -> bool:
    """Give each metric comparison of ``result`` (:class:`dpbench.check.CheckResult`) its drop
    interval and turn the verdicts the interval cannot support into :data:`WITHIN_NOISE`;
    returns whether the intervals are paired."""
    from dpbench.check import IMPROVED, REGRESSED

    aggregation = (baseline.get("protocol") or {}).get("aggregation") or "per_image"
    base_run = baseline_store(baseline, runs_dir)
    paired = base_run is not None and base_run.manifest.get("suite") == run.manifest.get("suite")
    runs = {"run": dataset_task_rows(run.rows(), run.manifest)}
    if paired:
        runs["base"] = dataset_task_rows(base_run.rows(), base_run.manifest)
    distributions = bootstrap_runs(runs, dict.fromkeys(runs, aggregation), options)
    known = all_metrics()
    intervals = (baseline.get("ci") or {}).get("results") or {}
    for comparison in result.comparisons:
        if comparison.metric not in known or comparison.delta is None:
            continue
        ours = distributions["run"].get(comparison.dataset, {}).get(comparison.metric)
        if ours is None:
            continue
        theirs = distributions.get("base", {}).get(comparison.dataset, {}).get(comparison.metric)
        base = theirs if paired and theirs is not None else comparison.baseline
        low, high = percentile_interval(_drop_samples(comparison.metric, ours, base), options.level)
        if low is None:
            continue
        if base is comparison.baseline:
            point = -comparison.delta if known[comparison.metric].higher_is_better else comparison.delta
            low, high = _widened(point, low, high,
                                 (intervals.get(comparison.dataset) or {}).get(comparison.metric))
        comparison.drop_low, comparison.drop_high = low, high
        if comparison.verdict == REGRESSED and low <= 0.0:
            comparison.verdict = WITHIN_NOISE
        elif comparison.verdict == IMPROVED and high >= 0.0:
            comparison.verdict = WITHIN_NOISE
    return paired


def significance_text(options: BootstrapOptions, paired: bool) -> str:
    """The line ``dpbench check`` prints above the table with ``--significant``."""
    how = ("paired with the baseline run's rows" if paired else
           "unpaired: the run resampled, the baseline fixed (widened by its own interval if it has one)")
    return (f"--significant: a change beyond the tolerance counts only if its {100 * options.level:g}% "
            f"bootstrap interval excludes zero ({how}; {options.resamples} resamples, seed {options.seed})")
