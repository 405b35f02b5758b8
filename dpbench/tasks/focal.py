"""The ``focal`` task (paper Table 3): the model's own focal-length estimate against the GT focal.

Step 6 of the order of operations: the estimate scored is the model's own
(``Prediction.meta['focal_px_estimated']`` when the runner gave it a focal); the model is never
given a focal for a sample whose only task is this one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from dpbench.errors import ModelError
from dpbench.tasks.additive import numeric_column, ratio, weighted_median
from dpbench.tasks.base import TableSpec, Task, finite_or_none, register_task

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from dpbench.protocol import Protocol
    from dpbench.types import Prediction, Sample

#: focal_metrics() key -> the task's metric name.
_FOCAL_KEYS = {"abs_rel": "focal_abs_rel", "delta_25": "focal_delta_25",
               "delta_50": "focal_delta_50", "median_rel": "focal_median_rel"}


def estimated_focal(prediction: Prediction) -> float | None:
    """The model's own focal estimate: ``meta['focal_px_estimated']`` if a focal was given to it,
    else ``Prediction.focal_px`` unless the model reports it was given one."""
    estimate = prediction.meta.get("focal_px_estimated")
    if estimate is not None:
        return float(estimate)
    if prediction.meta.get("focal_source") in ("given", "gt", "exif"):
        return None
    return prediction.focal_px


@register_task
class FocalTask(Task):
    """Focal length from a single image: relative error and the share of images within 25 / 50 %."""

    name = "focal"
    needs = ("focal",)
    input = "focal"
    metrics = {"focal_abs_rel": "lower", "focal_delta_25": "higher", "focal_delta_50": "higher",
               "focal_median_rel": "lower"}
    labels = {"focal_abs_rel": "Focal AbsRel", "focal_delta_25": "δ25%", "focal_delta_50": "δ50%",
              "focal_median_rel": "Focal median rel."}
    percent = ("focal_delta_25", "focal_delta_50")
    descriptions = {
        "focal_abs_rel": "mean |f̂ − f| / f over images",
        "focal_delta_25": "share of images with |f̂ − f| / f < 0.25",
        "focal_delta_50": "share of images with |f̂ − f| / f < 0.5",
        "focal_median_rel": "median |f̂ − f| / f over images",
    }
    headline_metric = "focal_delta_25"
    summary_titles = {"focal_delta_25": "focal δ25"}
    #: Per-image error column the report's error CDF reads.
    error_column = "focal_rel_err"

    def score(self, sample: Sample, prediction: Prediction, protocol: Protocol) -> dict[str, float]:
        estimate = estimated_focal(prediction)
        if estimate is None or not math.isfinite(estimate) or estimate <= 0:
            raise ModelError(f"sample {sample.id!r}: the model gave no usable focal-length estimate "
                             f"({estimate!r})")
        return {"focal_pred": float(estimate), "focal_gt": float(sample.focal_px),
                "focal_rel_err": abs(estimate - sample.focal_px) / sample.focal_px}

    def aggregate(self, rows: pd.DataFrame, aggregation: str) -> dict[str, float | None]:
        """Focal metrics over the scored images (:func:`dpbench.metrics.focal.focal_metrics`)."""
        import pandas as pd

        from dpbench.metrics.focal import focal_metrics

        if "focal_pred" not in rows or "focal_gt" not in rows:
            return dict.fromkeys(self.metrics)
        pred = pd.to_numeric(rows["focal_pred"], errors="coerce").to_numpy(dtype=float)
        gt = pd.to_numeric(rows["focal_gt"], errors="coerce").to_numpy(dtype=float)
        has_gt = np.isfinite(gt) & (gt > 0)
        if not has_gt.any():
            return dict.fromkeys(self.metrics)
        scores = focal_metrics(pred[has_gt], gt[has_gt])
        by_name = {name: scores[key] for key, name in _FOCAL_KEYS.items()}
        return {name: finite_or_none(by_name.get(name)) for name in self.metrics}

    def bootstrap_metrics(self, rows: pd.DataFrame, aggregation: str, weights: np.ndarray
                          ) -> dict[str, np.ndarray]:
        """:meth:`aggregate` per resample: δ shares and AbsRel from weighted sums (AbsRel inf, i.e.
        undefined, when a failed prediction is drawn), the median from :func:`weighted_median`."""
        from dpbench.metrics.focal import FOCAL_DELTA_THRESHOLDS

        pred, gt = numeric_column(rows, "focal_pred"), numeric_column(rows, "focal_gt")
        has_gt = np.isfinite(gt) & (gt > 0)
        weights = np.asarray(weights, dtype=np.float64)[:, has_gt]
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(pred[has_gt] - gt[has_gt]) / gt[has_gt]
        rel[~np.isfinite(rel)] = np.inf
        drawn = weights.sum(axis=1)
        failed = weights @ np.isinf(rel).astype(np.float64) > 0
        out = {"focal_abs_rel": np.where(failed, np.inf, ratio(weights @ np.where(np.isinf(rel), 0.0, rel), drawn)),
               "focal_median_rel": weighted_median(rel, weights)}
        for key, threshold in FOCAL_DELTA_THRESHOLDS.items():
            out[_FOCAL_KEYS[key]] = ratio(weights @ (rel < threshold).astype(np.float64), drawn)
        return out

    def tables(self) -> list[TableSpec]:
        return [TableSpec("table3", "Focal length: share of images with relative error < 25% / < 50% "
                                    "(Table 3 style)", ("focal_delta_25", "focal_delta_50"),
                          header={"focal_delta_25": "{dataset} δ25", "focal_delta_50": "{dataset} δ50"})]
