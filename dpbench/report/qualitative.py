"""The qualitative grid: a few samples of a run shown as image, GT, prediction, error and contours,
and the helpers every qualitative figure shares (:mod:`dpbench.report.side_by_side`).

It needs the run's cached predictions (``dpbench run --save-predictions``) and the dataset on
disk: each dataset is re-opened from the root and split recorded in the manifest (or found under
another data root given by the caller, for runs made on another machine). Samples are chosen by
:mod:`dpbench.report.qualitative_select` (default: one per dataset in turn, in row order). Large
images are subsampled (a plain stride) for display, and contours are computed on the displayed maps.

A cached prediction is shown as the depth the depth metrics score: resampled to the GT size with
the run's ``resize`` and, for relative outputs (or a protocol that aligns), aligned to the GT with
the run's alignment (:func:`dpbench.tasks.depth.aligned_depth`); the column title then names the
alignment. Contours are drawn from the map the boundary metrics read (relative disparity inverted).

Columns: the RGB image; GT and predicted inverse depth on a shared colour scale (turbo, from the
2nd to the 98th percentile of the GT's valid inverse depth, near = warm, as in the paper's Fig. 1)
with its colour bar; the relative error |p − g| / g on valid GT pixels (0 to 50%) with its colour
bar; occluding contours at the protocol's middle threshold over the grey image: GT only green,
prediction only red, both yellow. Each row is as tall as its image's aspect ratio asks, so rows of
landscape images leave no gap between them.
"""

from __future__ import annotations

import os
import re
import textwrap
import warnings
from dataclasses import dataclass

import numpy as np

from dpbench.metrics.boundary import occluding_contours
from dpbench.report.plots import Plot, _slug, figure_png, new_figure, wrapped_suptitle
from dpbench.store import RunStore

DISPLAY_SIDE = 480  # longest side of a displayed map, in pixels
ERROR_CAP = 0.5
INVERSE_DEPTH_CMAP = "turbo"
ERROR_CMAP = "inferno"
INVERSE_DEPTH_PERCENTILES = (2.0, 98.0)
PANEL_INCHES = 2.0  # width of one image panel
MAX_WIDTH_INCHES = 20.0  # panels shrink when a figure would be wider (many runs side by side)
COLORBAR_RATIO = 0.07  # width of a colour bar column, relative to a panel
GT_ONLY, PREDICTION_ONLY, BOTH = (0.1, 0.9, 0.1), (0.95, 0.1, 0.1), (1.0, 0.9, 0.0)
CONTOUR_LEGEND = "green GT only, red prediction only, yellow both"
_COLUMNS = ("image", "GT inverse depth", "predicted inverse depth", "relative error", "contours")


def depth_tasks() -> list[str]:
    """Tasks scored against a GT depth map from the predicted map (what the figures compare)."""
    from dpbench.tasks import list_tasks

    return [t.name for t in list_tasks() if t.input == "map" and "depth" in t.needs]


def contour_pixels(depth: np.ndarray, threshold: float) -> np.ndarray:
    """H×W map of the pixels touching an occluding contour pair of ``depth`` at ``threshold``."""
    maps = occluding_contours(depth, threshold)
    out = np.zeros(depth.shape, dtype=bool)
    for direction, pairs in maps.items():
        if direction in ("left", "right"):
            out[:, :-1] |= pairs
            out[:, 1:] |= pairs
        else:
            out[:-1, :] |= pairs
            out[1:, :] |= pairs
    return out


def short_id(text: str, size: int = 28) -> str:
    """Keep the end of a long sample id (the most specific part) for a plot label."""
    return text if len(text) <= size else "…" + text[-(size - 1):]


def sample_label(dataset: str, sample_id: str, extra: str = "") -> str:
    """A row label short enough to run along one image row: the dataset, then the end of the sample
    id broken after its slashes into lines of about 16 characters (and ``extra``)."""
    lines, current = [dataset], ""
    for part in re.split(r"(?<=/)", short_id(sample_id, 24)):
        if current and len(current) + len(part) > 16:
            lines.append(current)
            current = ""
        current += part
    lines += [current, extra]
    return "\n".join(line for line in lines if line)


