"""Confidence intervals in a report (``dpbench report --ci 95``): every run's per-dataset number
gets its bootstrap percentile interval, and the Avg. Rank column its interval and the share of
resamples in which the row is ranked first (:mod:`dpbench.stats`; formulas in docs/statistics.md).

Printed as ``46.6 [45.1, 48.0]`` (the value, then the interval at the value's precision) in every
table format; marks (coverage flag, subset mark) stay at the end. The rows the intervals resample
are exactly those the numbers were aggregated from, so the coverage rule holds for intervals
too: an entry below full coverage gets the interval of its scored samples (or, with ``--failures
worst``, of its samples with the unscored ones at the worst value), and an entry left out of the
average rank is left out of every resample's rank. The paper's published numbers and the Δ rows
get no interval (they have no per-image rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dpbench.report.aggregate import dataset_task_rows, format_value
from dpbench.report.coverage import worst_values
from dpbench.report.tables import (
    AVG_RANK,
    DIFF,
    PAPER,
    RANK_POOLS,
    REFERENCE,
    REFERENCE_MARK,
    UNTRAINED,
    Cell,
    Row,
    SuiteSection,
    Table,
)
from dpbench.stats.bootstrap import (
    BootstrapOptions,
    Distributions,
    bootstrap_runs,
    percentile_interval,
)
from dpbench.stats.ranks import average_rank_samples, first_place_probability
from dpbench.tasks import metric_info

#: Where the share of resamples ranked first is printed after the rank interval.
FIRST_PREFIX = "1st "


@dataclass
class ReportIntervals:
    """What ``--ci`` added to a report: its options and, per suite, the average-rank samples of
    each ranked row (label -> one average rank per resample) for the rank-distribution plot."""

    options: BootstrapOptions
    rank_samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def interval_text(metric: str, value: float | None, low: float | None, high: float | None) -> str:
    """``46.6 [45.1, 48.0]``: the value and its interval, printed like the value."""
    if value is None:
        return "-"
    text = format_value(metric, value)
    if low is None or high is None:
        return text
    return f"{text} [{format_value(metric, low)}, {format_value(metric, high)}]"


def ci_note(options: BootstrapOptions, ranked: bool = False) -> str:
    """The footnote of a table with intervals (``ranked``: it has the Avg. Rank column)."""
    text = (f"[low, high]: {100 * options.level:g}% bootstrap percentile interval over the images of each "
            f"dataset ({options.resamples} resamples, seed {options.seed})")
    if ranked:
        text += (f"; for Avg. Rank, the interval of the average rank when all datasets are resampled jointly "
                 f"and '{FIRST_PREFIX}N%' the share of resamples in which the row is ranked first")
    return text + "."


def add_intervals(sections: list[SuiteSection], rows: dict, manifests: dict, *, failures: str, ties: str,
                  options: BootstrapOptions) -> ReportIntervals:
    """Annotate the sections' tables and aggregates (``agg["ci"]``) in place; ``rows`` and
    ``manifests``: run_id -> per-sample rows / manifest (as the report aggregated them);
    ``failures`` and ``ties``: the report's coverage and tie rules."""
    out = ReportIntervals(options)
    for section in sections:
        worst = worst_values(rows[a["run_id"]] for a in section.aggregates) if failures == "worst" else None
        runs = {a["run_id"]: dataset_task_rows(rows[a["run_id"]], manifests[a["run_id"]], worst)
                for a in section.aggregates}
        aggregations = {a["run_id"]: a["protocol"]["aggregation"] for a in section.aggregates}
        distributions = bootstrap_runs(runs, aggregations, options)
        for agg in section.aggregates:
            agg["ci"] = {**options.as_json(), "results": _result_intervals(agg, distributions[agg["run_id"]],
                                                                           options.level)}
        for table in section.tables:
            _annotate_cells(table, distributions, options.level)
            ranked = bool(table.columns) and table.columns[-1].metric == AVG_RANK
            if ranked:
                out.rank_samples[section.suite] = _annotate_ranks(table, distributions, options.level, section,
                                                                  ties)
            table.notes.append(ci_note(options, ranked))
    return out


def _result_intervals(agg: dict, distributions: Distributions, level: float) -> dict:
    """``{dataset: {metric: {"ci_low", "ci_high"}}}`` of the metrics the run has a value for."""
    out: dict[str, dict] = {}
    for dataset, scores in agg["results"].items():
        for metric, samples in distributions.get(dataset, {}).items():
            if scores.get(metric) is None:
                continue
            low, high = percentile_interval(samples, level)
            out.setdefault(dataset, {})[metric] = {"ci_low": low, "ci_high": high}
    return out


