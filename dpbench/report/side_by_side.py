"""The side-by-side qualitative figure of a suite (paper Fig. 1 style) and the qualitative figures'
sample choice.

Per chosen sample, two lines: the RGB image, the GT and every run's prediction as inverse depth on
one colour scale shared by the line (turbo, from robust percentiles of the GT's valid inverse
depth, :func:`dpbench.report.qualitative.inverse_depth_limits`) with its colour bar; below, the
occluding contours at the protocol's middle threshold over the grey image: the GT's in green under
the GT column, and under each run the prediction's (red only there, green only in the GT, yellow
both). Predictions come only from the runs' cached predictions (``dpbench run --save-predictions``),
brought to the GT as the depth metrics see them (resampled; relative outputs aligned, the column
title says how). A run without a cached prediction for a sample gets an empty panel saying so, and
the report's notes list what is missing. The samples are chosen once per suite by
``--qualitative-select`` (:mod:`dpbench.report.qualitative_select`) and recorded in the figure's
title and the report's notes; the per-run grids show the same samples.
"""

from __future__ import annotations

import os

import numpy as np

from dpbench.report.plots import Plot, _slug, figure_png, wrapped_suptitle
from dpbench.report.qualitative import (
    COLORBAR_RATIO,
    CONTOUR_LEGEND,
    INVERSE_DEPTH_CMAP,
    colour_bar,
    contour_overlay,
    contour_pixels,
    depth_tasks,
    display_stride,
    displayed_prediction,
    inverse_depth,
    inverse_depth_limits,
    load_sample,
    middle_threshold,
    open_datasets,
    panel_figure,
    qualitative_plot,
    sample_label,
    show_map,
    tighten_rows,
    wrap_label,
)
from dpbench.report.qualitative_select import (
    DEFAULT_RULE,
    SampleChoice,
    candidate_samples,
    describe_rule,
    parse_rule,
    select_samples,
)
from dpbench.report.tables import SuiteSection
from dpbench.store import RunStore, StoreError


def _spread_text(choice: SampleChoice, rule: str) -> str:
    if choice.spread is None:
        return ""
    from dpbench.tasks import metric_info

    info = metric_info(str(parse_rule(rule)[1]))
    value = f"{choice.spread * 100:.1f} pp" if info.percent else f"{choice.spread:.3g}"
    return f"{info.label} spread {value}"


def _empty_panel(figure, cell):
    """A framed panel saying the run has no cached prediction for the sample."""
    axes = figure.add_subplot(cell)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.text(0.5, 0.5, "no saved\nprediction", ha="center", va="center", fontsize=8, color="grey",
              transform=axes.transAxes)
    return axes


def choose_samples(section: SuiteSection, stores: dict[str, RunStore], rows_by_run: dict,
                   datasets: dict, count: int, rule: str, notes: list[str]) -> list[SampleChoice]:
    """The suite's qualitative samples: candidates of the datasets that could be opened and that
    some run of the section has a cached prediction for, chosen by ``rule`` (unreadable
    prediction files go to ``notes``)."""
    run_ids = [agg["run_id"] for agg in section.aggregates]
    saved: set[tuple[str, str]] = set()
    for run_id in run_ids:
        if stores[run_id].has_predictions():
            try:
                saved |= stores[run_id].prediction_keys()
            except StoreError as exc:  # a damaged prediction file costs the pictures, not the report
                notes.append(f"{section.labels[run_id]}: {exc}")
    rows = {run_id: rows_by_run[run_id] for run_id in run_ids}
    candidates = [key for key in candidate_samples(rows, depth_tasks(), list(datasets)) if key in saved]
    return select_samples(rule, count, rows, candidates)


