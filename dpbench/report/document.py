"""A report: the chosen runs, their aggregates and the tables of each suite (format-free)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from dpbench.progress import progress
from dpbench.report.aggregate import aggregate_rows, open_store
from dpbench.report.coverage import DEFAULT_FAILURE_MODE, check_failure_mode, worst_values
from dpbench.report.rank import DEFAULT_TIE_RULE, TIE_RULES
from dpbench.report.runtime import RuntimeSection, build_runtime_section, is_speed_run, runtime_json
from dpbench.report.tables import SuiteSection, build_suite_section, group_by_suite
from dpbench.store import RunStore

REPORT_FORMAT = "dpbench-report/1"
#: From this many runs on, reading them for a report shows progress.
MANY_RUNS = 10


@dataclass
class Report:
    """Everything every output format draws from."""

    generated: str
    stores: dict[str, RunStore]  # run_id -> store (the qualitative grid reads predictions)
    rows: dict[str, pd.DataFrame]  # run_id -> per-sample rows (the plots use them)
    aggregates: list[dict]
    sections: list[SuiteSection]
    paper: bool = False
    ties: str = DEFAULT_TIE_RULE
    failures: str = DEFAULT_FAILURE_MODE
    notes: list[str] = field(default_factory=list)  # things the reader should know (shown by every format)
    runtime: RuntimeSection | None = None  # the speed runs' Table 5-style table (dpbench.report.runtime)
    intervals: Any = None  # dpbench.report.ci.ReportIntervals with --ci


def utc_now() -> str:
    """The current time as ISO-8601 UTC, seconds precision."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_report(
    runs: Sequence[RunStore | str | os.PathLike],
    *,
    paper: bool = False,
    aggregation: str | None = None,
    ties: str = DEFAULT_TIE_RULE,
    failures: str = DEFAULT_FAILURE_MODE,
    sort: str = "rank",
    ci: Any = None,
) -> Report:
    """Aggregate ``runs`` (``aggregation`` overrides each run's own) and lay out their tables.

    ``paper`` adds the paper's published numbers to the suites that evaluate the paper's datasets;
    ``failures`` says how entries below full coverage count (:mod:`dpbench.report.coverage`);
    ``ci`` (:class:`dpbench.stats.bootstrap.BootstrapOptions`) adds bootstrap intervals.
    """
    if ties not in TIE_RULES:
        raise ValueError(f"unknown tie rule {ties!r}; expected one of {TIE_RULES}")
    check_failure_mode(failures, aggregation)
    stores: dict[str, RunStore] = {}
    rows: dict[str, pd.DataFrame] = {}
    aggregates = []
    speed: dict[str, RunStore] = {}
    runs = list(runs)
    reading = progress(total=len(runs), desc="reading runs", unit="run", enabled=len(runs) >= MANY_RUNS)
    for store in map(open_store, runs):
        reading.advance()
        if is_speed_run(store):  # no per-sample scores: the runtime table, not the suite tables
            speed[f"{store.run_id}@{store.path}" if store.run_id in speed else store.run_id] = store
            continue
        frame = store.rows()
        agg = aggregate_rows(frame, store.manifest, aggregation, status=store.status)
        if agg["run_id"] in stores:  # two folders holding the same run id: keep them apart
            agg["run_id"] = f"{agg['run_id']}@{store.path}"
        stores[agg["run_id"]], rows[agg["run_id"]] = store, frame
        aggregates.append(agg)
    reading.close()
    if failures == "worst":
        aggregates = _scored_at_worst(aggregates, stores, rows, aggregation)
    sections = [build_suite_section(group, paper=paper, ties=ties, failures=failures, sort=sort)
                for group in group_by_suite(aggregates).values()]
    intervals = None
    if ci is not None:
        from dpbench.report.ci import add_intervals

        intervals = add_intervals(sections, rows, {key: store.manifest for key, store in stores.items()},
                                  failures=failures, ties=ties, options=ci)
    notes = [f"--paper: suite {s.suite!r} does not evaluate the paper's datasets with its protocol, "
             "so no published numbers are shown for it" for s in sections if paper and not s.paper]
    speed = {f"{key}@{store.path}" if key in stores else key: store for key, store in speed.items()}
    runtime = build_runtime_section(speed, paper=paper)
    if runtime is not None:
        notes += runtime.notes
        stores.update(speed)
    return Report(utc_now(), stores, rows, aggregates, sections, paper=paper, ties=ties, failures=failures,
                  notes=notes, runtime=runtime, intervals=intervals)


def _scored_at_worst(aggregates: list[dict], stores: dict[str, RunStore], rows: dict[str, pd.DataFrame],
                     aggregation: str | None) -> list[dict]:
    """The aggregates again, every unscored sample scored at the worst value among the runs of
    its suite (the runs compared with each other)."""
    for agg in aggregates:
        check_failure_mode("worst", agg["protocol"]["aggregation"])
    out = {}
    for group in group_by_suite(aggregates).values():
        worst = worst_values(rows[agg["run_id"]] for agg in group)
        for agg in group:
            store = stores[agg["run_id"]]
            again = aggregate_rows(rows[agg["run_id"]], store.manifest, aggregation, status=agg["status"],
                                   worst=worst)
            again["run_id"] = agg["run_id"]
            out[agg["run_id"]] = again
    return [out[agg["run_id"]] for agg in aggregates]


def report_json(report: Report) -> dict:
    """The ``dpbench-report/1`` document: the aggregates, each with its average δ1 rank and the
    pool it was ranked in (models with models, references with references), and with ``--paper``
    the paper's numbers shown beside them (``paper``: suite, model, dataset, metric, value)."""
    ranks = {run_id: rank for section in report.sections for run_id, rank in section.ranks.items()}
    runs = [{**agg, "avg_rank_delta1": ranks.get(agg["run_id"]),
             "rank_pool": "references" if agg["reference"] else "models"} for agg in report.aggregates]
    document = {"format": REPORT_FORMAT, "generated": report.generated, "tie_rule": report.ties,
                "failures": report.failures, "runs": runs}
    if report.runtime is not None:
        document["runtime"] = runtime_json(report.runtime)
    from dpbench.report.render import paper_records  # render imports this module

    if paper := paper_records(report):  # with --paper: the paper's numbers shown, stored units
        document["paper"] = paper
    return document
