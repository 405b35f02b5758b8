"""Paired comparison of two runs of the same suite (``dpbench compare RUN_A RUN_B``).

Per dataset and metric: Δ = B − A (in stored units), its paired-bootstrap percentile interval
(both runs resampled with the same images: :func:`dpbench.stats.bootstrap.bootstrap_runs`) and a
verdict for B: ``better`` / ``worse`` when the interval lies wholly on one side of zero (in the
metric's own direction), else ``not distinguishable``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dpbench.report.aggregate import (
    aggregate_rows,
    dataset_task_rows,
    format_signed,
    format_value,
    open_store,
)
from dpbench.report.coverage import is_flagged
from dpbench.report.identity import model_label
from dpbench.stats.bootstrap import (
    BootstrapOptions,
    StatsError,
    bootstrap_runs,
    percentile_interval,
)
from dpbench.store import RunStore
from dpbench.tasks import all_metrics, list_tasks, metric_info

BETTER, WORSE, INDISTINGUISHABLE = "better", "worse", "not distinguishable"
COMPARE_FORMAT = "dpbench-compare/1"


@dataclass
class Difference:
    """One (dataset, metric): the two values, Δ = B − A and Δ's interval; ``flagged``: an entry
    below full coverage (computed on its scored samples)."""

    dataset: str
    metric: str
    a: float | None
    b: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str
    flagged: bool = False


@dataclass
class RunComparison:
    """Everything ``dpbench compare`` prints."""

    run_a: str
    run_b: str
    label_a: str
    label_b: str
    suite: str
    aggregation: str
    options: BootstrapOptions
    differences: list[Difference] = field(default_factory=list)


def verdict(metric: str, low: float | None, high: float | None) -> str:
    """B's verdict from the interval of Δ = B − A (direction-aware)."""
    if low is None or high is None or low <= 0.0 <= high:
        return INDISTINGUISHABLE
    improved = low > 0.0 if metric_info(metric).higher_is_better else high < 0.0
    return BETTER if improved else WORSE


def default_metrics() -> list[str]:
    """The metrics compared by default: each task's summary metrics (δ1, AbsRel, F1, …)."""
    return [m for task in list_tasks() for m in task.summary_metrics]


def _aggregation(stores: Sequence[RunStore], aggregation: str | None) -> str:
    if aggregation is not None:
        return aggregation
    own = {str((s.manifest.get("protocol") or {}).get("aggregation") or "per_image") for s in stores}
    if len(own) > 1:
        raise StatsError(f"the runs aggregate differently ({', '.join(sorted(own))}); pass --aggregation")
    return own.pop()


def compare_runs(run_a: RunStore | str | os.PathLike, run_b: RunStore | str | os.PathLike, *,
                 metrics: Sequence[str] | None = None, aggregation: str | None = None,
                 options: BootstrapOptions | None = None) -> RunComparison:
    """Compare run B with run A on every dataset both scored (see the module docstring)."""
    options = options or BootstrapOptions()
    store_a, store_b = open_store(run_a), open_store(run_b)
    suites = (store_a.manifest.get("suite"), store_b.manifest.get("suite"))
    if suites[0] != suites[1]:
        raise StatsError(f"runs {store_a.run_id} and {store_b.run_id} evaluate different suites "
                         f"({suites[0]!r}, {suites[1]!r}); a paired comparison needs the same images")
    known = all_metrics()
    chosen = list(metrics) if metrics else default_metrics()
    unknown = [m for m in chosen if m not in known]
    if unknown:
        from dpbench.errors import UnknownNameError

        raise UnknownNameError("metric", unknown[0], known)
    aggregation = _aggregation((store_a, store_b), aggregation)
    rows = {"a": store_a.rows(), "b": store_b.rows()}
    manifests = {"a": store_a.manifest, "b": store_b.manifest}
    aggs = {key: aggregate_rows(rows[key], manifests[key], aggregation) for key in rows}
    per_dataset = {key: dataset_task_rows(rows[key], manifests[key]) for key in rows}
    distributions = bootstrap_runs(per_dataset, {"a": aggregation, "b": aggregation}, options)
    result = RunComparison(str(store_a.run_id), str(store_b.run_id), model_label(store_a.manifest),
                           model_label(store_b.manifest), str(suites[0]), aggregation, options)
    for dataset in aggs["a"]["results"]:
        if dataset not in aggs["b"]["results"]:
            continue
        for metric in chosen:
            a, b = aggs["a"]["results"][dataset].get(metric), aggs["b"]["results"][dataset].get(metric)
            if a is None and b is None:
                continue
            delta = None if a is None or b is None else b - a
            low = high = None
            da = distributions["a"].get(dataset, {}).get(metric)
            db = distributions["b"].get(dataset, {}).get(metric)
            if delta is not None and da is not None and db is not None:
                low, high = percentile_interval(np.asarray(db) - np.asarray(da), options.level)
            flagged = is_flagged(aggs["a"], dataset, metric) or is_flagged(aggs["b"], dataset, metric)
            result.differences.append(Difference(dataset, metric, a, b, delta, low, high,
                                                 verdict(metric, low, high), flagged))
    return result


def format_comparison(result: RunComparison) -> str:
    """The comparison as a text table, with a one-line header and a footnote."""
    from dpbench._table import format_table

    rows = []
    for d in result.differences:
        interval = "-" if d.ci_low is None else f"[{format_signed(d.metric, d.ci_low)}, {format_signed(d.metric, d.ci_high)}]"
        info = metric_info(d.metric)
        rows.append({"dataset": d.dataset, "metric": info.label + (" %" if info.percent and "%" not in info.label else ""),
                     "A": format_value(d.metric, d.a) + ("*" if d.flagged else ""),
                     "B": format_value(d.metric, d.b), "B − A": format_signed(d.metric, d.delta),
                     f"{100 * result.options.level:g}% CI": interval, "B is": d.verdict})
    head = (f"A = {result.label_a} [{result.run_a}]\nB = {result.label_b} [{result.run_b}]\n"
            f"suite {result.suite}, aggregation {result.aggregation}; paired bootstrap over the images of "
            f"each dataset ({result.options.resamples} resamples, seed {result.options.seed})")
    lines = [head]
    if rows:
        lines.append(format_table(rows, list(rows[0])))
    else:
        lines.append("no dataset scored by both runs")
    if any(d.flagged for d in result.differences):
        lines.append("* below full coverage in A or B: computed on the scored samples only")
    better = sum(d.verdict == BETTER for d in result.differences)
    worse = sum(d.verdict == WORSE for d in result.differences)
    lines.append(f"B is better on {better}, worse on {worse}, not distinguishable on "
                 f"{len(result.differences) - better - worse} of {len(result.differences)} comparisons")
    return "\n".join(lines)


def comparison_json(result: RunComparison) -> dict:
    """The comparison as a JSON document (values in stored units, δ as fractions)."""
    return {"format": COMPARE_FORMAT, "run_a": result.run_a, "run_b": result.run_b,
            "model_a": result.label_a, "model_b": result.label_b, "suite": result.suite,
            "aggregation": result.aggregation, **result.options.as_json(),
            "differences": [{"dataset": d.dataset, "metric": d.metric, "a": d.a, "b": d.b, "delta": d.delta,
                             "ci_low": d.ci_low, "ci_high": d.ci_high, "verdict": d.verdict,
                             "below_full_coverage": d.flagged} for d in result.differences]}
