"""The resolution upper bound (paper Table 7) and the perturbation curves (Fig. 9) of a report.

Both read runs of the GT-perturbing probes (:mod:`dpbench.models.probes`), whose strength each
run's model record carries (``probe:gt-resample`` size, ``probe:gt-shift`` k, ``probe:gt-blur``
sigma): the ``upperbound`` suite makes one run per strength (docs/paper.md §11).

- Table 7 layout: one row per output grid (largest first), Log10, AbsRel and boundary F1 per
  dataset, and the paper's UnrealStereo4K values of the same grid beside them;
- Fig. 9 style: boundary precision and recall against the perturbation strength, one panel per
  probe, one line pair per dataset. Each point is the mean over a dataset's scored images of the
  per-threshold values weighted t/Σt (the weights of the boundary F1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dpbench.report.paper import paper_dir, parse_number, read_paper_csv
from dpbench.report.plots import (
    Plot,
    _threshold_means,
    _thresholds,
    figure_png,
    new_figure,
    shared_legend,
)
from dpbench.report.tables import SuiteSection

TABLE7_FILE = "table7_resolution_upper_bound.csv"
#: The paper's Table 7 dataset (its columns sit beside dpbench's).
TABLE7_DATASET = "unrealstereo4k"
#: Columns of the Table 7 layout: (metric, header), as the paper prints them.
TABLE7_METRICS = (("log10", "Log10 ↓"), ("abs_rel", "AbsRel ↓"), ("boundary_f1", "F1 ↑"))
#: The perturbing probes: model name -> (strength key of the model record, axis label, whether a
#: larger value is a weaker perturbation).
PERTURBATIONS = {
    "probe:gt-resample": ("size", "output grid size (px, square)", True),
    "probe:gt-shift": ("k", "shift k (px)", False),
    "probe:gt-blur": ("sigma", "blur sigma (px)", False),
}
_RESAMPLE = "probe:gt-resample"


@dataclass
class UpperBoundTable:
    """Table 7's layout for one suite: rows of (label, size, {dataset: {metric: value}})."""

    suite: str
    datasets: list[str]
    rows: list[tuple[str, int, dict[str, dict[str, float]]]] = field(default_factory=list)
    paper: dict[int, dict[str, object]] = field(default_factory=dict)  # size -> paper row


def paper_table7() -> dict[int, dict[str, object]]:
    """The paper's Table 7 by square grid size: {size: {"model": ..., metric: value}}."""
    path = paper_dir() / TABLE7_FILE
    table = {}
    for row in read_paper_csv(path):
        width, _, height = row["output_resolution"].partition("x")
        entry: dict[str, object] = {"model": row["example_model"]}
        entry.update({metric: parse_number(row[metric], path, metric) for metric, _ in TABLE7_METRICS})
        table[int(width)] = entry
    return table


def _strength(agg: dict) -> float | None:
    """The perturbation strength of a probe run (None for any other run)."""
    model = agg.get("model") or {}
    key = PERTURBATIONS.get(model.get("name"), (None,))[0]
    value = model.get(key) if key else None  # a blur without sigma= (image-dependent) has none
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def upperbound_table(section: SuiteSection) -> UpperBoundTable | None:
    """The Table 7 layout of the ``probe:gt-resample`` runs of ``section`` (None if it has none)."""
    runs = [agg for agg in section.aggregates
            if (agg.get("model") or {}).get("name") == _RESAMPLE and _strength(agg) is not None]
    if not runs:
        return None
    datasets = [d for d in dict.fromkeys(d for agg in runs for d in agg["results"])
                if any(m in agg["results"].get(d, {}) for agg in runs for m, _ in TABLE7_METRICS)]
    table = UpperBoundTable(section.suite, datasets, paper=paper_table7())
    for agg in sorted(runs, key=lambda a: (-_strength(a), str(a["model"].get("filter")))):
        size = int(_strength(agg))
        label = f"{size}×{size}"
        if agg["model"].get("filter", "bilinear") != "bilinear":
            label += f" ({agg['model']['filter']})"
        table.rows.append((label, size, {d: dict(agg["results"].get(d, {})) for d in datasets}))
    return table


def _number(value) -> str:
    return "-" if value is None or not math.isfinite(float(value)) else f"{float(value):.3f}"


@dataclass
class TableText:
    """A table as text cells, for the Markdown and HTML renderings."""

    title: str
    header: list[str]
    rows: list[list[str]]
    note: str


