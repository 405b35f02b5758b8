"""The ``ibims`` task: the iBims-1 table (DDE, DBE, PE) of Depth Pro, as the official script v0.9.

Reads the edge and plane annotations the iBims adapter takes from ``ibims1_core_mat/<name>.mat``
(``Sample.meta["ibims_annotations"]``); a sample without them is an error row naming the reason.
The metric definitions are :mod:`dpbench.metrics.ibims`; the constants and their reasons live in
``datasets/ibims.toml`` ``[metrics]`` (read here and passed on, or checked against the metric
module's values). The prediction is aligned as for ``metric_depth`` (none for metric models,
the official script's setting) and scored at the GT resolution.

Dataset values: DDE and DBE = mean over images with NaN skipped; PE = all planes of all images
and types pooled (``pe_*_sum`` / ``pe_count``), as the official script.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

from dpbench.errors import DpbenchError
from dpbench.tasks.additive import AdditiveStats, combined, mean_stats, ratio, sum_stats
from dpbench.tasks.base import TableSpec, Task, column_mean, register_task

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from dpbench.protocol import Protocol
    from dpbench.types import Prediction, Sample

PLANE_TYPES = ("wall", "table", "floor")


@functools.lru_cache(maxsize=1)
def ibims_constants() -> dict:
    """``datasets/ibims.toml`` ``[metrics]``, checked against :mod:`dpbench.metrics.ibims`."""
    from dpbench.datasets import load_spec
    from dpbench.metrics import ibims as m

    spec = load_spec("ibims").get("metrics")
    if not isinstance(spec, dict):
        raise DpbenchError("datasets/ibims.toml: no [metrics] table (the iBims metric constants)")
    fixed = {"dbe_sigma": m.DBE_SIGMA, "dbe_max_dist_px": m.DBE_MAX_DIST_PX,
             "dbe_thresholds_v09": m.DBE_THRESHOLDS["v0.9"], "dbe_thresholds_rev": m.DBE_THRESHOLDS["rev"]}
    for key, value in fixed.items():
        got = spec.get(key)
        if got is None or not all(math.isclose(float(a), float(b), rel_tol=1e-12)
                                  for a, b in zip(_seq(got), _seq(value), strict=True)):
            raise DpbenchError(f"datasets/ibims.toml: [metrics] {key} = {got!r} differs from the metric "
                               f"code's {value!r}")
    return {"dde_plane_m": float(spec["dde_plane_m"]), "pe_min_pixels": float(spec["pe_min_pixels"]),
            "dbe_variant": str(spec["dbe_variant"])}


def _seq(value) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


@register_task
class IBimsTask(Task):
    """iBims-1: depth-directed, depth-boundary and planarity errors (Koch et al. 2018)."""

    name = "ibims"
    needs = ("depth",)
    text_columns = ("dbe_variant",)
    metrics = {"dde_0": "higher", "dde_minus": "lower", "dde_plus": "lower", "dbe_acc": "lower",
               "dbe_comp": "lower", "pe_plane": "lower", "pe_orientation": "lower"}
    labels = {"dde_0": "DDE ε0", "dde_minus": "DDE ε⁻", "dde_plus": "DDE ε⁺", "dbe_acc": "DBE acc (px)",
              "dbe_comp": "DBE comp (px)", "pe_plane": "PE plane (m)", "pe_orientation": "PE orie (°)"}
    percent = ("dde_0", "dde_minus", "dde_plus")
    descriptions = {
        "dde_0": "share of valid pixels on the correct side of the plane at 3 m",
        "dde_minus": "share predicted in front of the 3 m plane while the GT is behind it",
        "dde_plus": "share predicted behind the 3 m plane while the GT is in front of it",
        "dbe_acc": "mean distance (px) of predicted Canny edges within 10 px to the GT edges",
        "dbe_comp": "mean distance (px) of GT edges to predicted edges (v0.9: untruncated)",
        "pe_plane": "std (m) of the points of an annotated plane about their fitted plane",
        "pe_orientation": "angle (degrees) between the fitted and the GT plane normal",
    }
    title = "iBims-1 (Depth Pro's iBims table; DBE from the Python script, which differs from MATLAB's Canny)"
    summary = ("dde_0", "dbe_acc")

    def score(self, sample: Sample, prediction: Prediction, protocol: Protocol) -> dict[str, float]:
        from dpbench.metrics.ibims import dbe, dde, planarity_errors
        from dpbench.tasks.depth import aligned_depth
        from dpbench.tasks.maps import output_kind_of

        meta = sample.meta if isinstance(sample.meta, dict) else {}
        if meta.get("ibims_annotations_error"):
            raise DpbenchError(meta["ibims_annotations_error"])
        notes = meta.get("ibims_annotations")
        if notes is None:
            raise DpbenchError(f"sample {sample.id!r}: no iBims edge/plane annotations (the ibims task "
                               "reads ibims1_core_mat/<name>.mat beside ibims1_core_raw)")
        constants = ibims_constants()
        output_kind = output_kind_of(prediction)
        valid = sample.valid_mask()
        pred, _ = aligned_depth(prediction.depth, sample, protocol.alignment_for(output_kind), output_kind, valid)
        row: dict = {}
        row.update(dde(pred, sample.depth, valid, plane=constants["dde_plane_m"]))
        row.update(dbe(pred, notes["edges"], variant=constants["dbe_variant"]))
        calib = notes["calib"]  # MATLAB IntrinsicMatrix layout, 1-based pixels
        fx, fy, cx, cy = calib[0, 0], calib[1, 1], calib[2, 0], calib[2, 1]
        sums = {"pe_plane_sum": 0.0, "pe_orientation_sum": 0.0, "pe_count": 0}
        for kind in PLANE_TYPES:
            paras = notes[f"mask_{kind}_paras"]
            if paras.shape[0] == 0:
                continue
            pe = planarity_errors(pred, sample.depth, notes[f"mask_{kind}"], paras, fx, fy, cx, cy, valid,
                                  pixel_origin=1, min_pixels=constants["pe_min_pixels"])
            for key in sums:
                sums[key] += pe[key]
        row.update({key: float(value) for key, value in sums.items()})
        count = sums["pe_count"]
        row["pe_plane"] = sums["pe_plane_sum"] / count if count else math.nan
        row["pe_orientation"] = sums["pe_orientation_sum"] / count if count else math.nan
        row["dbe_variant"] = constants["dbe_variant"]
        return {key: (float(v) if key != "dbe_variant" else v) for key, v in row.items()}

    def aggregate(self, rows: pd.DataFrame, aggregation: str) -> dict[str, float | None]:
        """DDE, DBE: mean over images (NaN skipped); PE: all planes pooled (Σ sums / Σ count)."""
        import pandas as pd

        out = {name: column_mean(rows, name) for name in self.metrics}
        if "pe_count" in rows:
            count = float(pd.to_numeric(rows["pe_count"], errors="coerce").fillna(0).sum())
            for name in ("pe_plane", "pe_orientation"):
                total = float(pd.to_numeric(rows[f"{name}_sum"], errors="coerce").fillna(0).sum())
                out[name] = total / count if count > 0 else None
        return out

    def additive_stats(self, rows: pd.DataFrame, aggregation: str) -> AdditiveStats:
        """The means' statistics, and PE's pooled sums (as :meth:`aggregate`)."""
        parts = [mean_stats(rows, tuple(self.metrics))]
        if "pe_count" in rows:
            def pooled(sums: dict) -> dict:
                return {name: ratio(sums[f"{name}_sum"], sums["pe_count"])
                        for name in ("pe_plane", "pe_orientation")}

            parts.append(sum_stats(rows, ("pe_count", "pe_plane_sum", "pe_orientation_sum"), pooled))
        return combined(parts)

    def tables(self) -> list[TableSpec]:
        return [TableSpec("ibims", self.title, tuple(self.metrics), layout="per_dataset")]
