"""The report's figures (PNG bytes), drawn with matplotlib's Agg canvas (no pyplot, no display).

- per-dataset bars per model for the headline metric of each task (δ1, boundary F1/recall,
  focal δ25: :attr:`dpbench.tasks.Task.headline`); every bar carries its value (a zero is drawn
  as ``0.0``, a missing entry as ``n/a``), and a bar below full coverage is pale and flagged;
- the focal error CDF (paper Fig. 10 style): % of images whose relative focal error is below x;
- per-threshold curves of the tasks that store them (:attr:`dpbench.tasks.Task.curve_kinds`:
  boundary precision / recall / F1 against the contour threshold, from the row columns
  ``boundary_{precision,recall,f1}_t{i}``; thresholds from the run's protocol).
Legends sit outside the axes (below the panels), so they never cover a bar or a curve. Runs are
told apart by colour, line style and marker (:func:`run_style`), and a curve drawn first is drawn
wider, so a curve identical to a later one still shows around it. Figure titles are wrapped to the
figure's width (:func:`wrapped_suptitle`), so a long title is never clipped.
The qualitative figures are in :mod:`dpbench.report.qualitative` and :mod:`dpbench.report.side_by_side`.
"""

from __future__ import annotations

import io
import re
import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dpbench.report.coverage import FLAG, is_flagged
from dpbench.report.tables import SuiteSection
from dpbench.tasks import get_task, list_tasks, metric_info

DPI = 100
_KIND_TITLES = {"precision": "precision", "recall": "recall", "f1": "F1"}
_LINE_STYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_MARKS_PER_CURVE = 8  # markers on a long curve (the focal CDF has one point per image)


@dataclass
class Plot:
    """One figure of the report."""

    suite: str
    name: str  # file stem, unique within a report
    title: str
    png: bytes


def new_figure(width: float, height: float):
    """A matplotlib Figure on an Agg canvas (independent of pyplot's global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_png(figure) -> bytes:
    """Render a figure to PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def shared_legend(figure) -> None:
    """One legend below all panels, outside every axes (cheaper to lay out and easier to read than
    one per panel), in as many columns (up to 4) as the figure's width holds."""
    handles, labels = {}, []
    for axes in figure.axes:
        for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    if not labels:
        return
    renderer = figure.canvas.get_renderer()
    for ncols in range(min(4, len(labels)), 0, -1):  # as many columns as fit the figure's width
        legend = figure.legend([handles[label] for label in labels], labels, loc="outside lower center",
                               ncols=ncols, fontsize=8)
        if ncols == 1 or legend.get_window_extent(renderer).width <= 0.98 * figure.bbox.width:
            return
        legend.remove()


def wrapped_suptitle(figure, text: str, fontsize: float = 10):
    """The figure's title, broken into lines that fit the figure's width (never clipped)."""
    width_points = figure.get_figwidth() * 72.0 * 0.95
    characters = max(20, int(width_points / (0.55 * fontsize)))  # a generous average glyph width
    return figure.suptitle("\n".join(textwrap.wrap(text, characters)), fontsize=fontsize)