def upperbound_text(section: SuiteSection) -> TableText | None:
    """The Table 7 layout of ``section`` as text cells (None without resample runs)."""
    table = upperbound_table(section)
    if table is None:
        return None
    header = ["Output grid"] + [f"{d} {title}" for d in table.datasets for _, title in TABLE7_METRICS]
    header += [f"paper {TABLE7_DATASET} {title}" for _, title in TABLE7_METRICS] + ["paper example model"]
    rows = []
    for label, size, results in table.rows:
        cells = [_number(results[d].get(metric)) for d in table.datasets for metric, _ in TABLE7_METRICS]
        paper = table.paper.get(size, {})
        cells += [_number(paper.get(metric)) for metric, _ in TABLE7_METRICS]
        rows.append([label, *cells, str(paper.get("model", "-"))])
    return TableText(
        "Upper bound from the output resolution: GT down to the grid and back (Table 7 style)", header, rows,
        "Rows: probe:gt-resample runs (area average down to size × size, filter back up, in inverse depth; "
        "docs/paper.md §11). Paper: Depth Pro Table 7 on UnrealStereo4K.")


def upperbound_markdown(section: SuiteSection) -> list[str]:
    """Markdown lines of the Table 7 layout for ``section`` (none without resample runs)."""
    text = upperbound_text(section)
    if text is None:
        return []
    lines = [f"### {text.title}", "", "| " + " | ".join(text.header) + " |",
             "|---|" + "---:|" * (len(text.header) - 2) + "---|"]
    lines += ["| " + " | ".join(row) + " |" for row in text.rows]
    return lines + ["", f"_{text.note}_", ""]


def weighted_boundary_score(rows: pd.DataFrame, agg: dict, dataset: str, kind: str) -> float:
    """The mean over ``dataset``'s scored images of the boundary ``kind`` (precision or recall),
    thresholds weighted t/Σt like the boundary F1; NaN without per-threshold columns."""
    curve = _threshold_means(rows, "boundary_depth", dataset, kind)
    if curve.size == 0 or not np.isfinite(curve).all():
        return math.nan
    thresholds = _thresholds(agg, curve.size)
    if not (thresholds > 0).all():
        return math.nan
    return float(np.sum(curve * thresholds) / np.sum(thresholds))


def perturbation_points(section: SuiteSection, rows_by_run: dict[str, pd.DataFrame]) -> dict:
    """{probe: {dataset: [(strength, precision, recall), ...] sorted by strength}}."""
    points: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    for agg in section.aggregates:
        name, strength = (agg.get("model") or {}).get("name"), _strength(agg)
        if strength is None or agg["run_id"] not in rows_by_run:
            continue
        for dataset in agg["results"]:
            precision = weighted_boundary_score(rows_by_run[agg["run_id"]], agg, dataset, "precision")
            recall = weighted_boundary_score(rows_by_run[agg["run_id"]], agg, dataset, "recall")
            if math.isfinite(precision) and math.isfinite(recall):
                points.setdefault(name, {}).setdefault(dataset, []).append((strength, precision, recall))
    for by_dataset in points.values():
        for values in by_dataset.values():
            values.sort()
    return points


def perturbation_plots(section: SuiteSection, rows_by_run: dict[str, pd.DataFrame]) -> list[Plot]:
    """Fig. 9 style: boundary precision and recall against each probe's strength (one panel each)."""
    points = perturbation_points(section, rows_by_run)
    if not points:
        return []
    figure = new_figure(max(5.0, 4.2 * len(points)), 3.4)
    for panel, (name, by_dataset) in enumerate(points.items(), start=1):
        _, axis_label, weaker_when_larger = PERTURBATIONS[name]
        axes = figure.add_subplot(1, len(points), panel)
        for number, (dataset, values) in enumerate(by_dataset.items()):
            strengths, precision, recall = (np.array(column) for column in zip(*values, strict=True))
            colour = f"C{number % 10}"
            axes.plot(strengths, precision, marker="o", markersize=3, color=colour, label=f"{dataset} precision")
            axes.plot(strengths, recall, marker="s", markersize=3, color=colour, linestyle="--",
                      label=f"{dataset} recall")
        if weaker_when_larger:
            axes.set_xscale("log")
            axes.invert_xaxis()  # left to right: stronger perturbation, as for the other panels
        ticks = sorted({strength for values in by_dataset.values() for strength, _, _ in values})
        axes.set_xticks(ticks, [f"{tick:g}" for tick in ticks], fontsize=8)
        axes.minorticks_off()
        axes.set_ylim(-0.02, 1.02)
        axes.set_xlabel(axis_label, fontsize=9)
        axes.set_title(name, fontsize=9)
        axes.grid(alpha=0.3)
    shared_legend(figure)
    title = f"Boundary precision / recall against the GT perturbation (Fig. 9 style), suite {section.suite}"
    figure.suptitle(title, fontsize=10)
    return [Plot(section.suite, f"{section.suite}_perturbation_curves".replace("/", "-"), title, figure_png(figure))]


__all__ = ["PERTURBATIONS", "TableText", "UpperBoundTable", "paper_table7", "perturbation_plots", "perturbation_points",
           "upperbound_markdown", "upperbound_table", "upperbound_text", "weighted_boundary_score"]
