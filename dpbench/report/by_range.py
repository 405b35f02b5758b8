"""``dpbench report --by-range``: depth metrics per ground-truth depth bin (Depth Pro Table 10 style).

Reads the ``bin{k}_stat_*`` columns the ``metric_depth`` task stores in every row (bins from the
run's ``depth_bins`` protocol option; Table 10's 0–1, 1–2, 2–4, 4–8, 8–16, > 16 m by default), so
no model is re-run. Per dataset, one table per metric: a row per run, a column per bin.

Aggregation (the run's own, or the one asked for): ``per_image`` = mean over the images whose bin
holds pixels of the per-image bin metric; ``pooled`` = the metric of the bin's pixels pooled over
the dataset (summed statistics). A bin with no pixel prints ``-``; the pixel count of each bin is
the table's last row.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dpbench.errors import DpbenchError
from dpbench.metrics.depth import STAT_KEYS, metrics_from_stats
from dpbench.metrics.depth_bins import bin_labels, metrics_by_bin
from dpbench.protocol import AGGREGATIONS
from dpbench.store import RunStore
from dpbench.tasks import metric_info

#: Output formats of :func:`render_by_range`.
BY_RANGE_FORMATS = ("markdown", "csv", "json")
#: The Table 10 bins (lower edges), for runs whose manifest does not record ``depth_bins``.
DEFAULT_LOWER_EDGES = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
_BIN_COLUMN = re.compile(r"^bin(\d+)_stat_count$")


@dataclass
class RangeTable:
    """One dataset × metric: ``values[run label][k]`` (stored units, NaN = empty) and pixel counts."""

    dataset: str
    metric: str
    labels: list[str]
    values: dict[str, list[float]] = field(default_factory=dict)
    pixels: dict[str, list[int]] = field(default_factory=dict)


def _edges(manifest: dict, n_bins: int, run_id: str) -> tuple[float, ...]:
    lower = (manifest.get("protocol") or {}).get("depth_bins") or DEFAULT_LOWER_EDGES
    edges = (*(float(e) for e in lower), math.inf)
    if len(edges) - 1 != n_bins:
        raise DpbenchError(f"run {run_id}: its rows hold {n_bins} depth bins but its manifest's "
                           f"depth_bins give {len(edges) - 1}")
    return edges


def dataset_bins(rows: pd.DataFrame, n_bins: int, metrics: Sequence[str], aggregation: str) -> dict:
    """``{metric: [value per bin]}`` plus ``"n_valid"`` (pixels per bin) of one dataset's ok rows."""
    sums = {f"bin{k}_stat_{name}": float(pd.to_numeric(rows[f"bin{k}_stat_{name}"], errors="coerce")
                                           .fillna(0).sum())
            for k in range(n_bins) for name in STAT_KEYS}
    edges = tuple(range(n_bins + 1))  # metrics_by_bin only needs their number
    pooled = metrics_by_bin(sums, edges)
    out: dict[str, list] = {"n_valid": [int(sums[f"bin{k}_stat_count"]) for k in range(n_bins)]}
    for metric in metrics:
        if aggregation == "pooled":
            out[metric] = [float(pooled[f"bin{k}_{metric}"]) for k in range(n_bins)]
            continue
        values = []
        for k in range(n_bins):
            per_image = []
            for _, row in rows.iterrows():
                stats = {name: float(row[f"bin{k}_stat_{name}"]) for name in STAT_KEYS}
                if stats["count"] > 0:
                    per_image.append(metrics_from_stats(stats)[metric])
            finite = [v for v in per_image if math.isfinite(v)]
            values.append(float(np.mean(finite)) if finite else math.nan)
        out[metric] = values
    return out


