"""The boundary tasks (paper Table 2): scale-invariant boundary F1 on depth GT, recall on masks.

Step 5 of the order of operations: the map is made depth-like (relative disparity inverted),
never aligned (the metrics are scale invariant); a depth GT without any valid pixel is an error
row (:class:`~dpbench.tasks.depth.NoValidGroundTruthError`), and the map is scored at GT resolution over the protocol's
thresholds; the per-threshold values are stored too (``boundary_<kind>_t<i>``) for the curves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dpbench.tasks.base import TableSpec, Task, register_task
from dpbench.tasks.depth import require_valid_gt
from dpbench.tasks.maps import depth_like, output_kind_of

if TYPE_CHECKING:  # pragma: no cover
    from dpbench.protocol import Protocol
    from dpbench.types import Prediction, Sample

_TABLE2 = "Boundary accuracy: scale-invariant F1 (depth GT) and recall (mask GT) (Table 2 style)"


@register_task
class BoundaryDepthTask(Task):
    """Scale-invariant boundary F1 against occluding contours of the GT depth."""

    name = "boundary_depth"
    needs = ("depth",)
    metrics = {"boundary_f1": "higher"}
    labels = {"boundary_f1": "Boundary F1"}
    summary_titles = {"boundary_f1": "F1"}
    descriptions = {"boundary_f1": "scale-invariant boundary F1 on depth GT (released Depth Pro SI_boundary_F1)"}
    curve_prefix = "boundary_"
    curve_kinds = ("precision", "recall", "f1")

    def score(self, sample: Sample, prediction: Prediction, protocol: Protocol) -> dict[str, float]:
        from dpbench.metrics.boundary import boundary_f1_curve

        gt_valid = require_valid_gt(sample)  # no valid GT pixel: an error row, not F1 = 0
        valid = gt_valid if protocol.boundary_valid == "mask" else None
        curve = boundary_f1_curve(depth_like(prediction.depth, output_kind_of(prediction)), sample.depth,
                                  t_min=protocol.boundary_t_min, t_max=protocol.boundary_t_max,
                                  n=int(protocol.boundary_n), valid=valid)
        row = {"boundary_f1": float(curve.score)}
        for i in range(len(curve.thresholds)):
            row[f"boundary_precision_t{i}"] = float(curve.precision[i])
            row[f"boundary_recall_t{i}"] = float(curve.recall[i])
            row[f"boundary_f1_t{i}"] = float(curve.f1[i])
        return row

    def tables(self) -> list[TableSpec]:
        return [TableSpec("table2", _TABLE2, ("boundary_f1",), header="{dataset} F1")]


@register_task
class BoundaryMaskTask(Task):
    """Scale-invariant boundary recall against the contours of a matting or segmentation mask."""

    name = "boundary_mask"
    needs = ("alpha",)
    metrics = {"boundary_recall": "higher"}
    labels = {"boundary_recall": "Boundary recall"}
    summary_titles = {"boundary_recall": "recall"}
    descriptions = {"boundary_recall": "scale-invariant boundary recall on mask GT "
                                       "(released Depth Pro SI_boundary_Recall)"}
    curve_prefix = "boundary_"
    curve_kinds = ("recall",)

    def score(self, sample: Sample, prediction: Prediction, protocol: Protocol) -> dict[str, float]:
        from dpbench.metrics.boundary import boundary_recall_curve

        curve = boundary_recall_curve(depth_like(prediction.depth, output_kind_of(prediction)), sample.mask,
                                      t_min=protocol.boundary_t_min, t_max=protocol.boundary_t_max,
                                      n=int(protocol.boundary_n), alpha_threshold=protocol.alpha_threshold)
        row = {"boundary_recall": float(curve.score)}
        for i in range(len(curve.thresholds)):
            row[f"boundary_recall_t{i}"] = float(curve.recall[i])
        return row

    def tables(self) -> list[TableSpec]:
        return [TableSpec("table2", _TABLE2, ("boundary_recall",), header="{dataset} R")]