def run_style(index: int, count: int, points: int = 0) -> dict:
    """Line style, marker and width of the ``index``-th of ``count`` curves of a panel.

    Each run gets its own (line style, marker) pair; earlier curves are wider, with larger
    markers, so an identical later curve leaves them visible; on curves of many points (``points``) the markers are
    thinned and staggered per run so identical curves show every run's markers.
    """
    style = {"linestyle": _LINE_STYLES[index % len(_LINE_STYLES)], "marker": _MARKERS[index % len(_MARKERS)],
             "markersize": 3.0 + 2.5 * (count - 1 - index) / max(1, count - 1),
             "linewidth": 1.0 + 1.2 * (count - 1 - index) / max(1, count - 1)}
    if points > _MARKS_PER_CURVE:
        step = max(1, points // _MARKS_PER_CURVE)
        style["markevery"] = (index * max(1, step // max(1, count)) % step, step)
    return style


def bar_value_text(value: float, percent: bool) -> str:
    """The label written on a bar: its value in the plotted unit."""
    return f"{value:.1f}" if percent else f"{value:.3g}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def _ok_rows(rows: pd.DataFrame, task: str, dataset: str | None = None) -> pd.DataFrame:
    keep = (rows["task"] == task) & (rows["status"] == "ok")
    if dataset is not None:
        keep &= rows["dataset"] == dataset
    return rows[keep]


def interval_errors(agg: dict, datasets: list[str], metric: str, scale: float) -> np.ndarray | None:
    """Error bars (2 × datasets, below / above the value) of a run's ``--ci`` intervals; None without."""
    intervals = (agg.get("ci") or {}).get("results")
    if not intervals:
        return None
    errors = np.zeros((2, len(datasets)))
    for j, dataset in enumerate(datasets):
        value = agg["results"].get(dataset, {}).get(metric)
        bounds = (intervals.get(dataset) or {}).get(metric) or {}
        if value is not None and bounds.get("ci_low") is not None:
            errors[:, j] = [(value - bounds["ci_low"]) * scale, (bounds["ci_high"] - value) * scale]
    return np.maximum(errors, 0.0)


def _horizontal() -> dict:
    """The keyword of a horizontal box plot (``orientation`` from Matplotlib 3.10, ``vert`` before)."""
    import matplotlib

    major, minor = (int(part) for part in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def rank_distribution_plot(suite: str, samples: dict[str, np.ndarray], level: float) -> Plot | None:
    """Box plot of each row's average rank over the joint bootstrap resamples (``--ci``); the
    whiskers span the ``level`` percentile interval, the box the quartiles."""
    if not samples:
        return None
    labels = list(samples)
    figure = new_figure(6.0, 1.2 + 0.35 * len(labels))
    axes = figure.add_subplot()
    data = [np.asarray(samples[label])[np.isfinite(samples[label])] for label in labels]
    tail = 100.0 * (1.0 - level) / 2.0
    axes.boxplot(data, whis=(tail, 100.0 - tail), showfliers=False, **_horizontal())
    axes.set_yticks(np.arange(1, len(labels) + 1), labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("average rank over bootstrap resamples (1 = best)")
    title = f"Rank stability: average rank per model, suite {suite}"
    axes.set_title(title, fontsize=10)
    axes.grid(axis="x", alpha=0.3)
    return Plot(suite, f"{_slug(suite)}_rank_distribution", title, figure_png(figure))


def bar_plots(section: SuiteSection) -> list[Plot]:
    """Grouped bars: one group per dataset, one bar per run (references hatched; with ``--ci``,
    error bars spanning each interval)."""
    plots = []
    for metric in [task.headline for task in list_tasks()]:
        datasets = [d for d in dict.fromkeys(d for agg in section.aggregates for d in agg["results"])
                    if any(agg["results"].get(d, {}).get(metric) is not None for agg in section.aggregates)]
        if not datasets:
            continue
        info = metric_info(metric)
        scale = 100.0 if info.percent else 1.0
        runs = section.aggregates
        figure = new_figure(max(4.5, 1.0 + 0.9 * len(datasets) * max(1, len(runs)) ** 0.5), 3.4)
        axes = figure.add_subplot()
        width = 0.8 / len(runs)
        x = np.arange(len(datasets))
        for i, agg in enumerate(runs):
            values = [agg["results"].get(d, {}).get(metric) for d in datasets]
            heights = [np.nan if v is None else v * scale for v in values]
            bars = axes.bar(x - 0.4 + width * (i + 0.5), np.nan_to_num(heights, nan=0.0), width,
                            label=section.labels[agg["run_id"]], hatch="//" if agg["reference"] else None,
                            edgecolor="black", linewidth=0.4,
                            yerr=interval_errors(agg, datasets, metric, scale), capsize=2)
            texts = ["n/a" if not np.isfinite(h) else bar_value_text(h, info.percent) for h in heights]
            for j, (bar, dataset, height) in enumerate(zip(bars, datasets, heights, strict=True)):
                if not np.isfinite(height):  # no value: an empty slot, said in words
                    bar.set_visible(False)
                elif is_flagged(agg, dataset, metric):  # below full coverage
                    bar.set_alpha(0.35)
                    texts[j] += FLAG
            axes.bar_label(bars, texts, fontsize=6, padding=1, rotation=90 if len(runs) > 2 else 0)
        axes.margins(y=0.18)
        axes.set_xticks(x, datasets, rotation=30 if len(datasets) > 4 else 0, ha="right" if len(datasets) > 4 else "center")
        arrow = "higher is better" if info.higher_is_better else "lower is better"
        axes.set_ylabel(f"{info.label}{' (%)' if info.percent else ''}")
        title = f"{info.label} per dataset ({arrow}), suite {section.suite}"
        wrapped_suptitle(figure, title, fontsize=10)
        shared_legend(figure)
        axes.grid(axis="y", alpha=0.3)
        plots.append(Plot(section.suite, f"{_slug(section.suite)}_bars_{metric}", title, figure_png(figure)))
    return plots


def focal_errors(rows: pd.DataFrame, dataset: str) -> np.ndarray:
    """Relative focal errors |f̂ − f| / f of a dataset's scored images (NaNs dropped)."""
    task = get_task("focal")
    ok = _ok_rows(rows, task.name, dataset)
    if task.error_column in ok:
        errors = pd.to_numeric(ok[task.error_column], errors="coerce").to_numpy(dtype=float)
    elif {"focal_pred", "focal_gt"} <= set(ok.columns):
        pred = ok["focal_pred"].to_numpy(dtype=float)
        gt = ok["focal_gt"].to_numpy(dtype=float)
        errors = np.abs(pred - gt) / gt
    else:
        return np.empty(0)
    return errors[np.isfinite(errors)]


def focal_cdf_plot(section: SuiteSection, rows_by_run: dict[str, pd.DataFrame]) -> Plot | None:
    """Per focal dataset, the share of images whose relative focal error is below x (x in [0, 1])."""
    datasets = [d for d in dict.fromkeys(d for agg in section.aggregates for d in agg["results"])
                if any("focal_delta_25" in agg["results"].get(d, {}) for agg in section.aggregates)]
    if not datasets:
        return None
    columns = min(3, len(datasets))
    lines = -(-len(datasets) // columns)
    figure = new_figure(max(5.0, 3.6 * columns), 3.2 * lines)
    for index, dataset in enumerate(datasets):
        axes = figure.add_subplot(lines, columns, index + 1)
        for i, agg in enumerate(section.aggregates):
            errors = np.sort(focal_errors(rows_by_run[agg["run_id"]], dataset))
            if errors.size == 0:
                continue
            share = 100.0 * np.arange(1, errors.size + 1) / errors.size
            xs = np.concatenate([[0.0], errors, [max(1.0, errors[-1])]])
            ys = np.concatenate([[0.0], share, [100.0]])
            axes.step(xs, ys, where="post", label=section.labels[agg["run_id"]],
                      **run_style(i, len(section.aggregates), xs.size))
        for mark in (0.25, 0.5):
            axes.axvline(mark, color="grey", linewidth=0.6, linestyle=":")
        axes.set_xlim(-0.02, 1.0)  # a curve of exact estimates stands off the axis line
        axes.set_ylim(0.0, 100.0)
        axes.set_title(dataset, fontsize=10)
        axes.set_xlabel("relative focal error |f̂ − f| / f")
        axes.set_ylabel("% of images below")
        axes.grid(alpha=0.3)
    shared_legend(figure)
    title = f"Focal length: error CDF per dataset, suite {section.suite}"
    wrapped_suptitle(figure, title, fontsize=11)
    return Plot(section.suite, f"{_slug(section.suite)}_focal_cdf", title, figure_png(figure))


def _threshold_means(rows: pd.DataFrame, task: str, dataset: str, kind: str, prefix: str = "boundary_") -> np.ndarray:
    """Mean over a dataset's scored images of ``<prefix><kind>_t{i}``, i = 0, 1, …"""
    ok = _ok_rows(rows, task, dataset)
    pattern = re.compile(rf"^{re.escape(prefix + kind)}_t(\d+)$")
    indexed = sorted((int(m.group(1)), c) for c in ok.columns if (m := pattern.match(c)))
    if not indexed or ok.empty:
        return np.empty(0)
    values = ok[[c for _, c in indexed]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(values)
    counts = finite.sum(axis=0)
    sums = np.where(finite, values, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _thresholds(agg: dict, count: int) -> np.ndarray:
    given = agg["protocol"].get("boundary_thresholds")
    if isinstance(given, (list, tuple)) and len(given) == count:
        return np.asarray(given, dtype=float)
    return np.arange(count, dtype=float)


def boundary_threshold_plots(section: SuiteSection, rows_by_run: dict[str, pd.DataFrame]) -> list[Plot]:
    """Precision/recall/F1 against the threshold (depth GT) and recall against it (mask GT)."""
    plots = []
    for task_object in [t for t in list_tasks() if t.curve_kinds]:
        task, metric, kinds, prefix = task_object.name, task_object.headline, task_object.curve_kinds, task_object.curve_prefix
        datasets = [d for d in dict.fromkeys(d for agg in section.aggregates for d in agg["results"])
                    if any(metric in agg["results"].get(d, {}) for agg in section.aggregates)]
        curves = {(agg["run_id"], d, k): _threshold_means(rows_by_run[agg["run_id"]], task, d, k, prefix)
                  for agg in section.aggregates for d in datasets for k in kinds}
        if not any(c.size for c in curves.values()):
            continue
        per_line = len(kinds) if len(kinds) > 1 else min(3, len(datasets))
        lines = len(datasets) if len(kinds) > 1 else -(-len(datasets) // per_line)
        figure = new_figure(max(5.0, 3.4 * per_line), 2.8 * lines + 0.3)
        panel = 0
        for dataset in datasets:
            for kind in kinds:
                panel += 1
                axes = figure.add_subplot(lines, per_line, panel)
                for i, agg in enumerate(section.aggregates):
                    curve = curves[(agg["run_id"], dataset, kind)]
                    if curve.size:
                        axes.plot(_thresholds(agg, curve.size), curve, label=section.labels[agg["run_id"]],
                                  **run_style(i, len(section.aggregates)))
                axes.set_ylim(-0.02, 1.02)
                axes.set_title(f"{dataset}: {_KIND_TITLES[kind]}", fontsize=9)
                if panel > (lines - 1) * per_line:  # bottom line only
                    axes.set_xlabel("threshold t (depth ratio)")
                axes.grid(alpha=0.3)
        shared_legend(figure)
        what = "precision / recall / F1" if len(kinds) > 1 else "recall"
        title = f"Boundaries: {what} against the threshold ({'depth' if len(kinds) > 1 else 'mask'} GT), suite {section.suite}"
        wrapped_suptitle(figure, title, fontsize=10)
        plots.append(Plot(section.suite, f"{_slug(section.suite)}_{task}_thresholds", title, figure_png(figure)))
    return plots