def by_range_tables(stores: Sequence[RunStore], metrics: Sequence[str] = ("delta1",),
                    aggregation: str | None = None) -> tuple[list[RangeTable], list[str]]:
    """The per-bin tables of ``stores`` (one per dataset, bin edges and metric) and notes."""
    for metric in metrics:
        if metric_info(metric).task != "metric_depth":
            raise DpbenchError(f"--by-range-metric {metric!r}: not a metric of the metric_depth task")
    if aggregation is not None and aggregation not in AGGREGATIONS:
        raise DpbenchError(f"unknown aggregation {aggregation!r}; expected one of {', '.join(AGGREGATIONS)}")
    tables: dict[tuple, RangeTable] = {}
    notes: list[str] = []
    for store in stores:
        manifest = store.manifest
        rows = store.rows()
        label = f"{(manifest.get('model') or {}).get('name', '?')} ({store.run_id})"
        if rows.empty or "task" not in rows:
            continue
        ok = rows[(rows["task"] == "metric_depth") & (rows["status"] == "ok")]
        if ok.empty:
            continue
        n_bins = sum(1 for c in ok.columns if _BIN_COLUMN.match(c))
        if n_bins == 0:
            notes.append(f"run {store.run_id} has no per-range statistics (made before they were stored)")
            continue
        edges = _edges(manifest, n_bins, store.run_id)
        agg = aggregation or (manifest.get("protocol") or {}).get("aggregation") or "per_image"
        for dataset in pd.unique(ok["dataset"]):
            part = ok[ok["dataset"] == dataset]
            stats = dataset_bins(part, n_bins, metrics, agg)
            for metric in metrics:
                key = (dataset, metric, edges)
                table = tables.setdefault(key, RangeTable(str(dataset), metric, bin_labels(edges)))
                table.values[label] = stats[metric]
                table.pixels[label] = stats["n_valid"]
    return list(tables.values()), notes


def _cell(metric: str, value: float) -> str:
    if not math.isfinite(value):
        return "-"
    info = metric_info(metric)
    return f"{value * 100:.1f}" if info.percent else f"{value:.3f}"


def render_by_range(tables: Sequence[RangeTable], fmt: str = "markdown") -> str:
    """The tables as Markdown, CSV (one line per run, dataset, metric and bin) or JSON."""
    if fmt not in BY_RANGE_FORMATS:
        raise DpbenchError(f"--by-range prints {', '.join(BY_RANGE_FORMATS)}, not {fmt!r}")
    if fmt == "json":
        data = [{"dataset": t.dataset, "metric": t.metric, "bins": t.labels,
                 "runs": {run: {"values": [v if math.isfinite(v) else None for v in values],
                                "pixels": t.pixels[run]} for run, values in t.values.items()}}
                for t in tables]
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        lines = ["run,dataset,metric,bin,value,pixels"]
        for t in tables:
            for run, values in t.values.items():
                for label, value, count in zip(t.labels, values, t.pixels[run], strict=True):
                    text = repr(value) if math.isfinite(value) else ""
                    lines.append(f'"{run}",{t.dataset},{t.metric},{label},{text},{count}')
        return "\n".join(lines) + "\n"
    parts = []
    for t in tables:
        info = metric_info(t.metric)
        unit = " (%)" if info.percent else ""
        arrow = "↑" if info.higher_is_better else "↓"
        parts.append(f"### {info.label}{unit} {arrow} by ground-truth depth on {t.dataset} (Table 10 style)\n")
        parts.append("| Model | " + " | ".join(t.labels) + " |")
        parts.append("|---|" + "---:|" * len(t.labels))
        for run, values in t.values.items():
            parts.append(f"| {run} | " + " | ".join(_cell(t.metric, v) for v in values) + " |")
        for run, counts in t.pixels.items():
            parts.append(f"| pixels: {run} | " + " | ".join(str(c) for c in counts) + " |")
        parts.append("")
    return "\n".join(parts) + ("\n" if parts else "")




def by_range_report(stores: Sequence[RunStore], fmt: str, metrics: Sequence[str], aggregation: str | None,
                    out=None) -> None:
    """What ``dpbench report --by-range`` prints (or writes to ``out``), notes on standard error."""
    from pathlib import Path

    import click

    tables, notes = by_range_tables(stores, metrics, aggregation)
    if not tables:
        notes.append("no metric_depth rows with per-range statistics in the runs given")
    text = render_by_range(tables, fmt)
    if out is None:
        click.echo(text, nl=False)
    else:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"report written to {out}", err=True)
    for note in notes:
        click.echo(f"note: {note}", err=True)


__all__ = ["BY_RANGE_FORMATS", "RangeTable", "by_range_report", "by_range_tables", "dataset_bins",
           "render_by_range"]
