"""Turn a run's per-sample rows into per-dataset scores (the numbers every table shows).

Aggregation (the paper does not state it; PAPER.md §7):
- ``per_image`` (default): each depth metric is the mean over images of the per-image value;
  images whose value is undefined (no valid pixel) are left out of that mean.
- ``pooled``: the depth metrics are computed once from the dataset's pixels pooled together, by
  summing the additive statistics stored per image (``stat_*`` columns) and calling
  :func:`dpbench.metrics.depth.metrics_from_stats`.
Boundary F1/recall are per-image means under both settings (they have no pooled form); the focal
metrics are computed over the images' focal errors by :func:`dpbench.metrics.focal.focal_metrics`.
Rows with status "error" are counted in ``num_errors`` and left out of every mean. The metrics of
each task are those of ``datasets/suites.toml`` [task_metrics] (:func:`dpbench.suites.task_metrics`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from dpbench._table import format_table
from dpbench.errors import DpbenchError
from dpbench.metrics import METRICS
from dpbench.metrics.depth import metrics_from_stats
from dpbench.metrics.focal import focal_metrics
from dpbench.store import RunStore
from dpbench.suites import task_metrics
from dpbench.types import TASKS

AGGREGATIONS = ("per_image", "pooled")
DEFAULT_AGGREGATION = "per_image"

#: focal_metrics() key -> the catalogue's metric name.
_FOCAL_KEYS = {"abs_rel": "focal_abs_rel", "delta_25": "focal_delta_25",
               "delta_50": "focal_delta_50", "median_rel": "focal_median_rel"}
_STAT_PREFIX = "stat_"


def open_store(run: RunStore | str | os.PathLike) -> RunStore:
    """Accept a :class:`RunStore` or the path of a run folder."""
    return run if isinstance(run, RunStore) else RunStore(run)


def _number(value: Any) -> float | None:
    """A finite float, or None for missing/NaN/inf (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _mean(column: pd.Series) -> float | None:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else None


def _depth_scores(ok: pd.DataFrame, aggregation: str) -> dict[str, float | None]:
    names = task_metrics()["metric_depth"]
    if aggregation == "per_image":
        return {name: _mean(ok[name]) if name in ok else None for name in names}
    stat_columns = [c for c in ok.columns if c.startswith(_STAT_PREFIX)]
    if not stat_columns:
        raise DpbenchError("pooled aggregation needs the stat_* columns, and this run has none")
    sums = {c[len(_STAT_PREFIX):]: float(pd.to_numeric(ok[c], errors="coerce").fillna(0).sum())
            for c in stat_columns}
    pooled = metrics_from_stats(sums)
    return {name: _number(pooled.get(name)) for name in names}


def _focal_scores(ok: pd.DataFrame) -> dict[str, float | None]:
    """Focal metrics over the scored images; a missing prediction counts as a failure (inf error)."""
    names = task_metrics()["focal"]
    if "focal_pred" not in ok or "focal_gt" not in ok:
        return dict.fromkeys(names)
    pred = pd.to_numeric(ok["focal_pred"], errors="coerce").to_numpy(dtype=float)
    gt = pd.to_numeric(ok["focal_gt"], errors="coerce").to_numpy(dtype=float)
    has_gt = np.isfinite(gt) & (gt > 0)
    if not has_gt.any():
        return dict.fromkeys(names)
    scores = focal_metrics(pred[has_gt], gt[has_gt])
    by_name = {name: scores[key] for key, name in _FOCAL_KEYS.items()}
    return {name: _number(by_name.get(name)) for name in names}


def _task_scores(task: str, ok: pd.DataFrame, aggregation: str) -> dict[str, float | None]:
    if task == "metric_depth":
        return _depth_scores(ok, aggregation)
    if task == "focal":
        return _focal_scores(ok)
    return {name: _mean(ok[name]) if name in ok else None for name in task_metrics().get(task, ())}


def _dataset_order(manifest: dict, rows: pd.DataFrame) -> list[str]:
    names = [entry["name"] for entry in manifest.get("datasets", [])]
    if len(rows):
        names += [name for name in pd.unique(rows["dataset"]) if name not in names]
    return names


def aggregate_rows(rows: pd.DataFrame, manifest: dict, aggregation: str | None = None,
                   status: str | None = None) -> dict:
    """:func:`aggregate_run` on rows and a manifest already in memory (``status`` overrides the
    manifest's, e.g. a 'running' run whose process is gone is 'interrupted')."""
    protocol = dict(manifest.get("protocol") or {})
    aggregation = aggregation or protocol.get("aggregation") or DEFAULT_AGGREGATION
    if aggregation not in AGGREGATIONS:
        raise DpbenchError(f"unknown aggregation {aggregation!r}; expected one of {', '.join(AGGREGATIONS)}")
    protocol["aggregation"] = aggregation
    model = dict(manifest.get("model") or {})
    entries = {entry["name"]: entry for entry in manifest.get("datasets", [])}

    results: dict[str, dict[str, Any]] = {}
    datasets: dict[str, dict[str, Any]] = {}
    for name in _dataset_order(manifest, rows):
        entry = entries.get(name, {})
        part = rows[rows["dataset"] == name] if len(rows) else rows
        datasets[name] = {key: entry.get(key) for key in
                          ("status", "reason", "split", "num_samples", "protocol_hash", "tasks")}
        if part.empty:
            continue
        ok = part[part["status"] == "ok"]
        scores: dict[str, Any] = {}
        present = set(pd.unique(part["task"]))
        for task in [t for t in TASKS if t in present] + sorted(present - set(TASKS)):
            scores.update(_task_scores(task, ok[ok["task"] == task], aggregation))
        scores["num_samples"] = int(part["sample_id"].nunique())
        scores["num_errors"] = int(part.loc[part["status"] != "ok", "sample_id"].nunique())
        results[name] = scores
    return {
        "run_id": manifest.get("run_id"),
        "model": model,
        "suite": manifest.get("suite"),
        "reference": bool(model.get("reads_ground_truth", False)),
        "status": status or manifest.get("status"),
        "created": manifest.get("created"),
        "protocol": protocol,
        "environment": dict(manifest.get("environment") or {}),
        "limit": manifest.get("limit"),
        "datasets": datasets,
        "results": results,
    }


def aggregate_run(store: RunStore | str | os.PathLike, aggregation: str | None = None) -> dict:
    """Per-dataset scores of one run (the store contract's aggregate).

    Returns ``{"run_id", "model", "suite", "reference", "status", "created", "protocol",
    "environment", "limit", "datasets": {name: manifest facts},
    "results": {dataset: {metric: value, "num_samples": n,
    "num_errors": k}}}``; ``aggregation`` overrides the run's own setting ("per_image" | "pooled").
    δ values are fractions; an undefined score is None.
    """
    store = open_store(store)
    return aggregate_rows(store.rows(), store.manifest, aggregation, status=store.status)


# --- the end-of-run summary -------------------------------------------------------------------

_SUMMARY_COLUMNS = (  # (metric, column title)
    ("delta1", "δ1 %"), ("abs_rel", "AbsRel"), ("boundary_f1", "F1"),
    ("boundary_recall", "recall"), ("focal_delta_25", "focal δ25 %"),
)


def format_value(metric: str, value: float | None, digits: int | None = None) -> str:
    """A score as the paper prints it: percent metrics ×100 with 1 decimal, others 3 decimals."""
    if value is None:
        return "-"
    info = METRICS[metric]
    if info.percent:
        return f"{100.0 * value:.{1 if digits is None else digits}f}"
    return f"{value:.{3 if digits is None else digits}f}"


def summary_rows(aggregate: dict) -> list[dict[str, str]]:
    """One plain row per dataset of an aggregate (for :func:`summarize_run`)."""
    rows = []
    for name, facts in aggregate["datasets"].items():
        scores = aggregate["results"].get(name)
        row = {"dataset": name, "status": facts.get("status") or ("complete" if scores else "-")}
        if scores:
            row["samples"] = str(scores["num_samples"])
            row["errors"] = str(scores["num_errors"])
            for metric, title in _SUMMARY_COLUMNS:
                if metric in scores:
                    row[title] = format_value(metric, scores[metric])
        elif facts.get("reason"):
            row["status"] = f"{row['status']}: {facts['reason']}"
        rows.append(row)
    return rows


def _present_columns(rows: Iterable[dict[str, str]]) -> list[str]:
    rows = list(rows)
    columns = ["dataset", "status", "samples", "errors"]
    columns += [title for _, title in _SUMMARY_COLUMNS if any(title in row for row in rows)]
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
