"""Protocol options and how one prediction is brought to its ground truth and scored.

The order of operations for one sample (the invariants a reader of the numbers needs):

1. the model receives the focal length chosen by ``focal_mode`` (``estimated``: none, the model
   uses its own; ``gt``: the dataset's intrinsics; ``exif``: the image's EXIF focal);
2. a prediction with NaN/±inf, or whose aspect ratio differs from the image's, is refused with a
   :class:`~dpbench.errors.ModelError` naming the sample id;
3. a prediction of another size is resampled to the GT size (``resize``), bilinearly with
   half-pixel centres; a prediction already at the GT size is never touched;
4. depth metrics: alignment (``alignment``; ``auto`` = the model's output kind's default) →
   optional clipping to the depth range → metrics on the valid GT pixels inside the depth range,
   stored per image together with the additive statistics used for pooled aggregation;
5. boundary metrics: the map is made depth-like (relative disparity inverted), never aligned
   (the metrics are scale invariant), scored at GT resolution over the protocol's thresholds;
6. focal metrics: the model's own estimate (``Prediction.meta['focal_px_estimated']`` when the
   runner gave it a focal) against the GT focal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from dpbench.errors import DpbenchError, ModelError
from dpbench.types import OUTPUT_KINDS, Prediction, Sample

FOCAL_MODES = ("estimated", "gt", "exif")
RESIZE_MODES = ("bilinear_inverse_depth", "bilinear_depth", "none")
AGGREGATIONS = ("per_image", "pooled")
BOUNDARY_VALID_MODES = ("mask", "none")
RELATIVE_BOUNDARY_INPUTS = ("invert",)
#: Floor of a disparity before it is inverted into a depth-like map, and of a depth before it is
#: inverted for resampling (same value as the boundary metrics' own inversion floor).
INVERSION_EPS = 1e-6
#: Largest relative difference of aspect ratios accepted before resampling a prediction.
ASPECT_TOLERANCE = 0.02


class ProtocolError(DpbenchError, ValueError):
    """An invalid protocol option (unknown name, malformed depth range...)."""


@dataclass(frozen=True)
class Protocol:
    """Every option that changes the numbers; defaults live in ``datasets/suites.toml``.

    Build one with :meth:`from_options` (validates) or :func:`default_protocol`.
    """

    focal_mode: str
    resize: str
    alignment: str
    aggregation: str
    depth_range: str | tuple[float, float]
    clip_predictions: bool
    boundary_t_min: float
    boundary_t_max: float
    boundary_n: int
    alpha_threshold: float
    boundary_valid: str
    relative_boundary_input: str
    alignment_defaults: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], **overrides: Any) -> Protocol:
        """A protocol from a mapping (suite defaults or a manifest record) plus overrides.

        Overrides that are None are ignored; unknown keys in ``options`` are ignored (a manifest
        record carries derived keys); unknown override names raise ProtocolError.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ProtocolError(f"unknown protocol option(s): {', '.join(unknown)}")
        merged = {k: v for k, v in options.items() if k in names}
        if "alignment_requested" in options:  # a manifest record: "alignment" there is resolved
            merged["alignment"] = options["alignment_requested"]
        merged.update({k: v for k, v in overrides.items() if v is not None})
        missing = sorted(names - set(merged))
        if missing:
            raise ProtocolError(f"protocol option(s) missing: {', '.join(missing)}")
        merged["depth_range"] = parse_depth_range(merged["depth_range"])
        merged["alignment_defaults"] = dict(merged["alignment_defaults"])
        protocol = cls(**merged)
        protocol.check()
        return protocol

    def check(self) -> None:
        """Validate every option (ProtocolError naming the option and the choices)."""
        _choice("focal_mode", self.focal_mode, FOCAL_MODES)
        _choice("resize", self.resize, RESIZE_MODES)
        _choice("aggregation", self.aggregation, AGGREGATIONS)
        _choice("boundary_valid", self.boundary_valid, BOUNDARY_VALID_MODES)
        _choice("relative_boundary_input", self.relative_boundary_input, RELATIVE_BOUNDARY_INPUTS)
        known = alignment_names()
        if self.alignment != "auto":
            _choice("alignment", self.alignment, known)
        for kind in OUTPUT_KINDS:
            if kind not in self.alignment_defaults:
                raise ProtocolError(f"alignment_defaults: no default alignment for output kind {kind!r}")
            _choice(f"alignment_defaults.{kind}", self.alignment_defaults[kind], known)
        if not (1.0 < self.boundary_t_min <= self.boundary_t_max) or int(self.boundary_n) < 1:
            raise ProtocolError("boundary thresholds: need 1 < t_min <= t_max and n >= 1, got "
                                f"t_min={self.boundary_t_min}, t_max={self.boundary_t_max}, n={self.boundary_n}")
        if not 0.0 <= self.alpha_threshold < 1.0:
            raise ProtocolError(f"alpha_threshold must lie in [0, 1), got {self.alpha_threshold}")

    def replace(self, **overrides: Any) -> Protocol:
        """A copy with some options changed (None values ignored), validated."""
        return Protocol.from_options(self.as_options(), **overrides)

    def as_options(self) -> dict[str, Any]:
        """The options as a plain dict (inverse of :meth:`from_options`)."""
        data = asdict(self)
        data["alignment_defaults"] = dict(self.alignment_defaults)
        if isinstance(self.depth_range, tuple):
            data["depth_range"] = list(self.depth_range)
        return data

    # derived values ------------------------------------------------------------------------
    def alignment_for(self, output_kind: str) -> str:
        """The alignment applied before the depth metrics for a model of ``output_kind``."""
        if self.alignment == "auto":
            return self.alignment_defaults[output_kind]
        return self.alignment

    def boundary_thresholds(self) -> list[float]:
        """The boundary thresholds ``linspace(t_min, t_max, n)`` (per-threshold row columns)."""
        return [float(t) for t in np.linspace(self.boundary_t_min, self.boundary_t_max, int(self.boundary_n))]

    def depth_range_for(self, dataset_range: tuple[float | None, float | None]) -> tuple[float | None, float | None]:
        """The [min, max] GT depth range used on a dataset whose protocol gives ``dataset_range``."""
        if self.depth_range == "dataset":
            return dataset_range
        if self.depth_range == "none":
            return (None, None)
        return self.depth_range  # type: ignore[return-value]

    def boundary_input(self, output_kind: str) -> str:
        """How a prediction of ``output_kind`` enters the boundary metrics (recorded in runs)."""
        if output_kind == "relative_disparity":
            return "inverted_disparity"
        return "depth"

    def record(self, output_kind: str) -> dict[str, Any]:
        """What a run's manifest stores: every option, plus the values derived for this model."""
        data = self.as_options()
        data["alignment_requested"] = self.alignment
        data["alignment"] = self.alignment_for(output_kind)
        data["boundary_thresholds"] = self.boundary_thresholds()
        data["boundary_depth_input"] = self.boundary_input(output_kind)
        data["output_kind"] = output_kind
        return data


