"""The ``pointcloud`` task: PC-CD, PC-F and PC-IoU of Depth Pro Table 4 (Spencer et al. 2022).

Both clouds are back-projected with the sample's ground-truth intrinsics (the model's own focal
length never enters): ``fx`` = ``Sample.focal_px``; ``fy``, ``cx``, ``cy`` from the adapter's
``meta["intrinsics"]`` when it carries them (a 3×3 K or ``[fx, fy, cx, cy]``), otherwise
``fy = fx`` (square pixels) and the principal point at the image centre ((W − 1)/2, (H − 1)/2 in
0-based pixel-centre coordinates). The choice is recorded in the row (``pc_fx`` … ``pc_cy``,
``pc_principal``). A sample without a GT focal length is an error row naming the reason (never a
made-up focal).

Pixel set: the valid GT pixels strictly inside the dataset's depth range (Spencer's evaluator uses
``min < g < max``). Options (``Protocol``, defaults and reasons in ``datasets/suites.toml``):
``pointcloud_cd_squared``, ``pointcloud_align``, ``pointcloud_threshold``. Relative outputs are
made depth-like first and need ``pointcloud_align = "median"``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from dpbench.errors import DpbenchError
from dpbench.tasks.base import TableSpec, Task, register_task
from dpbench.tasks.maps import depth_like, output_kind_of

if TYPE_CHECKING:  # pragma: no cover
    from dpbench.protocol import Protocol
    from dpbench.types import Prediction, Sample

#: Relative difference above which ``meta["intrinsics"]``'s fx and ``Sample.focal_px`` disagree.
FOCAL_AGREEMENT = 1e-3


def gt_intrinsics(sample: Sample) -> tuple[float, float, float, float, str]:
    """``(fx, fy, cx, cy, principal)`` of ``sample`` at its resolution; ``principal`` says where
    cx, cy came from (``"meta"`` or ``"image_centre"``). DpbenchError naming the sample otherwise."""
    if sample.focal_px is None:
        raise DpbenchError(f"sample {sample.id!r}: no ground-truth focal length, so no point cloud "
                           "(the pointcloud task never uses a made-up focal)")
    fx = float(sample.focal_px)
    given = sample.meta.get("intrinsics") if isinstance(sample.meta, dict) else None
    if given is not None:
        try:
            values = np.asarray(given, dtype=np.float64)
            if values.shape in ((3, 3), (4, 4)):
                kfx, kfy, kcx, kcy = values[0, 0], values[1, 1], values[0, 2], values[1, 2]
            elif values.shape == (4,):
                kfx, kfy, kcx, kcy = values
            else:
                raise ValueError(f"shape {values.shape}")
        except (TypeError, ValueError) as exc:
            raise DpbenchError(f"sample {sample.id!r}: meta 'intrinsics' is neither a 3×3 K nor "
                               f"[fx, fy, cx, cy] ({exc})") from None
        if not all(math.isfinite(v) and v > 0 for v in (kfx, kfy, kcx, kcy)):
            raise DpbenchError(f"sample {sample.id!r}: meta 'intrinsics' holds a non-positive or "
                               f"non-finite value: {[float(kfx), float(kfy), float(kcx), float(kcy)]}")
        if abs(kfx - fx) > FOCAL_AGREEMENT * fx:
            raise DpbenchError(f"sample {sample.id!r}: meta 'intrinsics' fx = {float(kfx):g} disagrees "
                               f"with the sample's focal length {fx:g} (resized or reoriented image?)")
        return fx, float(kfy), float(kcx), float(kcy), "meta"
    return fx, fx, (sample.width - 1) / 2.0, (sample.height - 1) / 2.0, "image_centre"


@register_task
class PointCloudTask(Task):
    """Point-cloud Chamfer distance, F-score and IoU (paper Table 4's last three columns)."""

    name = "pointcloud"
    text_columns = ("pc_principal",)
    needs = ("depth", "focal")
    metrics = {"pc_cd": "lower", "pc_f": "higher", "pc_iou": "higher"}
    labels = {"pc_cd": "PC-CD", "pc_f": "PC-F", "pc_iou": "PC-IoU"}
    descriptions = {
        "pc_cd": "Chamfer distance between the back-projected clouds: mean a² + mean b² (m²; "
                 "mean a + mean b in m with pointcloud_cd_squared = false)",
        "pc_f": "F-score of precision (pred→GT distance < t) and recall (GT→pred < t), a fraction",
        "pc_iou": "P·R/(P + R − P·R) (Spencer et al.), a fraction",
    }
    title = "Point clouds on {dataset} (Table 4 style: PC-CD, PC-F, PC-IoU)"
    summary = ("pc_cd", "pc_f")

    def score(self, sample: Sample, prediction: Prediction, protocol: Protocol) -> dict[str, float]:
        from dpbench.metrics.pointcloud import pointcloud_metrics

        fx, fy, cx, cy, principal = gt_intrinsics(sample)
        output_kind = output_kind_of(prediction)
        align = protocol.pointcloud_align
        if output_kind != "metric_depth" and align == "none":
            raise DpbenchError(f"sample {sample.id!r}: a {output_kind} prediction has no metric scale; "
                               "the pointcloud task needs pointcloud_align = median for it")
        pred = depth_like(prediction.depth, output_kind)
        lo, hi = protocol.depth_bounds
        out = pointcloud_metrics(pred, sample.depth, sample.valid_mask(), fx, fy, cx, cy,
                                 threshold=protocol.pointcloud_threshold,
                                 cd_squared=protocol.pointcloud_cd_squared, align=align,
                                 min_depth=lo, max_depth=hi)
        row: dict = {key: float(value) for key, value in out.items()}
        row.update(pc_fx=fx, pc_fy=fy, pc_cx=cx, pc_cy=cy, pc_principal=principal)
        return row

    def tables(self) -> list[TableSpec]:
        # One table per dataset beside metric_depth's Table 4 tables (their column set stays as is).
        return [TableSpec("table4_pointcloud", self.title, tuple(self.metrics), layout="per_dataset",
                          metric_scale=True)]