def display_stride(shape: tuple[int, ...]) -> int:
    """The subsampling step that brings the longest side to at most :data:`DISPLAY_SIDE`."""
    return max(1, -(-max(shape[:2]) // DISPLAY_SIDE))


def middle_threshold(protocol: dict) -> float:
    """The contour threshold the figures draw: the median of the run's boundary thresholds."""
    thresholds = protocol.get("boundary_thresholds") or [1.05, 1.25]
    return float(np.median(np.asarray(thresholds, dtype=float)))


def open_datasets(manifest: dict, data_root: str | os.PathLike | None, notes: list[str],
                  opened: dict | None = None) -> dict:
    """The run's depth datasets re-opened from disk (name -> Dataset); what fails goes to ``notes``.

    ``opened`` (name -> Dataset) is reused and extended, so runs of one suite open a dataset once.
    """
    from dpbench.datasets import find_dataset_root, open_dataset

    opened = {} if opened is None else opened
    found = {}
    for entry in manifest.get("datasets", []):
        if not set(entry.get("tasks") or ()) & set(depth_tasks()):
            continue
        name = entry["name"]
        if name in opened:
            found[name] = opened[name]
            continue
        root = entry.get("root")
        if data_root is not None:
            root = find_dataset_root(name, data_root) or root
        if not root:
            notes.append(f"{name}: no dataset root recorded")
            continue
        try:
            opened[name] = found[name] = open_dataset(name, root, split=entry.get("split"),
                                                      **(entry.get("options") or {}))
        except Exception as exc:  # a moved or partial dataset only costs the picture
            notes.append(f"{name}: cannot re-open the dataset at {root} ({exc})")
    return found


def load_sample(datasets: dict, dataset: str, sample_id: str):
    """The sample ``sample_id`` of an opened dataset (KeyError/ValueError when it is not there)."""
    ds = datasets[dataset]
    return ds[ds.ids.index(sample_id)]


def inverse_depth(depth: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """1 / depth where depth is finite and > 0 (and ``valid``), NaN elsewhere."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(np.isfinite(depth) & (depth > 0), 1.0 / depth, np.nan)
    if valid is not None:
        inv = np.where(valid, inv, np.nan)
    return inv


def inverse_depth_limits(gt_inverse: np.ndarray) -> tuple[float, float]:
    """The shared colour scale of a sample: robust percentiles of the GT's valid inverse depth."""
    finite = gt_inverse[np.isfinite(gt_inverse)]
    if not finite.size:
        return 0.0, 1.0
    low, high = np.percentile(finite, INVERSE_DEPTH_PERCENTILES)
    return float(low), (float(high) if high > low else float(low) + 1e-6)


@dataclass
class DisplayedPrediction:
    """A cached prediction as the depth metrics see it, and the map the boundary metrics read."""

    depth: np.ndarray  # at the GT size, aligned when the run's protocol aligns this output kind
    contour_source: np.ndarray  # depth-like map at the GT size (relative disparity inverted)
    alignment: str | None  # the alignment applied (None: shown as predicted)


def displayed_prediction(store: RunStore, dataset, sample) -> DisplayedPrediction:
    """Read ``sample``'s cached prediction of ``store`` and bring it to the GT (size, alignment).

    KeyError when the run saved no prediction for it; ValueError when it cannot be resampled.
    """
    from dpbench.errors import ModelError
    from dpbench.protocol import Protocol
    from dpbench.suites import default_protocol_options
    from dpbench.tasks.depth import aligned_depth
    from dpbench.tasks.maps import depth_like, to_gt_resolution
    from dpbench.types import Prediction

    raw, attrs = store.read_prediction(dataset.name, sample.id)
    output_kind = str(attrs.get("output_kind") or store.manifest.get("model", {}).get("output_kind")
                      or "metric_depth")
    recorded = {**default_protocol_options(), **(store.manifest.get("protocol") or {})}  # older runs: defaults
    protocol = Protocol.from_options(recorded).for_dataset(dataset.depth_range)
    try:
        pred_map = to_gt_resolution(Prediction(depth=raw), sample, protocol.resize, output_kind)
    except ModelError as exc:  # e.g. resize = none and another size
        raise ValueError(str(exc)) from None
    valid = sample.valid_mask() & np.isfinite(sample.depth)
    method = protocol.alignment_for(output_kind)
    with warnings.catch_warnings():  # a failed fit shows the prediction unaligned
        warnings.simplefilter("ignore", RuntimeWarning)
        depth, _ = aligned_depth(pred_map, sample, method, output_kind, valid, protocol.depth_bounds[1])
    shown_as_is = method == "none" and output_kind == "metric_depth"
    return DisplayedPrediction(depth, depth_like(pred_map, output_kind), None if shown_as_is else method)


def contour_overlay(image: np.ndarray, gt_edges: np.ndarray, pred_edges: np.ndarray | None) -> np.ndarray:
    """The image in dimmed grey with GT-only (green), prediction-only (red) and shared (yellow)
    contour pixels; without ``pred_edges`` only the GT contours, in green."""
    grey = image.mean(axis=2, keepdims=True).repeat(3, axis=2) / 255.0 * 0.6
    overlay = grey.copy()
    if pred_edges is None:
        overlay[gt_edges] = GT_ONLY
        return overlay
    overlay[gt_edges & ~pred_edges] = GT_ONLY
    overlay[pred_edges & ~gt_edges] = PREDICTION_ONLY
    overlay[pred_edges & gt_edges] = BOTH
    return overlay


def panel_figure(width_ratios: list[float], aspects: list[float], title_lines: int = 1):
    """A figure and its grid: one column per ``width_ratios`` entry (1 = an image panel), one row per
    ``aspects`` entry (height / width of that row's images), sized so images fill their cells."""
    top = 0.22 * title_lines + 0.25
    panel = min(PANEL_INCHES, MAX_WIDTH_INCHES / sum(width_ratios))  # many runs: smaller panels
    figure = new_figure(panel * sum(width_ratios) + 0.5, panel * sum(aspects) + 0.2 * len(aspects) + top)
    grid = figure.add_gridspec(len(aspects), len(width_ratios), width_ratios=width_ratios,
                               height_ratios=aspects)
    return figure, grid


def tighten_rows(figure, rounds: int = 3) -> None:
    """Shrink the figure's height by the vertical slack of its image rows: the layout gives each
    row a cell, and an image narrower than planned (labels and colour bars take width) would
    leave a gap above and below it."""
    for _ in range(rounds):
        figure.canvas.draw()
        slack: dict[int, float] = {}
        for axes in figure.axes:
            spec = axes.get_subplotspec()
            if not axes.images or spec is None:
                continue
            gap = axes.get_position(original=True).height - axes.get_position().height
            row = spec.rowspan.start
            slack[row] = min(slack.get(row, gap), gap)
        inches = sum(slack.values()) * figure.get_figheight()
        if inches < 0.02:
            return
        figure.set_figheight(figure.get_figheight() - inches)


def show_map(figure, cell, data, **style):
    """An image panel without ticks."""
    axes = figure.add_subplot(cell)
    image = axes.imshow(data, interpolation="nearest", **style)
    axes.set_xticks([])
    axes.set_yticks([])
    return axes, image


def colour_bar(figure, cell, image, label: str) -> None:
    """A colour bar of ``image`` in its own grid cell."""
    axes = figure.add_subplot(cell)
    bar = figure.colorbar(image, cax=axes)
    bar.ax.tick_params(labelsize=6)
    bar.set_label(label, fontsize=7)


def wrap_label(text: str, width: int = 24) -> str:
    """A column title broken into lines of at most ``width`` characters."""
    return "\n".join(textwrap.wrap(text, width)) or text


def qualitative_plot(
    store: RunStore, label: str, suite: str, *, count: int = 4,
    data_root: str | os.PathLike | None = None, samples: list[tuple[str, str]] | None = None,
    opened: dict | None = None,
) -> tuple[Plot | None, list[str]]:
    """The grid of one run, or None and the reasons it could not be drawn.

    ``samples`` ((dataset, sample_id), e.g. from :func:`dpbench.report.qualitative_select.select_samples`)
    replaces the default choice (the first samples of each dataset in turn).
    """
    from dpbench.report.qualitative_select import candidate_samples, select_samples

    notes: list[str] = []
    if not store.has_predictions():
        return None, [f"{label}: predictions were not saved (run with --save-predictions to get "
                      "the qualitative grid)"]
    datasets = open_datasets(store.manifest, data_root, notes, opened)
    threshold = middle_threshold(store.manifest.get("protocol") or {})
    if samples is None:
        candidates = candidate_samples({store.run_id: store.rows()}, depth_tasks(), list(datasets))
        samples = [(c.dataset, c.sample_id) for c in select_samples("first", count, {}, candidates)]
    panels = []
    for dataset, sample_id in samples:
        if dataset not in datasets:
            continue
        try:
            sample = load_sample(datasets, dataset, sample_id)
            if sample.depth is None:
                raise ValueError("no depth ground truth")
            shown = displayed_prediction(store, datasets[dataset], sample)
        except (KeyError, ValueError) as exc:
            notes.append(f"{label}: {dataset}/{sample_id}: skipped ({exc.args[0] if exc.args else exc})")
            continue
        except Exception as exc:  # unreadable sample file: skip it, say why
            notes.append(f"{label}: {dataset}/{sample_id}: skipped ({type(exc).__name__}: {exc})")
            continue
        panels.append((dataset, sample, shown))
    if not panels:
        return None, notes + [f"{label}: no sample with depth GT and a cached prediction to show"]

    aligned = next((shown.alignment for _, _, shown in panels if shown.alignment), None)
    titles = list(_COLUMNS)
    if aligned:
        titles[2] = f"predicted inverse depth (aligned: {aligned})"
    title = (f"{label}: samples (contours at t = {threshold:.3g}: {CONTOUR_LEGEND}; "
             f"relative error 0–{ERROR_CAP:.0%})")
    ratios = [1, 1, 1, COLORBAR_RATIO, 1, COLORBAR_RATIO, 1]
    aspects = [s.image.shape[0] / s.image.shape[1] for _, s, _ in panels]
    figure, grid = panel_figure(ratios, aspects, title_lines=2)
    for line, (dataset, sample, shown) in enumerate(panels):
        step = display_stride(sample.image.shape)
        image = sample.image[::step, ::step]
        gt = sample.depth[::step, ::step]
        valid = sample.valid_mask()[::step, ::step]
        pred = shown.depth[::step, ::step]
        gt_inv = inverse_depth(gt, valid)
        low, high = inverse_depth_limits(gt_inv)
        with np.errstate(divide="ignore", invalid="ignore"):
            error = np.where(valid, np.abs(pred - gt) / gt, np.nan)
        gt_edges = contour_pixels(np.where(valid, gt, np.nan), threshold)
        pred_edges = contour_pixels(shown.contour_source[::step, ::step], threshold)
        depth_style = dict(cmap=INVERSE_DEPTH_CMAP, vmin=low, vmax=high)
        first, _ = show_map(figure, grid[line, 0], image)
        show_map(figure, grid[line, 1], gt_inv, **depth_style)
        _, depth_image = show_map(figure, grid[line, 2], inverse_depth(pred), **depth_style)
        colour_bar(figure, grid[line, 3], depth_image, "1/m")
        _, error_image = show_map(figure, grid[line, 4], error, cmap=ERROR_CMAP, vmin=0.0, vmax=ERROR_CAP)
        colour_bar(figure, grid[line, 5], error_image, "|p − g| / g")
        show_map(figure, grid[line, 6], contour_overlay(image, gt_edges, pred_edges))
        first.set_ylabel(sample_label(dataset, sample.id), fontsize=6)
        if line == 0:
            for column, text in zip((0, 1, 2, 4, 6), titles, strict=True):
                figure.axes[-7 + column].set_title(wrap_label(text), fontsize=8)
    wrapped_suptitle(figure, title, fontsize=9)
    tighten_rows(figure)
    name = f"{_slug(suite)}_qualitative_{_slug(label)}"
    return Plot(suite, name, title, figure_png(figure)), notes
