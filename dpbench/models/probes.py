"""Weight-free reference models ("probes") built from the ground truth, to validate metrics and pipeline.

Each probe reads the Sample's ground truth (``reads_ground_truth=True``), so reports mark them as
references and never rank them. What each one returns, for every kind of sample:

=====================  ================================  ====================  ======================
probe                  depth samples                     mask-only samples     focal
=====================  ================================  ====================  ======================
``probe:gt``           GT depth, holes filled            mask as a depth step  GT focal
``probe:gt-blur``      GT box³-blurred in inverse depth  blurred step          GT focal
``probe:gt-scale``     GT × ``factor`` (default 1.6)     step × ``factor``     GT focal × factor
``probe:gt-resample``  GT down to ``size``², back up     resampled step        GT focal
``probe:gt-shift``     GT shifted by ``k`` px            shifted step          GT focal
``probe:constant``     median valid GT depth everywhere  the step's far depth  prior from ``fov_deg``
=====================  ================================  ====================  ======================

Conventions:
- *Holes*: pixels outside ``Sample.valid_mask()`` take the depth of the nearest valid pixel
  (:func:`fill_invalid`), so the map is finite and positive and the metrics, which ignore
  those pixels anyway, see the GT unchanged. A sample without any valid pixel gets
  :data:`NO_GT_DEPTH` everywhere.
- *Mask-only samples* (boundary_mask task: no depth, an alpha matte or binary mask): the mask
  is binarised like the boundary recall does (alpha > :data:`MASK_ALPHA_THRESHOLD`) and rendered
  as a step: foreground at :data:`MASK_NEAR_DEPTH`, background at :data:`MASK_FAR_DEPTH`. The
  depth ratio 2 exceeds every threshold of the metric (1.05–1.25), so every GT mask contour is a
  one-pixel predicted contour and ``probe:gt`` recall is perfect.
- *Focal-only samples* (no depth, no mask) get :data:`NO_GT_DEPTH` everywhere from every probe
  (there is nothing to blur or scale); only the focal output matters there.
- *gt-scale* scales the focal by the same factor as the depth: that is the depth a metric model
  obeying D = f_px / (W·C) would give with a focal ``factor`` times too long. The default 1.6
  sits clear of every threshold (δ: 1.25, 1.5625, 1.953; focal: relative error 0.25, 0.5), so
  δ1 = δ2 = 0, δ3 = 1, AbsRel = 0.6 and focal δ25 = δ50 = 0 exactly, with no round-off knife
  edge (a factor of 1.5 puts the focal error exactly on the δ50 threshold).
- *gt-resample* is the resolution upper bound of the paper's Table 7 (docs/paper.md §11): the
  GT is brought to a ``size``×``size`` map (a model's native output grid: 1536, 768, 518, 384)
  by area averaging and back to its own size with ``filter`` (default bilinear, half-pixel
  centres), both in inverse depth, the space the protocol's default resize uses.
- *gt-shift* moves the GT by ``k`` pixels along ``axis`` (x: right, y: down, xy: both); the
  ``k`` rows/columns uncovered at the edge repeat the edge (no wrap-around, so the image
  border adds no contour). Boundary precision/recall fall against ``k`` (the paper's Fig. 9
  perturbation study, docs/paper.md §11).
- *Focal source*: a probe's own focal is its prediction, so it is recorded as
  ``focal_source='estimated'`` even though it is derived from the GT (the model, not the
  runner, chose it). A *given focal* (the runner's focal mode ``gt``/``exif``) does not change
  a probe's depth; like Depth Pro, the probe returns it as the focal used
  (``focal_source='given'``) and keeps its own value in ``meta['focal_px_estimated']``.
"""

from __future__ import annotations

import math

import numpy as np

from dpbench.models import register_model
from dpbench.models.base import DepthModel, ModelOptionError, reject_unknown_options, require_sample
from dpbench.types import Prediction, Sample

#: Foreground of a matte: alpha strictly above this (the paper's matting rule, docs/paper.md §3.1).
MASK_ALPHA_THRESHOLD = 0.1
#: Depth (m) of the foreground of a rendered mask step.
MASK_NEAR_DEPTH = 1.0
#: Depth (m) of the background of a rendered mask step: ratio 2 > the largest threshold 1.25.
MASK_FAR_DEPTH = 2.0
#: Depth (m) returned where a sample carries no depth information at all.
NO_GT_DEPTH = 1.0


