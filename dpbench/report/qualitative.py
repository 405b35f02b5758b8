"""The qualitative grid: a few samples of a run shown as image, GT, prediction, error and contours.

It needs the run's cached predictions (``dpbench run --save-predictions``) and the dataset on
disk: each dataset is re-opened from the root and split recorded in the manifest (or found under
another data root given by the caller, for runs made on another machine). Samples come from the
datasets with depth ground truth, one per dataset in turn, in the run's row order. Large images are
subsampled (a plain stride) for display, and contours are computed on the displayed maps.

Columns: the RGB image; GT and predicted inverse depth on a shared colour scale; the relative
error |p − g| / g on valid GT pixels (0 to 50%); occluding contours at the protocol's middle
threshold over the grey image: GT only green, prediction only red, both yellow.
"""

from __future__ import annotations

import os

import numpy as np

from dpbench.metrics.boundary import occluding_contours
from dpbench.report.plots import Plot, _slug, figure_png, new_figure
from dpbench.store import RunStore

DISPLAY_SIDE = 480  # longest side of a displayed map, in pixels
ERROR_CAP = 0.5
_COLUMNS = ("image", "GT inverse depth", "predicted inverse depth", "relative error", "contours")



def _depth_tasks() -> list[str]:
    """Tasks scored against a GT depth map from the predicted map (what the grid compares)."""
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


def _short(text: str, size: int = 28) -> str:
    """Keep the end of a long sample id (the most specific part) for a plot label."""
    return text if len(text) <= size else "…" + text[-(size - 1):]


def _stride(shape: tuple[int, ...]) -> int:
    return max(1, -(-max(shape[:2]) // DISPLAY_SIDE))


def _middle_threshold(protocol: dict) -> float:
    thresholds = protocol.get("boundary_thresholds") or [1.05, 1.25]
    return float(np.median(np.asarray(thresholds, dtype=float)))


def _open_datasets(manifest: dict, data_root: str | os.PathLike | None, notes: list[str]) -> dict:
    from dpbench.datasets import find_dataset_root, open_dataset

    opened = {}
    for entry in manifest.get("datasets", []):
        if not set(entry.get("tasks") or ()) & set(_depth_tasks()):
            continue
        name = entry["name"]
        root = entry.get("root")
        if data_root is not None:
            root = find_dataset_root(name, data_root) or root
        if not root:
            notes.append(f"{name}: no dataset root recorded")
            continue
        try:
            opened[name] = open_dataset(name, root, split=entry.get("split"), **(entry.get("options") or {}))
        except Exception as exc:  # a moved or partial dataset only costs the picture
            notes.append(f"{name}: cannot re-open the dataset at {root} ({exc})")
    return opened


def _pick_samples(store: RunStore, datasets: dict, count: int) -> list[tuple[str, str]]:
    rows = store.rows()
    ok = rows[rows["status"].eq("ok") & rows["task"].isin(_depth_tasks()) & rows["dataset"].isin(list(datasets))]
    per_dataset = {name: list(dict.fromkeys(ok.loc[ok["dataset"] == name, "sample_id"]))
                   for name in datasets}
    picked: list[tuple[str, str]] = []
    depth = 0
    while len(picked) < count and any(depth < len(ids) for ids in per_dataset.values()):
        for name, ids in per_dataset.items():
            if depth < len(ids) and len(picked) < count:
                picked.append((name, ids[depth]))
        depth += 1
    return picked


def _inverse(depth: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(np.isfinite(depth) & (depth > 0), 1.0 / depth, np.nan)
    if valid is not None:
        inv = np.where(valid, inv, np.nan)
    return inv


def qualitative_plot(
    store: RunStore, label: str, suite: str, *, count: int = 4,
    data_root: str | os.PathLike | None = None,
) -> tuple[Plot | None, list[str]]:
    """The grid of one run, or None and the reasons it could not be drawn."""
    notes: list[str] = []
    if not store.has_predictions():
        return None, [f"{label}: predictions were not saved (run with --save-predictions to get "
                      "the qualitative grid)"]
    datasets = _open_datasets(store.manifest, data_root, notes)
    threshold = _middle_threshold(store.manifest.get("protocol") or {})
    panels = []
    for dataset, sample_id in _pick_samples(store, datasets, count):
        try:
            prediction, _ = store.read_prediction(dataset, sample_id)
            ds = datasets[dataset]
            sample = ds[ds.ids.index(sample_id)]
        except (KeyError, ValueError) as exc:
            notes.append(f"{dataset}/{sample_id}: skipped ({exc})")
            continue
        except Exception as exc:  # unreadable sample file: skip it, say why
            notes.append(f"{dataset}/{sample_id}: skipped ({type(exc).__name__}: {exc})")
            continue
        if sample.depth is None or prediction.shape != sample.depth.shape:
            notes.append(f"{dataset}/{sample_id}: skipped (prediction shape {prediction.shape} "
                         f"differs from the GT's {None if sample.depth is None else sample.depth.shape})")
            continue
        panels.append((dataset, sample, prediction))
    if not panels:
        return None, notes + [f"{label}: no sample with depth GT and a cached prediction to show"]

    figure = new_figure(2.6 * len(_COLUMNS), 2.2 * len(panels) + 0.4)
    for line, (dataset, sample, prediction) in enumerate(panels):
        step = _stride(sample.image.shape)
        image = sample.image[::step, ::step]
        gt = sample.depth[::step, ::step]
        valid = sample.valid_mask()[::step, ::step]
        pred = prediction[::step, ::step]
        gt_inv, pred_inv = _inverse(gt, valid), _inverse(pred)
        finite = gt_inv[np.isfinite(gt_inv)]
        low, high = (np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            error = np.where(valid, np.abs(pred - gt) / gt, np.nan)
        gt_edges = contour_pixels(np.where(valid, gt, np.nan), threshold)
        pred_edges = contour_pixels(pred, threshold)
        grey = image.mean(axis=2, keepdims=True).repeat(3, axis=2) / 255.0 * 0.6
        overlay = grey.copy()
        overlay[gt_edges & ~pred_edges] = (0.1, 0.9, 0.1)
        overlay[pred_edges & ~gt_edges] = (0.95, 0.1, 0.1)
        overlay[pred_edges & gt_edges] = (1.0, 0.9, 0.0)
        shown = (
            dict(data=image),
            dict(data=gt_inv, cmap="magma", vmin=low, vmax=high),
            dict(data=pred_inv, cmap="magma", vmin=low, vmax=high),
            dict(data=error, cmap="inferno", vmin=0.0, vmax=ERROR_CAP),
            dict(data=overlay),
        )
        for column, spec in enumerate(shown):
            axes = figure.add_subplot(len(panels), len(_COLUMNS), line * len(_COLUMNS) + column + 1)
            data = spec.pop("data")
            axes.imshow(data, interpolation="nearest", **spec)
            axes.set_xticks([])
            axes.set_yticks([])
            if line == 0:
                axes.set_title(_COLUMNS[column], fontsize=9)
            if column == 0:
                axes.set_ylabel(f"{dataset}\n{_short(sample.id)}", fontsize=7)
    title = (f"{label}: samples (contours at t = {threshold:.3g}; green GT only, red prediction "
             f"only, yellow both; error 0–{ERROR_CAP:.0%})")
    figure.suptitle(title, fontsize=9)
    name = f"{_slug(suite)}_qualitative_{_slug(label)}"
    return Plot(suite, name, title, figure_png(figure)), notes

