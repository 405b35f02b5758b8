"""The ``metric_depth`` task: δ1…SI-Log per image, with additive statistics for pooled aggregation.

Step 4 of the order of operations: alignment (``Protocol.alignment``; ``auto`` = the default of the
model's output kind) → optional clipping to the depth range → metrics on the valid GT pixels
inside the depth range, stored per image together with the ``stat_*`` sums that make the
dataset-pooled numbers (``--aggregation pooled``) come from the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dpbench.errors import DatasetError
from dpbench.tasks.additive import AdditiveStats, mean_stats, sum_stats
from dpbench.tasks.base import TableSpec, Task, column_mean, finite_or_none, register_task
from dpbench.tasks.maps import INVERSION_EPS, depth_like, output_kind_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from dpbench.protocol import Protocol
    from dpbench.types import Prediction, Sample

STAT_PREFIX = "stat_"
#: Table 4's columns besides δ1 (the paper's order).
TABLE4_METRICS = ("abs_rel", "log10", "delta2", "delta3", "silog")


class NoValidGroundTruthError(DatasetError):
    """A sample whose ground truth has no pixel to score: an error row, never an ``ok`` row with
    undefined metrics (which would drop out of every mean and so hide the sample)."""


def require_valid_gt(sample: Sample) -> np.ndarray:
    """The sample's valid GT pixels; :class:`NoValidGroundTruthError` when there is none
    (all-NaN disparity, all-zero depth, an empty valid mask)."""
    valid = sample.valid_mask()
    if valid is None or not valid.any():
        raise NoValidGroundTruthError(f"sample {sample.id!r}: the ground truth has no valid pixel "
                                      "(depth non-finite, ≤ 0 or masked everywhere)")
    return valid


def depth_valid_mask(sample: Sample, depth_range: tuple[float | None, float | None]) -> np.ndarray:
    """Pixels scored by the depth metrics: the sample's valid GT inside the depth range (inclusive);
    :class:`NoValidGroundTruthError` when none is left."""
    valid = require_valid_gt(sample)
    lo, hi = depth_range
    if lo is not None:
        valid = valid & (sample.depth >= lo)
    if hi is not None:
        valid = valid & (sample.depth <= hi)
    if not valid.any():
        raise NoValidGroundTruthError(f"sample {sample.id!r}: no valid ground-truth pixel inside the depth "
                                      f"range [{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}] m")
    return valid


def disparity_floor(max_depth: float | None) -> float:
    """The floor of aligned disparity: 1 / max_depth of the depth range, so that no aligned pixel
    lies beyond it (:data:`dpbench.align.DISPARITY_FLOOR` without a maximum)."""
    from dpbench.align import DISPARITY_FLOOR

    return 1.0 / max_depth if max_depth is not None and max_depth > 0 else DISPARITY_FLOOR


def aligned_depth(pred_map: np.ndarray, sample: Sample, method: str, output_kind: str,
                  valid: np.ndarray, max_depth: float | None = None) -> tuple[np.ndarray, dict]:
    """The prediction as metric depth after ``method`` (``none`` keeps metric depth as is).

    ``lstsq_scale_shift_disparity`` receives a disparity (the relative disparity itself, or
    1/depth for depth outputs), floored at :func:`disparity_floor` of ``max_depth``; every other
    method receives a depth-like map.
    """
    from dpbench.align import align

    if method == "none" and output_kind == "metric_depth":
        return pred_map, {}
    if method == "lstsq_scale_shift_disparity":
        source = pred_map if output_kind == "relative_disparity" else 1.0 / np.maximum(pred_map, INVERSION_EPS)
    else:
        source = depth_like(pred_map, output_kind)
    gt = np.where(valid, sample.depth, 0.0).astype(np.float32)
    options = {"min_disparity": disparity_floor(max_depth)} if method == "lstsq_scale_shift_disparity" else {}
    aligned, params = align(method, source, gt, valid, **options)
    return np.asarray(aligned, dtype=np.float32), dict(params or {})


def depth_bin_row(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, protocol: Protocol) -> dict[str, float]:
    """Additive statistics per GT-depth bin (``bin{k}_stat_*``, edges ``protocol.depth_bin_edges``) of
    the pixels the depth metrics score, for ``dpbench report --by-range`` (Table 10 style)."""
    from dpbench.metrics.depth_bins import depth_bin_stats

    return {key: float(value) for key, value in
            depth_bin_stats(pred, gt, valid, protocol.depth_bin_edges).items()}


@register_task
class MetricDepthTask(Task):
    """Zero-shot metric depth (paper Tables 1 and 4)."""

    name = "metric_depth"
    needs = ("depth",)
    metrics = {"delta1": "higher", "delta2": "higher", "delta3": "higher", "abs_rel": "lower",
               "sq_rel": "lower", "rmse": "lower", "rmse_log": "lower", "log10": "lower", "silog": "lower"}
    labels = {"delta1": "δ1", "delta2": "δ2", "delta3": "δ3", "abs_rel": "AbsRel", "sq_rel": "SqRel",
              "rmse": "RMSE", "rmse_log": "RMSE log", "log10": "Log10", "silog": "SI-Log"}
    percent = ("delta1", "delta2", "delta3")
    descriptions = {
        "delta1": "share of valid pixels with max(p/g, g/p) < 1.25",
        "delta2": "share of valid pixels with max(p/g, g/p) < 1.25²",
        "delta3": "share of valid pixels with max(p/g, g/p) < 1.25³",
        "abs_rel": "mean |p − g| / g",
        "sq_rel": "mean (p − g)² / g (Eigen convention)",
        "rmse": "sqrt(mean (p − g)²), metres",
        "rmse_log": "sqrt(mean (ln p − ln g)²)",
        "log10": "mean |log10 p − log10 g|",
        "silog": "100 · sqrt(mean d² − (mean d)²), d = ln p − ln g (scale-invariant)",
    }
    summary = ("delta1", "abs_rel")

    def score(self, sample: Sample, prediction: Prediction, protocol: Protocol) -> dict[str, float]:
        from dpbench.metrics.depth import depth_metric_stats, metrics_from_stats

        output_kind = output_kind_of(prediction)
        depth_range = protocol.depth_bounds
        valid = depth_valid_mask(sample, depth_range)
        method = protocol.alignment_for(output_kind)
        lo, hi = depth_range
        ceiling = hi if hi is not None else protocol.dataset_depth_range[1]
        pred, params = aligned_depth(prediction.depth, sample, method, output_kind, valid, max_depth=ceiling)
        if protocol.clip_predictions and (lo is not None or hi is not None):
            pred = np.clip(pred, lo if lo is not None else -np.inf, hi if hi is not None else np.inf)
        # ``valid`` already holds the depth range (inclusive bounds, as depth_metric_stats applies them)
        stats = depth_metric_stats(pred, sample.depth, valid=valid)
        row: dict[str, float] = dict(metrics_from_stats(stats))
        row.update({f"{STAT_PREFIX}{key}": float(value) for key, value in stats.items()})
        row.update(depth_bin_row(pred, sample.depth, valid, protocol))
        for key in ("scale", "shift"):
            value = params.get(key)
            if isinstance(value, (int, float, np.floating)):
                row[f"align_{key}"] = float(value)
        return row

    def aggregate(self, rows: pd.DataFrame, aggregation: str) -> dict[str, float | None]:
        """``per_image``: mean of the per-image values (undefined images left out); ``pooled``:
        the metrics of the dataset's pixels pooled, from the summed ``stat_*`` columns."""
        import pandas as pd

        from dpbench.errors import DpbenchError
        from dpbench.metrics.depth import metrics_from_stats

        if aggregation == "per_image":
            return {name: column_mean(rows, name) for name in self.metrics}
        stat_columns = [c for c in rows.columns if c.startswith(STAT_PREFIX)]
        if not stat_columns:
            raise DpbenchError("pooled aggregation needs the stat_* columns, and this run has none")
        sums = {c[len(STAT_PREFIX):]: float(pd.to_numeric(rows[c], errors="coerce").fillna(0).sum())
                for c in stat_columns}
        pooled = metrics_from_stats(sums)
        return {name: finite_or_none(pooled.get(name)) for name in self.metrics}

    def additive_stats(self, rows: pd.DataFrame, aggregation: str) -> AdditiveStats | None:
        """``per_image``: the means' statistics; ``pooled``: the ``stat_*`` columns themselves."""
        from dpbench.metrics.depth import STAT_KEYS, metric_arrays_from_stats

        if aggregation == "per_image":
            return mean_stats(rows, tuple(self.metrics))
        if not any(c.startswith(STAT_PREFIX) for c in rows.columns):
            return None  # aggregate() names the problem
        columns = [f"{STAT_PREFIX}{key}" for key in STAT_KEYS]
        return sum_stats(rows, columns,
                         lambda sums: metric_arrays_from_stats({c[len(STAT_PREFIX):]: v for c, v in sums.items()}))

    def tables(self) -> list[TableSpec]:
        return [
            TableSpec("table1", "Metric depth: δ1 (%) and average rank (Table 1 style)", ("delta1",),
                      header="{dataset}", rank=True, metric_scale=True),
            TableSpec("table4", "Metric depth on {dataset}: other metrics (Table 4 style)", TABLE4_METRICS,
                      layout="per_dataset", metric_scale=True),
        ]
