"""All the figures of a report, and writing them as PNG files."""

from __future__ import annotations

import os
from pathlib import Path

from dpbench.report.document import Report
from dpbench.report.plots import (
    Plot,
    bar_plots,
    boundary_threshold_plots,
    focal_cdf_plot,
    rank_distribution_plot,
)
from dpbench.report.qualitative_select import DEFAULT_RULE
from dpbench.report.runtime import DEFAULT_SCATTER_METRIC, DEFAULT_SCATTER_SIZE, scatter_plot
from dpbench.report.side_by_side import qualitative_figures
from dpbench.report.upperbound import perturbation_plots


def report_plots(
    report: Report, *, qualitative: int = 4, qualitative_select: str = DEFAULT_RULE,
    data_root: str | os.PathLike | None = None,
    scatter_metric: str = DEFAULT_SCATTER_METRIC, scatter_size: str = DEFAULT_SCATTER_SIZE,
) -> tuple[list[Plot], list[str]]:
    """Every figure of the report, suite by suite, and notes on figures that could not be drawn.

    ``qualitative`` is the number of samples of the side-by-side figure and of each run's
    qualitative grid (0: none), chosen by ``qualitative_select`` (:mod:`dpbench.report.qualitative_select`);
    ``data_root`` re-locates the datasets of runs made on another machine; with speed runs,
    ``scatter_metric`` (DATASET:METRIC) against the latency at ``scatter_size`` is drawn (Fig. 2).
    """
    plots: list[Plot] = []
    notes: list[str] = []
    for section in report.sections:
        plots += bar_plots(section)
        focal = focal_cdf_plot(section, report.rows)
        if focal is not None:
            plots.append(focal)
        plots += boundary_threshold_plots(section, report.rows)
        plots += perturbation_plots(section, report.rows)  # Fig. 9 style, from GT-perturbing probe runs
        if report.intervals is not None:  # --ci: the rank distribution (dpbench.report.ci)
            ranks = rank_distribution_plot(section.suite, report.intervals.rank_samples.get(section.suite, {}),
                                           report.intervals.options.level)
            plots += [ranks] if ranks is not None else []
        if qualitative > 0:
            drawn, why = qualitative_figures(section, report.stores, report.rows, count=qualitative,
                                             rule=qualitative_select, data_root=data_root)
            plots += drawn
            notes += why
    if report.runtime is not None:
        scatter, why = scatter_plot(report, scatter_metric, scatter_size)
        plots += [scatter] if scatter is not None else []
        notes += [why] if why else []
    return plots, notes


def write_plots(plots: list[Plot], folder: str | os.PathLike) -> dict[str, Path]:
    """Write each plot as ``<folder>/<name>.png``; returns name -> path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for plot in plots:
        path = folder / f"{plot.name}.png"
        path.write_bytes(plot.png)
        paths[plot.name] = path
    return paths