def _choice(option: str, value: Any, choices) -> None:
    if value not in choices:
        raise ProtocolError(f"{option}: unknown value {value!r}; choose one of {', '.join(choices)}")


def parse_depth_range(value: Any) -> str | tuple[float, float]:
    """``"dataset"``, ``"none"``, a pair ``[min, max]`` or the text ``"MIN:MAX"`` (metres)."""
    if isinstance(value, str):
        if value in ("dataset", "none"):
            return value
        lo, sep, hi = value.partition(":")
        if not sep:
            raise ProtocolError(f"depth_range: expected 'dataset', 'none' or 'MIN:MAX', got {value!r}")
        value = (lo, hi)
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ProtocolError(f"depth_range: expected 'dataset', 'none' or [min, max], got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
        raise ProtocolError(f"depth_range: need 0 <= min < max, got [{lo}, {hi}]")
    return (lo, hi)


def alignment_names() -> tuple[str, ...]:
    """The alignment methods of ``dpbench.align``."""
    from dpbench.align import ALIGNMENTS

    return tuple(ALIGNMENTS)


def default_protocol(**overrides: Any) -> Protocol:
    """The protocol of ``datasets/suites.toml`` [protocol], with ``overrides`` applied."""
    from dpbench.suites import default_protocol_options

    return Protocol.from_options(default_protocol_options(), **overrides)


# -- step 1: the focal the model receives ---------------------------------------------------------

def focal_for_model(sample: Sample, focal_mode: str) -> tuple[float | None, str]:
    """The focal length (px) handed to the model for ``sample`` and its source name.

    ``estimated`` → (None, "estimated"). ``gt`` → the sample's GT focal. ``exif`` → the EXIF
    focal (``sample.meta['focal_px_exif']`` if the adapter provides it, else read from the source
    image named in ``sample.meta``). When the requested focal is not available the model
    estimates its own and the source says so ("estimated").
    """
    if focal_mode == "estimated":
        return None, "estimated"
    if focal_mode == "gt":
        return (sample.focal_px, "gt") if sample.focal_px is not None else (None, "estimated")
    if focal_mode == "exif":
        focal = exif_focal_px(sample)
        return (focal, "exif") if focal is not None else (None, "estimated")
    raise ProtocolError(f"focal_mode: unknown value {focal_mode!r}; choose one of {', '.join(FOCAL_MODES)}")


_IMAGE_PATH_KEYS = ("image_path", "rgb_path")


def exif_focal_px(sample: Sample) -> float | None:
    """The EXIF focal length in pixels of a sample's image (Depth Pro's 35 mm diagonal rule).

    ``sample.meta['focal_px_exif']`` when the adapter provides it, else read from the file named
    by ``sample.meta['image_path']``; scaled to the sample's width when the file's differs.
    """
    value = sample.meta.get("focal_px_exif")
    if value is not None:
        return float(value)
    path = next((sample.meta[k] for k in _IMAGE_PATH_KEYS if sample.meta.get(k)), None)
    if path is None:
        return None
    from dpbench.io.exif import focal_px_from_exif, read_exif_focal

    try:
        info = read_exif_focal(path)
        focal = focal_px_from_exif(info).focal_px
    except (OSError, ValueError, DpbenchError):
        return None
    if focal is None:
        return None
    if info.width and info.width != sample.width:
        focal = focal * sample.width / info.width
    return float(focal)


def focal_source_of(prediction: Prediction, given_source: str, given: bool) -> str:
    """The focal source a depth row records: the runner's mode when it gave one, else the model's."""
    if given:
        return given_source
    return str(prediction.meta.get("focal_source") or ("estimated" if prediction.focal_px else ""))


# -- steps 2 and 3: checks and resampling ---------------------------------------------------------

def check_finite(prediction: Prediction, sample: Sample) -> None:
    """Refuse NaN/±inf depth with a ModelError naming the sample."""
    bad = prediction.nonfinite_count()
    if bad:
        n_nan = int(np.count_nonzero(np.isnan(prediction.depth)))
        raise ModelError(f"sample {sample.id!r}: prediction has {bad} non-finite value(s) of "
                         f"{prediction.depth.size} ({n_nan} NaN, {bad - n_nan} ±inf)")


def to_gt_resolution(prediction: Prediction, sample: Sample, resize: str, output_kind: str) -> np.ndarray:
    """The predicted map at the GT's H×W (checks + resampling, steps 2–3 of the module doc).

    ``bilinear_inverse_depth`` resamples 1/max(depth, 1e-6) and inverts back;
    ``bilinear_depth`` resamples depth. Relative outputs are always resampled in their own space
    (disparity for ``relative_disparity``, depth for ``relative_depth``): an affine-invariant map
    has no meaningful inverse.
    """
    check_finite(prediction, sample)
    depth = prediction.depth
    target = (sample.height, sample.width)
    if depth.shape == target:
        return depth
    h, w = depth.shape
    where = f"sample {sample.id!r}"
    if resize == "none":
        raise ModelError(f"{where}: prediction is {h}×{w} but the ground truth is {target[0]}×{target[1]} "
                         "(protocol resize='none' refuses resampling)")
    if h < 1 or w < 1:
        raise ModelError(f"{where}: prediction is empty ({h}×{w})")
    aspect_pred, aspect_gt = w / h, target[1] / target[0]
    if abs(aspect_pred - aspect_gt) / aspect_gt > ASPECT_TOLERANCE:
        raise ModelError(f"{where}: prediction has shape {h}×{w}, whose aspect ratio differs from the "
                         f"image's {target[0]}×{target[1]} (wrong shape or transposed?)")
    if output_kind == "metric_depth" and resize == "bilinear_inverse_depth":
        inverse = 1.0 / np.maximum(depth, INVERSION_EPS)
        return (1.0 / np.maximum(resize_bilinear(inverse, target), 1.0 / 1e12)).astype(np.float32)
    return resize_bilinear(depth, target)


def resize_bilinear(values: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling to ``hw`` with half-pixel centres (torch ``align_corners=False``)."""
    import cv2

    out = cv2.resize(np.ascontiguousarray(values, dtype=np.float32), (int(hw[1]), int(hw[0])),
                     interpolation=cv2.INTER_LINEAR)
    return out.reshape(hw)


def depth_like(pred_map: np.ndarray, output_kind: str) -> np.ndarray:
    """A map ordered like depth (near = small): relative disparity → 1 / max(disparity, 1e-6)."""
    if output_kind == "relative_disparity":
        return (1.0 / np.maximum(pred_map, INVERSION_EPS)).astype(np.float32)
    return pred_map


# -- step 4: depth metrics -------------------------------------------------------------------------

def depth_valid_mask(sample: Sample, depth_range: tuple[float | None, float | None]) -> np.ndarray:
    """Pixels scored by the depth metrics: the sample's valid GT inside the depth range."""
    valid = sample.valid_mask()
    lo, hi = depth_range
    if lo is not None:
        valid = valid & (sample.depth >= lo)
    if hi is not None:
        valid = valid & (sample.depth <= hi)
    return valid


def aligned_depth(pred_map: np.ndarray, sample: Sample, method: str, output_kind: str,
                  valid: np.ndarray) -> tuple[np.ndarray, dict]:
    """The prediction as metric depth after ``method`` (``none`` keeps metric depth as is).

    ``lstsq_scale_shift_disparity`` receives a disparity (the relative disparity itself, or
    1/depth for depth outputs); every other method receives a depth-like map.
    """
    from dpbench.align import align

    if method == "none" and output_kind == "metric_depth":
        return pred_map, {}
    if method == "lstsq_scale_shift_disparity":
        source = pred_map if output_kind == "relative_disparity" else 1.0 / np.maximum(pred_map, INVERSION_EPS)
    else:
        source = depth_like(pred_map, output_kind)
    gt = np.where(valid, sample.depth, 0.0).astype(np.float32)
    aligned, params = align(method, source, gt, valid)
    return np.asarray(aligned, dtype=np.float32), dict(params or {})


def score_metric_depth(pred_map: np.ndarray, sample: Sample, protocol: Protocol, output_kind: str,
                       depth_range: tuple[float | None, float | None]) -> dict[str, float]:
    """Per-image depth metrics and the additive ``stat_*`` statistics of one sample."""
    from dpbench.metrics.depth import depth_metric_stats, metrics_from_stats

    if sample.depth is None:
        raise DpbenchError(f"sample {sample.id!r}: no depth ground truth for the metric_depth task")
    valid = depth_valid_mask(sample, depth_range)
    method = protocol.alignment_for(output_kind)
    pred, params = aligned_depth(pred_map, sample, method, output_kind, valid)
    lo, hi = depth_range
    if protocol.clip_predictions and (lo is not None or hi is not None):
        pred = np.clip(pred, lo if lo is not None else -np.inf, hi if hi is not None else np.inf)
    # ``valid`` already holds the depth range (inclusive bounds, as depth_metric_stats applies them)
    stats = depth_metric_stats(pred, sample.depth, valid=valid)
    row: dict[str, float] = dict(metrics_from_stats(stats))
    row.update({f"stat_{key}": float(value) for key, value in stats.items()})
    for key in ("scale", "shift"):
        value = params.get(key)
        if isinstance(value, (int, float, np.floating)):
            row[f"align_{key}"] = float(value)
    return row


# -- step 5: boundary metrics -----------------------------------------------------------------------

def score_boundary_depth(pred_map: np.ndarray, sample: Sample, protocol: Protocol,
                         output_kind: str) -> dict[str, float]:
    """Scale-invariant boundary F1 and its per-threshold precision/recall/F1."""
    from dpbench.metrics.boundary import boundary_f1_curve

    if sample.depth is None:
        raise DpbenchError(f"sample {sample.id!r}: no depth ground truth for the boundary_depth task")
    valid = sample.valid_mask() if protocol.boundary_valid == "mask" else None
    curve = boundary_f1_curve(depth_like(pred_map, output_kind), sample.depth,
                              t_min=protocol.boundary_t_min, t_max=protocol.boundary_t_max,
                              n=int(protocol.boundary_n), valid=valid)
    row = {"boundary_f1": float(curve.score)}
    for i in range(len(curve.thresholds)):
        row[f"boundary_precision_t{i}"] = float(curve.precision[i])
        row[f"boundary_recall_t{i}"] = float(curve.recall[i])
        row[f"boundary_f1_t{i}"] = float(curve.f1[i])
    return row


def score_boundary_mask(pred_map: np.ndarray, sample: Sample, protocol: Protocol,
                        output_kind: str) -> dict[str, float]:
    """Scale-invariant boundary recall against the sample's mask, and its per-threshold recall."""
    from dpbench.metrics.boundary import boundary_recall_curve

    if sample.mask is None:
        raise DpbenchError(f"sample {sample.id!r}: no mask ground truth for the boundary_mask task")
    curve = boundary_recall_curve(depth_like(pred_map, output_kind), sample.mask,
                                  t_min=protocol.boundary_t_min, t_max=protocol.boundary_t_max,
                                  n=int(protocol.boundary_n), alpha_threshold=protocol.alpha_threshold)
    row = {"boundary_recall": float(curve.score)}
    for i in range(len(curve.thresholds)):
        row[f"boundary_recall_t{i}"] = float(curve.recall[i])
    return row


# -- step 6: focal ------------------------------------------------------------------------------------

def estimated_focal(prediction: Prediction) -> float | None:
    """The model's own focal estimate: ``meta['focal_px_estimated']`` if a focal was given to it,
    else ``Prediction.focal_px`` unless the model reports it was given one."""
    estimate = prediction.meta.get("focal_px_estimated")
    if estimate is not None:
        return float(estimate)
    if prediction.meta.get("focal_source") in ("given", "gt", "exif"):
        return None
    return prediction.focal_px


def score_focal(prediction: Prediction, sample: Sample) -> dict[str, float]:
    """Focal estimate, GT focal and relative error |f̂ − f| / f of one image."""
    if sample.focal_px is None:
        raise DpbenchError(f"sample {sample.id!r}: no ground-truth focal length for the focal task")
    estimate = estimated_focal(prediction)
    if estimate is None or not math.isfinite(estimate) or estimate <= 0:
        raise ModelError(f"sample {sample.id!r}: the model gave no usable focal-length estimate "
                         f"({estimate!r})")
    return {"focal_pred": float(estimate), "focal_gt": float(sample.focal_px),
            "focal_rel_err": abs(estimate - sample.focal_px) / sample.focal_px}


__all__ = [
    "AGGREGATIONS", "BOUNDARY_VALID_MODES", "FOCAL_MODES", "RESIZE_MODES", "Protocol", "ProtocolError",
    "default_protocol", "depth_like", "depth_valid_mask", "focal_for_model", "parse_depth_range",
    "score_boundary_depth", "score_boundary_mask", "score_focal", "score_metric_depth",
    "to_gt_resolution",
]