def side_by_side_plot(section: SuiteSection, stores: dict[str, RunStore], datasets: dict,
                      choices: list[SampleChoice], rule: str) -> tuple[Plot | None, list[str]]:
    """The figure of the section's runs that saved predictions, or None and why not."""
    runs = [agg["run_id"] for agg in section.aggregates if stores[agg["run_id"]].has_predictions()]
    if len(runs) < 2:
        return None, [f"suite {section.suite}: the side-by-side qualitative figure needs two runs with "
                      f"saved predictions ({len(runs)} found; run with --save-predictions)"]
    notes: list[str] = []
    lines = []
    for choice in choices:
        try:
            sample = load_sample(datasets, choice.dataset, choice.sample_id)
        except Exception as exc:  # unreadable sample file: skip it, say why
            notes.append(f"{choice.dataset}/{choice.sample_id}: skipped ({type(exc).__name__}: {exc})")
            continue
        if sample.depth is None:
            continue
        shown = {}
        for run_id in runs:
            try:
                shown[run_id] = displayed_prediction(stores[run_id], datasets[choice.dataset], sample)
            except KeyError:
                notes.append(f"side-by-side figure: {section.labels[run_id]} has no saved prediction "
                             f"for {choice.dataset}/{choice.sample_id}")
            except Exception as exc:  # cannot be resampled, unreadable file: the panel stays empty
                notes.append(f"side-by-side figure: {section.labels[run_id]}, "
                             f"{choice.dataset}/{choice.sample_id}: not shown ({exc})")
        lines.append((choice, sample, shown))
    if not lines:
        return None, notes + [f"suite {section.suite}: no sample with depth GT and a cached prediction "
                              "for the side-by-side figure"]
    threshold = middle_threshold(stores[runs[0]].manifest.get("protocol") or {})
    alignments = {run_id: next((s[run_id].alignment for _, _, s in lines if run_id in s), None) for run_id in runs}
    titles = ["image", "GT"] + [
        section.labels[run_id] + (f" (aligned: {alignments[run_id]})" if alignments[run_id] else "")
        for run_id in runs]
    ratios = [1.0] * (2 + len(runs)) + [COLORBAR_RATIO]
    aspects = [a for _, sample, _ in lines for a in [sample.image.shape[0] / sample.image.shape[1]] * 2]
    figure, grid = panel_figure(ratios, aspects, title_lines=2)
    for index, (choice, sample, shown) in enumerate(lines):
        top, bottom = 2 * index, 2 * index + 1
        step = display_stride(sample.image.shape)
        image = sample.image[::step, ::step]
        valid = sample.valid_mask()[::step, ::step]
        gt = np.where(valid, sample.depth[::step, ::step], np.nan)
        gt_inverse = inverse_depth(gt, valid)
        low, high = inverse_depth_limits(gt_inverse)
        style = dict(cmap=INVERSE_DEPTH_CMAP, vmin=low, vmax=high)
        gt_edges = contour_pixels(gt, threshold)
        first, _ = show_map(figure, grid[top, 0], image)
        first.set_ylabel(sample_label(choice.dataset, choice.sample_id, _spread_text(choice, rule)), fontsize=6)
        gt_axes, depth_image = show_map(figure, grid[top, 1], gt_inverse, **style)
        colour_bar(figure, grid[top, -1], depth_image, "inverse depth (1/m)")
        legend = figure.add_subplot(grid[bottom, 0])
        legend.axis("off")
        legend.text(0.5, 0.5, wrap_label(f"contours at t = {threshold:.3g}: {CONTOUR_LEGEND}", 18),
                    ha="center", va="center", fontsize=7, transform=legend.transAxes)
        show_map(figure, grid[bottom, 1], contour_overlay(image, gt_edges, None))
        heads = [first, gt_axes]
        for column, run_id in enumerate(runs, start=2):
            if run_id not in shown:
                heads.append(_empty_panel(figure, grid[top, column]))
                _empty_panel(figure, grid[bottom, column])
                continue
            depth = shown[run_id].depth[::step, ::step]
            axes, _ = show_map(figure, grid[top, column], inverse_depth(depth), **style)
            heads.append(axes)
            pred_edges = contour_pixels(shown[run_id].contour_source[::step, ::step], threshold)
            show_map(figure, grid[bottom, column], contour_overlay(image, gt_edges, pred_edges))
        if index == 0:
            for axes, text in zip(heads, titles, strict=True):
                axes.set_title(wrap_label(text), fontsize=8)
    title = (f"Suite {section.suite}: predictions side by side, inverse depth on the GT's colour scale "
             f"per sample ({describe_rule(rule)})")
    wrapped_suptitle(figure, title, fontsize=9)
    tighten_rows(figure)
    return Plot(section.suite, f"{_slug(section.suite)}_side_by_side", title, figure_png(figure)), notes


def qualitative_figures(section: SuiteSection, stores: dict[str, RunStore], rows_by_run: dict, *,
                        count: int, rule: str = DEFAULT_RULE,
                        data_root: str | os.PathLike | None = None) -> tuple[list[Plot], list[str]]:
    """The suite's side-by-side figure (two runs with saved predictions or more) and each run's
    grid, all on the same samples; notes say which samples were chosen and what is missing."""
    notes: list[str] = []
    opened: dict = {}
    for agg in section.aggregates:
        if stores[agg["run_id"]].has_predictions():
            open_datasets(stores[agg["run_id"]].manifest, data_root, notes, opened)
    choices = choose_samples(section, stores, rows_by_run, opened, count, rule, notes) if opened else []
    if choices:
        listed = ", ".join(f"{c.dataset}/{c.sample_id}" + (f" ({_spread_text(c, rule)})" if c.spread is not None
                                                           else "") for c in choices)
        notes.append(f"qualitative samples of suite {section.suite} ({rule}): {listed}")
    plots: list[Plot] = []
    if len(section.aggregates) >= 2:
        plot, why = side_by_side_plot(section, stores, opened, choices, rule)
        plots += [plot] if plot is not None else []
        notes += why
    samples = [(c.dataset, c.sample_id) for c in choices]
    for agg in section.aggregates:
        plot, why = qualitative_plot(stores[agg["run_id"]], section.labels[agg["run_id"]], section.suite,
                                     count=count, data_root=data_root, samples=samples, opened=opened)
        notes += why
        plots += [plot] if plot is not None else []
    return plots, list(dict.fromkeys(notes))