def _with_interval(cell: Cell, metric: str, low: float | None, high: float | None) -> None:
    """Put the interval after the printed value, before any mark."""
    plain = format_value(metric, cell.value)
    marks = cell.text[len(plain):] if cell.text.startswith(plain) else ""
    cell.text = interval_text(metric, cell.value, low, high) + marks
    cell.ci_low, cell.ci_high = low, high


def _annotate_cells(table: Table, distributions: dict[str, Distributions], level: float) -> None:
    """Every run cell of a dataset column gets its interval (paper and Δ rows none)."""
    for row in table.rows:
        if row.kind in (PAPER, DIFF) or row.run_id not in distributions:
            continue
        for column, cell in zip(table.columns, row.cells, strict=False):
            if column.metric == AVG_RANK or column.dataset is None or cell.value is None:
                continue
            samples = distributions[row.run_id].get(column.dataset, {}).get(column.metric)
            if samples is not None:
                _with_interval(cell, column.metric, *percentile_interval(samples, level))


def _rank_inputs(rows: list[Row], table: Table, distributions: dict[str, Distributions], resamples: int
                 ) -> np.ndarray:
    """``(resamples, rows, datasets)``: each row's value per resample (constant for paper rows,
    NaN where the report ranks nothing: a missing or excluded entry)."""
    columns = table.columns[:-1]
    values = np.full((resamples, len(rows), len(columns)), np.nan)
    for r, row in enumerate(rows):
        for d, (column, cell) in enumerate(zip(columns, row.cells, strict=False)):
            if cell.value is None or cell.excluded:
                continue
            samples = distributions.get(row.run_id or "", {}).get(column.dataset or "", {}).get(column.metric)
            values[:, r, d] = cell.value if samples is None or row.kind == PAPER else samples
    return values


def _annotate_ranks(table: Table, distributions: dict[str, Distributions], level: float,
                    section: SuiteSection, ties: str) -> dict[str, np.ndarray]:
    """Interval and first-place share of each row's average rank, pool by pool (as ranked)."""
    resamples = next((len(s) for d in distributions.values() for m in d.values() for s in m.values()), 0)
    higher = metric_info(table.columns[0].metric).higher_is_better
    kept: dict[str, np.ndarray] = {}
    for pool in RANK_POOLS:
        rows = [row for row in table.rows if row.kind in pool]
        if not rows or resamples == 0:
            continue
        ranks = average_rank_samples(_rank_inputs(rows, table, distributions, resamples),
                                     higher_is_better=higher, ties=ties)
        first = first_place_probability(ranks)
        for r, row in enumerate(rows):
            cell = row.cells[-1]
            if cell.value is None:
                continue
            low, high = percentile_interval(ranks[:, r], level)
            if low is None:
                continue
            text = f"{cell.value:.1f} [{low:.1f}, {high:.1f}] {FIRST_PREFIX}{100 * first[r]:.0f}%"
            cell.text = f"({text})" if row.kind in (REFERENCE, UNTRAINED) else text
            cell.ci_low, cell.ci_high = low, high
            if row.kind != PAPER:
                kept[f"{row.label} {REFERENCE_MARK}" if row.kind == REFERENCE else row.label] = ranks[:, r]
                agg = next(a for a in section.aggregates if a["run_id"] == row.run_id)
                agg.setdefault("ci", {})["avg_rank_delta1"] = {
                    "ci_low": low, "ci_high": high, "p_first": float(first[r])}
    return kept


#: Columns the CSV report gains with ``--ci`` (empty for rows without an interval).
CSV_COLUMNS = ("ci_low", "ci_high", "ci_level", "bootstrap", "seed")


def csv_fields(agg: dict, dataset: str, metric: str) -> dict[str, object]:
    """The CSV interval columns of one (run, dataset, metric) record (empty without ``--ci``)."""
    ci = agg.get("ci")
    if not ci:
        return {}
    bounds = ci.get("avg_rank_delta1", {}) if metric == "avg_rank_delta1" else \
        (ci.get("results", {}).get(dataset) or {}).get(metric, {})
    if not bounds:
        return {}
    return {"ci_low": bounds.get("ci_low"), "ci_high": bounds.get("ci_high"), "ci_level": ci["ci_level"],
            "bootstrap": ci["bootstrap"], "seed": ci["seed"]}