def fill_invalid(depth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``depth`` with every pixel outside ``valid`` replaced by its nearest valid pixel's depth.

    Nearest under OpenCV's 5×5 chamfer approximation of the Euclidean distance (a label
    distance transform, ~10× faster than an exact one at 24 Mpx; which of two almost equally
    near pixels wins does not matter, as the metrics ignore these pixels). With no valid pixel
    at all, the result is :data:`NO_GT_DEPTH` everywhere.
    """
    depth = np.asarray(depth, dtype=np.float32)
    if valid.all():
        return depth.copy()
    if not valid.any():
        return np.full(depth.shape, NO_GT_DEPTH, dtype=np.float32)
    import cv2

    # Distances run to the nearest zero pixel, so valid pixels are the zeros; each gets a label.
    _, labels = cv2.distanceTransformWithLabels(
        (~valid).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL
    )
    value_of_label = np.zeros(int(labels.max()) + 1, dtype=np.float32)
    value_of_label[labels[valid]] = depth[valid]
    return value_of_label[labels]


def mask_step_depth(mask: np.ndarray, alpha_threshold: float = MASK_ALPHA_THRESHOLD) -> np.ndarray:
    """A depth map drawing a mask as a step: foreground near, background far (see module doc)."""
    foreground = np.asarray(mask) > alpha_threshold
    return np.where(foreground, MASK_NEAR_DEPTH, MASK_FAR_DEPTH).astype(np.float32)


def gt_depth_map(sample: Sample) -> tuple[np.ndarray, str]:
    """The densest depth map the ground truth of ``sample`` gives, and where it came from.

    Returns (depth, source) with source ``"depth"`` (GT with holes filled), ``"mask"`` (mask
    step) or ``"none"`` (a constant map, for focal-only samples).
    """
    if sample.depth is not None:
        return fill_invalid(sample.depth, sample.valid_mask()), "depth"
    if sample.mask is not None:
        return mask_step_depth(sample.mask), "mask"
    return np.full((sample.height, sample.width), NO_GT_DEPTH, dtype=np.float32), "none"


#: Number of box filters whose succession approximates the Gaussian blur of ``probe:gt-blur``.
BOX_PASSES = 3


def box_width(sigma: float) -> int:
    """The odd box width b whose :data:`BOX_PASSES`-fold repetition has a standard deviation
    closest to ``sigma`` (one box has variance (b² − 1) / 12)."""
    exact = math.sqrt(12.0 * sigma**2 / BOX_PASSES + 1.0)
    below = max(1, int(exact) if int(exact) % 2 else int(exact) - 1)
    return below if exact - below < below + 2 - exact else below + 2


def box_blur_sigma(width: int) -> float:
    """Standard deviation of :data:`BOX_PASSES` successive boxes of ``width`` pixels."""
    return math.sqrt(BOX_PASSES * (width**2 - 1) / 12.0)


def blur_inverse_depth(depth: np.ndarray, sigma: float) -> np.ndarray:
    """Depth whose inverse is blurred by :data:`BOX_PASSES` successive ``box_width(sigma)``-wide
    box filters: a close, cheap approximation of a Gaussian of standard deviation ``sigma``.

    Blurring inverse depth (not depth) is what a soft network output looks like; borders are
    extended by replication so the map stays positive and the image edge adds no contour. Box
    filters cost the same for any width (running sums), so large blurs stay cheap at 24 Mpx.
    """
    import cv2

    width = box_width(sigma)
    inverse = (1.0 / np.asarray(depth, dtype=np.float32)).astype(np.float32)
    for _ in range(BOX_PASSES):
        inverse = cv2.blur(inverse, (width, width), borderType=cv2.BORDER_REPLICATE)
    return (1.0 / inverse).astype(np.float32)


def focal_from_fov(width: int, fov_deg: float) -> float:
    """Horizontal focal length in pixels of an image ``width`` pixels wide seeing ``fov_deg``."""
    return 0.5 * width / math.tan(0.5 * math.radians(fov_deg))


class Probe(DepthModel):
    """Base of the probes: ``predict`` needs a Sample; subclasses transform its ground truth."""

    reads_ground_truth = True
    output_kind = "metric_depth"

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        sample = require_sample(sample_or_image, self.name or type(self).__name__)
        depth, source = self._depth_map(sample)
        own_focal = self._focal(sample)
        meta: dict = {"probe_depth_source": source, "native_hw": (sample.height, sample.width)}
        meta.update(self._meta(sample, source))
        if focal_px is not None:
            meta.update(focal_source="given", focal_px_estimated=own_focal)
            focal = float(focal_px)
        else:
            focal = own_focal
            if focal is not None:
                meta["focal_source"] = "estimated"
        return Prediction(depth=depth, focal_px=focal, meta=meta)

    def _depth_map(self, sample: Sample) -> tuple[np.ndarray, str]:
        """(depth, source) of this probe: the GT map, transformed by ``_depth``."""
        depth, source = gt_depth_map(sample)
        return self._depth(depth, sample, source), source

    def _depth(self, depth: np.ndarray, sample: Sample, source: str) -> np.ndarray:
        return depth

    def _focal(self, sample: Sample) -> float | None:
        return sample.focal_px

    def _meta(self, sample: Sample, source: str) -> dict:
        return {}

    def describe(self) -> dict:
        return {**super().describe(), **self.options()}

    def options(self) -> dict:
        """The probe's parameters, recorded in the run."""
        return {}


