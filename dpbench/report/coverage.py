"""The one rule by which a failure never improves a score: coverage.

A dataset entry's *coverage* is the share of its expected samples that were scored: expected =
the samples selected for the run (the manifest's ``num_samples``, i.e. after ``--limit``), scored
= samples with an ``ok`` row of the task; error rows and samples never evaluated count as not
scored. Coverage is kept per task (a metric's cell uses its task's coverage) and, as the smallest
over the dataset's tasks, in the dataset's results (``coverage``, ``num_scored``, ``num_expected``),
so JSON, CSV and ``dpbench check`` carry it.

What a report does with an entry below 100 % is set by ``--failures``:

- ``exclude`` (default): the value, computed on the scored samples only, is printed with
  :data:`FLAG` and a footnote, and it is left out of bolding and of the average rank exactly like
  a missing entry (the paper's rule for its OOM cells); an entry whose failed samples all ran out
  of memory (``OOM`` error rows, :mod:`dpbench.oom`) is printed ``OOM`` instead, like the paper's;
- ``worst``: every unscored sample is scored at the worst value instead: a metric where higher is
  better (δ, F1, recall) at 0, one where lower is better at the dataset's worst per-image value
  among the compared runs; the entry is then ranked and may be bolded, still flagged. The focal
  task scores an unscored image as a relative focal error of the worst observed, at least 100 %,
  so it falls outside every δ threshold. Pooled aggregation has no per-image value to fill in,
  so ``worst`` needs ``per_image``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from dpbench.errors import DpbenchError
from dpbench.report.options import DEFAULT_FAILURE_MODE, FAILURE_MODES
from dpbench.tasks import get_task, task_names

__all__ = ["DEFAULT_FAILURE_MODE", "FAILURE_MODES", "FLAG", "check_failure_mode", "entry_coverage",
           "is_flagged", "is_oom_entry", "worst_values"]
#: Printed after a value whose entry is below full coverage.
FLAG = "*"
#: Sample ids of the rows standing in for unscored samples under ``--failures worst``.
FILLED_PREFIX = "<unscored "
#: The least relative focal error an unscored image gets (100 %: outside every δ threshold).
FOCAL_WORST_FLOOR = 1.0


class FailureModeError(DpbenchError):
    """An unknown ``--failures`` mode, or ``worst`` with an aggregation it cannot fill."""


def check_failure_mode(mode: str, aggregation: str | None) -> None:
    """Refuse an unknown mode, and ``worst`` with pooled aggregation (nothing per image to fill)."""
    if mode not in FAILURE_MODES:
        raise FailureModeError(f"unknown failure mode {mode!r}; expected one of {', '.join(FAILURE_MODES)}")
    if mode == "worst" and aggregation == "pooled":
        raise FailureModeError("--failures worst needs --aggregation per_image: pooled sums have no "
                               "per-image value to score an unscored sample at")


def expected_samples(entry: Mapping, rows: pd.DataFrame) -> int:
    """The samples selected for the run: the manifest's ``num_samples``, else the ids in the rows."""
    declared = entry.get("num_samples")
    if isinstance(declared, int) and declared > 0:
        return declared
    return int(rows["sample_id"].nunique()) if len(rows) else 0


def task_coverage(rows: pd.DataFrame, tasks: Iterable[str], expected: int) -> dict[str, dict[str, int]]:
    """``{task: {"scored": n, "expected": N}}`` for one dataset's rows."""
    out = {}
    for task in tasks:
        ok = rows[(rows["task"] == task) & (rows["status"] == "ok")]
        scored = int(ok["sample_id"].nunique())
        out[task] = {"scored": scored, "expected": max(expected, scored)}
    return out


def fraction(counts: Mapping[str, int]) -> float:
    """scored / expected (1.0 for nothing expected)."""
    return counts["scored"] / counts["expected"] if counts["expected"] else 1.0


def metric_task(metric: str) -> str | None:
    """The task a metric belongs to."""
    for name in task_names():
        if metric in get_task(name).metrics:
            return name
    return None


def entry_coverage(aggregate: Mapping, dataset: str | None, metric: str) -> float:
    """Coverage of the cell ``(dataset, metric)`` of a run aggregate (1.0 when unknown)."""
    if dataset is None:
        return 1.0
    per_task = (aggregate.get("coverage") or {}).get(dataset) or {}
    task = metric_task(metric)
    if task in per_task:
        return fraction(per_task[task])
    value = (aggregate.get("results") or {}).get(dataset, {}).get("coverage")
    return float(value) if isinstance(value, (int, float)) else 1.0


def is_flagged(aggregate: Mapping, dataset: str | None, metric: str) -> bool:
    """Whether the cell is below full coverage."""
    return entry_coverage(aggregate, dataset, metric) < 1.0


def is_oom_entry(aggregate: Mapping, dataset: str | None, metric: str) -> bool:
    """Whether the cell is below full coverage because samples ran out of memory, and only for
    that: every failed sample of the dataset has an ``OOM`` error row. Printed ``OOM`` like the
    paper's cells (under ``--failures worst`` only when no worst value could be filled in)."""
    if dataset is None or not is_flagged(aggregate, dataset, metric):
        return False
    oom = ((aggregate.get("datasets") or {}).get(dataset) or {}).get("num_oom") or 0
    errors = ((aggregate.get("results") or {}).get(dataset) or {}).get("num_errors") or 0
    return 0 < errors == oom


# --- --failures worst ------------------------------------------------------------------------

def _finite(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers[numbers.map(lambda v: isinstance(v, float) and math.isfinite(v))]


def worst_values(frames: Iterable[pd.DataFrame]) -> dict[tuple[str, str], dict[str, float]]:
    """Per (dataset, task): the worst per-image value of each metric among the compared runs'
    ``ok`` rows (higher-is-better metrics: 0). The row an unscored sample is scored with."""
    ok = [f[f["status"] == "ok"] for f in frames if len(f)]
    rows = pd.concat(ok, ignore_index=True) if ok else pd.DataFrame(columns=["dataset", "task", "status"])
    worst: dict[tuple[str, str], dict[str, float]] = {}
    for (dataset, task_name), part in rows.groupby(["dataset", "task"], sort=False):
        if task_name not in task_names():
            continue
        task = get_task(task_name)
        values: dict[str, float] = {}
        if task_name == "focal":
            errors = _finite(part.get("focal_rel_err", pd.Series(dtype=float)))
            err = max(float(errors.max()) if len(errors) else 0.0, FOCAL_WORST_FLOOR)
            values = {"focal_gt": 1.0, "focal_pred": 1.0 + err, "focal_rel_err": err}
        else:
            for metric, direction in task.metrics.items():
                if direction == "higher":
                    values[metric] = 0.0
                    continue
                column = _finite(part[metric]) if metric in part else pd.Series(dtype=float)
                if len(column):
                    values[metric] = float(column.max())
        worst[(str(dataset), str(task_name))] = values
    return worst


def filled_rows(ok: pd.DataFrame, dataset: str, task: str, missing: int,
                worst: Mapping[tuple[str, str], Mapping[str, Any]]) -> pd.DataFrame:
    """``ok`` plus ``missing`` rows scored at the worst values (none when nothing is known)."""
    values = worst.get((dataset, task))
    if missing <= 0 or not values:
        return ok
    extra = pd.DataFrame([{"dataset": dataset, "task": task, "status": "ok",
                           "sample_id": f"{FILLED_PREFIX}{i}>", **values} for i in range(missing)])
    return pd.concat([ok, extra], ignore_index=True) if len(ok) else extra
