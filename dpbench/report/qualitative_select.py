"""Which samples the qualitative figures show (``dpbench report --qualitative-select``).

Rules, applied to the candidate samples (scored ``ok`` by a depth task in at least one run of the
suite, in the runs' row order):

- ``first``: the first samples of each dataset in turn (one per dataset, then the second of each, …);
- ``random:<seed>``: a random draw without replacement, reproducible from the integer seed;
- ``differ:<metric>``: the samples where the runs disagree most on a per-sample metric (any
  metric of ``dpbench tasks``, e.g. ``delta1``, ``abs_rel``, ``boundary_f1``): the largest spread
  max − min of the metric over the runs scoring it ``ok``; samples scored by fewer than two runs
  are not candidates; ties keep the row order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dpbench.errors import DpbenchError

DEFAULT_RULE = "first"


class SelectionError(DpbenchError):
    """A bad ``--qualitative-select`` rule."""


@dataclass(frozen=True)
class SampleChoice:
    """One chosen sample and, for ``differ:``, the metric's spread across the runs (stored units)."""

    dataset: str
    sample_id: str
    spread: float | None = None


def parse_rule(text: str) -> tuple[str, str | int | None]:
    """``first`` | ``random:<seed>`` | ``differ:<metric>`` -> (kind, argument); SelectionError otherwise."""
    from dpbench.tasks import metric_info

    kind, sep, argument = text.strip().partition(":")
    if kind == "first" and not sep:
        return "first", None
    if kind == "random" and sep:
        try:
            return "random", int(argument)
        except ValueError:
            pass
    if kind == "differ" and sep and argument.strip():
        try:
            metric_info(argument.strip())
        except KeyError as exc:  # UnknownNameError, with suggestions
            raise SelectionError(f"--qualitative-select {text!r}: {exc}") from None
        return "differ", argument.strip()
    raise SelectionError(f"--qualitative-select {text!r}: expected first, random:<seed> (an integer) "
                         "or differ:<metric>")


def describe_rule(text: str) -> str:
    """The rule in words, for figure titles."""
    kind, argument = parse_rule(text)
    if kind == "first":
        return "first samples of each dataset"
    if kind == "random":
        return f"random samples (seed {argument})"
    from dpbench.tasks import metric_info

    return f"largest {metric_info(str(argument)).label} spread across the runs"


def _ok_depth_rows(rows: pd.DataFrame, tasks: Sequence[str]) -> pd.DataFrame:
    return rows[rows["status"].eq("ok") & rows["task"].isin(list(tasks))]


def candidate_samples(rows_by_run: Mapping[str, pd.DataFrame], tasks: Sequence[str],
                      datasets: Sequence[str]) -> list[tuple[str, str]]:
    """(dataset, sample_id) scored ``ok`` by one of ``tasks`` in some run, within ``datasets``, in
    row order (first run first)."""
    keys: dict[tuple[str, str], None] = {}
    for rows in rows_by_run.values():
        ok = _ok_depth_rows(rows, tasks)
        for dataset, sample_id in zip(ok["dataset"], ok["sample_id"], strict=True):
            if dataset in datasets:
                keys[(str(dataset), str(sample_id))] = None
    return list(keys)


def _round_robin(candidates: Sequence[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    per_dataset: dict[str, list[str]] = {}
    for dataset, sample_id in candidates:
        per_dataset.setdefault(dataset, []).append(sample_id)
    picked: list[tuple[str, str]] = []
    depth = 0
    while len(picked) < count and any(depth < len(ids) for ids in per_dataset.values()):
        for dataset, ids in per_dataset.items():
            if depth < len(ids) and len(picked) < count:
                picked.append((dataset, ids[depth]))
        depth += 1
    return picked


def metric_spreads(rows_by_run: Mapping[str, pd.DataFrame], metric: str,
                   candidates: Sequence[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """max − min of ``metric`` over the runs scoring each candidate ``ok`` (two runs at least)."""
    values: dict[tuple[str, str], list[float]] = {}
    for rows in rows_by_run.values():
        if metric not in rows:
            continue
        ok = rows[rows["status"].eq("ok")]
        numbers = pd.to_numeric(ok[metric], errors="coerce")
        for dataset, sample_id, value in zip(ok["dataset"], ok["sample_id"], numbers, strict=True):
            if np.isfinite(value):
                values.setdefault((str(dataset), str(sample_id)), []).append(float(value))
    return {key: max(values[key]) - min(values[key]) for key in candidates
            if len(values.get(key, ())) >= 2}


def select_samples(rule: str, count: int, rows_by_run: Mapping[str, pd.DataFrame],
                   candidates: Sequence[tuple[str, str]]) -> list[SampleChoice]:
    """Up to ``count`` of ``candidates`` chosen by ``rule`` (see the module docstring)."""
    kind, argument = parse_rule(rule)
    if kind == "first":
        return [SampleChoice(*key) for key in _round_robin(candidates, count)]
    if kind == "random":
        order = np.random.default_rng(int(argument)).permutation(len(candidates))[:count]
        return [SampleChoice(*candidates[i]) for i in order]
    spreads = metric_spreads(rows_by_run, str(argument), candidates)
    ranked = sorted(spreads, key=lambda key: -spreads[key])  # stable: ties keep the row order
    return [SampleChoice(*key, spread=spreads[key]) for key in ranked[:count]]
