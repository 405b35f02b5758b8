"""Turn a run's per-sample rows into per-dataset scores (the numbers every table shows).

Each task aggregates its own rows (:meth:`dpbench.tasks.Task.aggregate`): the depth task per image
or pooled over the dataset's pixels (``--aggregation``; the paper does not state it, see
``docs/paper.md`` §7), the boundary tasks per image, the focal task over the images' focal errors.
Rows with status "error" are counted in ``num_errors``; each entry carries its coverage (scored /
expected samples), and what a report does with an entry below 100 % is the one rule of
:mod:`dpbench.report.coverage`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import pandas as pd

from dpbench._table import format_table
from dpbench.errors import DpbenchError
from dpbench.oom import is_oom_text
from dpbench.protocol import AGGREGATIONS
from dpbench.report.coverage import expected_samples, filled_rows, fraction, task_coverage
from dpbench.store import RunStore
from dpbench.tasks import get_task, list_tasks, metric_info, task_names

DEFAULT_AGGREGATION = "per_image"


def open_store(run: RunStore | str | os.PathLike) -> RunStore:
    """Accept a :class:`RunStore` or the path of a run folder."""
    return run if isinstance(run, RunStore) else RunStore(run)


def _dataset_order(manifest: dict, rows: pd.DataFrame) -> list[str]:
    names = [entry["name"] for entry in manifest.get("datasets", [])]
    if len(rows):
        names += [name for name in pd.unique(rows["dataset"]) if name not in names]
    return names


def scored_task_rows(part: pd.DataFrame, dataset: str, expected: int, worst: dict | None = None
                     ) -> tuple[dict[str, dict[str, int]], dict[str, pd.DataFrame]]:
    """One dataset's coverage per task and the rows each task aggregates: its ``ok`` rows, plus
    the unscored samples at the worst value when ``worst`` is given (tasks in canonical order)."""
    ok = part[part["status"] == "ok"]
    present = set(pd.unique(part["task"]))
    tasks = [t for t in task_names() if t in present]
    counts = task_coverage(part, tasks, expected)
    scored: dict[str, pd.DataFrame] = {}
    for task in tasks:
        rows = ok[ok["task"] == task]
        if worst is not None:
            missing = counts[task]["expected"] - counts[task]["scored"]
            rows = filled_rows(rows, dataset, task, missing, worst)
        scored[task] = rows
    return counts, scored


def dataset_task_rows(rows: pd.DataFrame, manifest: dict, worst: dict | None = None
                      ) -> dict[str, dict[str, pd.DataFrame]]:
    """``{dataset: {task: rows}}``: the rows :func:`aggregate_rows` aggregates, per dataset and task."""
    entries = {entry["name"]: entry for entry in manifest.get("datasets", [])}
    out = {}
    for name in _dataset_order(manifest, rows):
        part = rows[rows["dataset"] == name] if len(rows) else rows
        if not part.empty:
            out[name] = scored_task_rows(part, name, expected_samples(entries.get(name, {}), part), worst)[1]
    return out


def aggregate_rows(rows: pd.DataFrame, manifest: dict, aggregation: str | None = None,
                   status: str | None = None, worst: dict | None = None) -> dict:
    """:func:`aggregate_run` on rows and a manifest already in memory (``status`` overrides the
    manifest's, e.g. a 'running' run whose process is gone is 'interrupted'). ``worst``
    (:func:`dpbench.report.coverage.worst_values`) scores every unscored sample at the worst value."""
    protocol = dict(manifest.get("protocol") or {})
    aggregation = aggregation or protocol.get("aggregation") or DEFAULT_AGGREGATION
    if aggregation not in AGGREGATIONS:
        raise DpbenchError(f"unknown aggregation {aggregation!r}; expected one of {', '.join(AGGREGATIONS)}")
    protocol["aggregation"] = aggregation
    model = dict(manifest.get("model") or {})
    entries = {entry["name"]: entry for entry in manifest.get("datasets", [])}

    results: dict[str, dict[str, Any]] = {}
    coverage: dict[str, dict[str, dict[str, int]]] = {}
    datasets: dict[str, dict[str, Any]] = {}
    for name in _dataset_order(manifest, rows):
        entry = entries.get(name, {})
        part = rows[rows["dataset"] == name] if len(rows) else rows
        datasets[name] = {key: entry.get(key) for key in
                          ("status", "reason", "split", "num_samples", "expected_samples",
                                              "protocol_hash", "tasks")}
        if part.empty:
            continue
        scores: dict[str, Any] = {}
        expected = expected_samples(entry, part)
        counts, scored_by_task = scored_task_rows(part, name, expected, worst)
        for task, scored in scored_by_task.items():
            scores.update(get_task(task).aggregate(scored, aggregation))
        scores["num_samples"] = int(part["sample_id"].nunique())
        scores["num_errors"] = int(part.loc[part["status"] != "ok", "sample_id"].nunique())
        datasets[name]["num_oom"] = count_oom_samples(part)  # a fact, not a score (dpbench check)
        scores["num_expected"] = max((c["expected"] for c in counts.values()), default=expected)
        scores["num_scored"] = min((c["scored"] for c in counts.values()), default=0)
        scores["coverage"] = min((fraction(c) for c in counts.values()), default=0.0)
        coverage[name] = counts
        results[name] = scores
    return {
        "run_id": manifest.get("run_id"),
        "model": model,
        "model_options": dict(manifest.get("model_options") or {}),
        "rescored_from": manifest.get("rescored_from"),
        "suite": manifest.get("suite"),
        "reference": bool(model.get("reads_ground_truth", False)),
        "status": status or manifest.get("status"),
        "created": manifest.get("created"),
        "protocol": protocol,
        "environment": dict(manifest.get("environment") or {}),
        "limit": manifest.get("limit"),
        "datasets": datasets,
        "results": results,
        "coverage": coverage,
        "failures": "worst" if worst is not None else "exclude",
    }


def aggregate_run(store: RunStore | str | os.PathLike, aggregation: str | None = None) -> dict:
    """Per-dataset scores of one run (the store contract's aggregate).

    Returns ``{"run_id", "model", "model_options", "rescored_from", "suite", "reference", "status", "created", "protocol",
    "environment", "limit", "datasets": {name: manifest facts},
    "results": {dataset: {metric: value, "num_samples": n, "num_errors": k, "num_expected": N,
    "num_scored": s, "coverage": s/N}}, "coverage": {dataset: {task: {"scored", "expected"}}},
    "failures": "exclude" | "worst"}``; ``aggregation`` overrides the run's own setting ("per_image" | "pooled").
    δ values are fractions; an undefined score is None.
    """
    store = open_store(store)
    return aggregate_rows(store.rows(), store.manifest, aggregation, status=store.status)


# --- the end-of-run summary -------------------------------------------------------------------

def _summary_columns() -> list[tuple[str, str]]:
    """(metric, column title) of the end-of-run summary: each task's summary metrics."""
    columns = []
    for task in list_tasks():
        for metric in task.summary_metrics:
            info = metric_info(metric)
            title = task.summary_titles.get(metric, info.label)
            columns.append((metric, f"{title} %" if info.percent else title))
    return columns


def count_oom_samples(rows: pd.DataFrame) -> int:
    """Samples with an error row recording an allocation failure (text ``OOM...``, dpbench.oom)."""
    if "error" not in rows.columns or rows.empty:
        return 0
    failed = rows[(rows["status"] != "ok") & rows["error"].map(is_oom_text)]
    return int(failed["sample_id"].nunique())


def format_value(metric: str, value: float | None, digits: int | None = None) -> str:
    """A score as the paper prints it: percent metrics ×100 with 1 decimal, others 3 decimals."""
    if value is None:
        return "-"
    info = metric_info(metric)
    if info.percent:
        return f"{100.0 * value:.{1 if digits is None else digits}f}"
    return f"{value:.{3 if digits is None else digits}f}"


def format_signed(metric: str, value: float | None) -> str:
    """A difference as :func:`format_value` prints it, with its sign (``+1.2``, ``−0.034``)."""
    if value is None:
        return "-"
    return ("+" if value >= 0 else "−") + format_value(metric, abs(value))


def summary_rows(aggregate: dict) -> list[dict[str, str]]:
    """One plain row per dataset of an aggregate (for :func:`summarize_run`)."""
    rows = []
    for name, facts in aggregate["datasets"].items():
        scores = aggregate["results"].get(name)
        row = {"dataset": name, "status": facts.get("status") or ("complete" if scores else "-")}
        if scores:
            row["samples"] = str(scores["num_samples"])
            row["errors"] = str(scores["num_errors"])
            for metric, title in _summary_columns():
                if metric in scores:
                    row[title] = format_value(metric, scores[metric])
        elif facts.get("reason"):
            row["status"] = f"{row['status']}: {facts['reason']}"
        rows.append(row)
    return rows


def _present_columns(rows: Iterable[dict[str, str]]) -> list[str]:
    rows = list(rows)
    columns = ["dataset", "status", "samples", "errors"]
    columns += [title for _, title in _summary_columns() if any(title in row for row in rows)]
    return columns


def summarize_run(store: RunStore | str | os.PathLike) -> str:
    """The text table the runner prints at the end of ``dpbench run``: one line per dataset."""
    aggregate = aggregate_run(store)
    model = aggregate["model"].get("name", "?")
    marker = " (reference: reads the ground truth)" if aggregate["reference"] else ""
    head = (f"run {aggregate['run_id']}  model {model}{marker}  suite {aggregate['suite']}  "
            f"status {aggregate['status']}  aggregation {aggregate['protocol']['aggregation']}")
    rows = summary_rows(aggregate)
    return head + "\n" + format_table(rows, _present_columns(rows))