class GroundTruthProbe(Probe):
    """``probe:gt``: the ground truth itself; every depth, boundary and focal score is perfect."""


class BlurredGroundTruthProbe(Probe):
    """``probe:gt-blur``: GT blurred in inverse depth; δ stays high, boundary F1/recall drop."""

    def __init__(self, sigma: float | None = None):
        if sigma is not None:
            sigma = _positive_number(sigma, "probe:gt-blur: sigma", "a positive number of pixels")
        self.sigma = sigma

    def blur_sigma(self, height: int, width: int) -> float:
        """The requested blur in pixels: ``sigma`` if given, else 1% of the image diagonal (at
        least 2 px). The applied one is ``box_blur_sigma(box_width(...))``, recorded in meta."""
        if self.sigma is not None:
            return float(self.sigma)
        return max(2.0, 0.01 * math.hypot(height, width))

    def _depth(self, depth: np.ndarray, sample: Sample, source: str) -> np.ndarray:
        if source == "none":
            return depth
        return blur_inverse_depth(depth, self.blur_sigma(sample.height, sample.width))

    def _meta(self, sample: Sample, source: str) -> dict:
        if source == "none":
            return {}
        width = box_width(self.blur_sigma(sample.height, sample.width))
        return {"blur_box_width": width, "blur_sigma": box_blur_sigma(width)}

    def options(self) -> dict:
        return {"sigma": self.sigma if self.sigma is not None else "1% of the diagonal, >= 2 px"}


class ScaledGroundTruthProbe(Probe):
    """``probe:gt-scale``: GT × ``factor``; δ1 collapses, scale-invariant boundary scores stay."""

    def __init__(self, factor: float = 1.6):
        self.factor = _positive_number(factor, "probe:gt-scale: factor", "a positive number")

    def _depth(self, depth: np.ndarray, sample: Sample, source: str) -> np.ndarray:
        if source == "none":
            return depth
        return (depth * np.float32(self.factor)).astype(np.float32)

    def _focal(self, sample: Sample) -> float | None:
        return None if sample.focal_px is None else sample.focal_px * self.factor

    def options(self) -> dict:
        return {"factor": self.factor}


#: Upsampling filters of ``probe:gt-resample`` (OpenCV interpolation flags).
RESAMPLE_FILTERS = {"nearest": "INTER_NEAREST_EXACT", "bilinear": "INTER_LINEAR",
                    "bicubic": "INTER_CUBIC", "area": "INTER_AREA"}
#: Axes of ``probe:gt-shift``: (rows, columns) moved per unit of ``k``.
SHIFT_AXES = {"x": (0, 1), "y": (1, 0), "xy": (1, 1)}


def resample_inverse_depth(depth: np.ndarray, size: tuple[int, int], upsample: str = "bilinear") -> np.ndarray:
    """Depth brought to ``size`` = (height, width) by area averaging and back to its own size
    with the ``upsample`` filter (:data:`RESAMPLE_FILTERS`), both in inverse depth.

    Area averaging is the mean of the GT pixels each low-resolution pixel covers: what an ideal
    model with that output grid could give. Bicubic overshoot is clamped to the input's inverse
    depth range so the map stays positive.
    """
    import cv2

    depth = np.asarray(depth, dtype=np.float32)
    height, width = depth.shape
    inverse = (1.0 / depth).astype(np.float32)
    small = cv2.resize(inverse, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
    back = cv2.resize(small, (width, height), interpolation=getattr(cv2, RESAMPLE_FILTERS[upsample]))
    back = np.clip(back, inverse.min(), inverse.max())
    return (1.0 / back).astype(np.float32)


def shift_map(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``values`` moved down by ``rows`` and right by ``cols`` pixels (negative: up/left); the
    uncovered border repeats the nearest edge row/column."""
    values = np.asarray(values)
    height, width = values.shape
    # output pixel (i, j) takes input pixel (i - rows, j - cols), clamped into the image
    source_rows = np.clip(np.arange(height) - rows, 0, height - 1)
    source_cols = np.clip(np.arange(width) - cols, 0, width - 1)
    return values[np.ix_(source_rows, source_cols)]


class ResampledGroundTruthProbe(Probe):
    """``probe:gt-resample``: GT through a ``size``×``size`` grid and back (Table 7's upper bound)."""

    def __init__(self, size: int = 1536, filter: str = "bilinear"):
        self.size = _positive_int(size, "probe:gt-resample: size", "a positive number of pixels")
        if filter not in RESAMPLE_FILTERS:
            raise ModelOptionError(f"probe:gt-resample: filter must be one of "
                                   f"{', '.join(RESAMPLE_FILTERS)}, got {filter!r}")
        self.filter = filter

    def _depth(self, depth: np.ndarray, sample: Sample, source: str) -> np.ndarray:
        if source == "none":
            return depth
        return resample_inverse_depth(depth, (self.size, self.size), self.filter)

    def options(self) -> dict:
        return {"size": self.size, "filter": self.filter}


class ShiftedGroundTruthProbe(Probe):
    """``probe:gt-shift``: GT moved by ``k`` pixels along ``axis``; depth metrics barely move,
    boundary precision and recall fall (the released metric has no distance tolerance)."""

    def __init__(self, k: int = 1, axis: str = "x"):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer, float)) or k != int(k) or k < 0:
            raise ModelOptionError(f"probe:gt-shift: k must be a whole number of pixels >= 0, got {k!r}")
        if axis not in SHIFT_AXES:
            raise ModelOptionError(f"probe:gt-shift: axis must be one of {', '.join(SHIFT_AXES)}, got {axis!r}")
        self.k = int(k)
        self.axis = axis

    def _depth(self, depth: np.ndarray, sample: Sample, source: str) -> np.ndarray:
        if source == "none":
            return depth
        rows, cols = SHIFT_AXES[self.axis]
        return shift_map(depth, rows * self.k, cols * self.k)

    def options(self) -> dict:
        return {"k": self.k, "axis": self.axis}


class ConstantProbe(Probe):
    """``probe:constant``: the median valid GT depth everywhere, and a fixed-FoV focal prior.

    The floor of every score: δ measures how well one number fits the scene, boundary scores
    are 0 (no contour at all). The focal is that of a camera with a ``fov_deg`` horizontal FoV.
    """

    def __init__(self, fov_deg: float = 60.0):
        fov_deg = _positive_number(fov_deg, "probe:constant: fov_deg", "a number in (0, 180)")
        if fov_deg >= 180:
            raise ModelOptionError(f"probe:constant: fov_deg must be a number in (0, 180), got {fov_deg!r}")
        self.fov_deg = fov_deg

    def _depth_map(self, sample: Sample) -> tuple[np.ndarray, str]:
        if sample.depth is not None:
            valid = sample.valid_mask()
            value, source = (float(np.median(sample.depth[valid])) if valid.any() else NO_GT_DEPTH), "depth"
        elif sample.mask is not None:
            value, source = MASK_FAR_DEPTH, "mask"
        else:
            value, source = NO_GT_DEPTH, "none"
        return np.full((sample.height, sample.width), value, dtype=np.float32), source

    def _focal(self, sample: Sample) -> float | None:
        return focal_from_fov(sample.width, self.fov_deg)

    def options(self) -> dict:
        return {"fov_deg": self.fov_deg}


def _positive_number(value, what: str, expected: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise ModelOptionError(f"{what} must be {expected}, got {value!r}")
    return number


def _positive_int(value, what: str, expected: str) -> int:
    number = _positive_number(value, what, expected)
    if isinstance(value, bool) or number != int(number):
        raise ModelOptionError(f"{what} must be {expected}, got {value!r}")
    return int(number)


def _probe_factory(cls: type[Probe], name: str):
    import inspect

    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]  # after self
    accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    def factory(arg=None, checkpoint=None, device="auto", precision="fp32", **options) -> Probe:
        if checkpoint is not None:
            raise ModelOptionError(f"{name} is weight-free and takes no checkpoint (got {checkpoint!r})")
        reject_unknown_options(name, options, accepted)
        probe = cls(**options)
        probe.name = name
        return probe

    factory.__name__ = f"load_{name.replace(':', '_').replace('-', '_')}"
    return factory


_PROBES = {
    "probe:gt": (GroundTruthProbe, "ground truth (holes filled from nearest valid pixel): perfect scores"),
    "probe:gt-blur": (BlurredGroundTruthProbe, "GT blurred in inverse depth (sigma=): δ high, boundaries low"),
    "probe:gt-scale": (ScaledGroundTruthProbe, "GT × factor (factor=1.6): δ1 collapses, boundary F1 kept"),
    "probe:gt-resample": (ResampledGroundTruthProbe,
                          "GT down to size² (area) and back up (filter=bilinear): Table 7 upper bound"),
    "probe:gt-shift": (ShiftedGroundTruthProbe, "GT shifted by k px (axis=x|y|xy): boundary P/R vs shift"),
    "probe:constant": (ConstantProbe, "median GT depth everywhere, focal from fov_deg=60: the floor"),
}

for _name, (_cls, _description) in _PROBES.items():
    register_model(
        _name, output_kind="metric_depth", description=_description, reads_ground_truth=True
    )(_probe_factory(_cls, _name))
