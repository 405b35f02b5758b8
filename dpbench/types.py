"""The two values that flow between layers: a dataset ``Sample`` and a model ``Prediction``.

Conventions (stated once, relied on everywhere):
- images are H×W×3 uint8 RGB with the EXIF orientation already applied;
- depth is planar z-depth in metres, float32, H×W at the image's resolution;
- ``valid`` is an H×W bool mask of pixels that carry ground truth;
- ``mask`` is an H×W float32 alpha matte or binary mask with values in [0, 1];
- focal lengths are horizontal, in pixels, at this image's resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

OUTPUT_KINDS = ("metric_depth", "relative_depth", "relative_disparity")
FOCAL_SOURCES = ("estimated", "given", "gt", "exif")


def _fail(owner: str, field_name: str, problem: str) -> None:
    raise ValueError(f"{owner}.{field_name}: {problem}")


def _check_focal(owner: str, value: float | None) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        _fail(owner, "focal_px", f"expected a number or None, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        _fail(owner, "focal_px", f"must be a finite positive number of pixels, got {value}")
    return value


def _as_float32_map(owner: str, field_name: str, array: Any, hw: tuple[int, int] | None) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        _fail(owner, field_name, f"expected a 2-D H×W array, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        _fail(owner, field_name, f"expected a floating-point array, got dtype {array.dtype}")
    if hw is not None and array.shape != hw:
        _fail(owner, field_name, f"shape {array.shape} does not match the image's {hw}")
    return np.ascontiguousarray(array, dtype=np.float32)


@dataclass
class Sample:
    """One evaluation item produced by a dataset adapter.

    ``depth`` may hold non-finite values only where ``valid`` is False (e.g. +inf for "no
    ground truth"); every other field is checked on construction and a ``ValueError`` names
    the offending field.
    """

    id: str
    image: np.ndarray
    depth: np.ndarray | None = None
    valid: np.ndarray | None = None
    mask: np.ndarray | None = None
    focal_px: float | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = f"Sample[{self.id!r}]"
        if not isinstance(self.id, str) or not self.id:
            _fail("Sample", "id", f"expected a non-empty string, got {self.id!r}")
        image = np.asarray(self.image)
        if image.ndim != 3 or image.shape[2] != 3:
            _fail(owner, "image", f"expected an H×W×3 RGB array, got shape {image.shape}")
        if image.dtype != np.uint8:
            _fail(owner, "image", f"expected dtype uint8, got {image.dtype}")
        self.image = image
        hw = image.shape[:2]
        if self.valid is not None:
            valid = np.asarray(self.valid)
            if valid.dtype != np.bool_:
                _fail(owner, "valid", f"expected a bool array, got dtype {valid.dtype}")
            if valid.shape != hw:
                _fail(owner, "valid", f"shape {valid.shape} does not match the image's {hw}")
            self.valid = valid
        if self.depth is not None:
            self.depth = _as_float32_map(owner, "depth", self.depth, hw)
            finite = np.isfinite(self.depth)
            if self.valid is None:
                if not finite.all():
                    _fail(owner, "depth", "contains non-finite values but no 'valid' mask marks them")
            elif not finite[self.valid].all():
                _fail(owner, "depth", "is non-finite at pixels that 'valid' marks as valid")
        elif self.valid is not None:
            _fail(owner, "valid", "given without a depth map")
        if self.mask is not None:
            self.mask = _as_float32_map(owner, "mask", self.mask, hw)
            if not np.isfinite(self.mask).all():
                _fail(owner, "mask", "contains NaN or inf")
            if self.mask.size and (self.mask.min() < 0.0 or self.mask.max() > 1.0):
                _fail(owner, "mask", "values must lie in [0, 1] (divide 8-bit mattes by 255)")
        self.focal_px = _check_focal(owner, self.focal_px)
        if not isinstance(self.meta, dict):
            _fail(owner, "meta", f"expected a dict, got {type(self.meta).__name__}")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def valid_mask(self) -> np.ndarray | None:
        """The pixels with usable depth: ``valid`` (if any) AND finite, positive depth."""
        if self.depth is None:
            return None
        usable = np.isfinite(self.depth) & (self.depth > 0)
        return usable if self.valid is None else usable & self.valid


@dataclass
class Prediction:
    """A model's output for one sample: metric (or relative) depth at the sample's resolution.

    ``meta`` carries what a run records, e.g. ``seconds``, ``native_hw``, ``focal_source``
    (one of ``estimated``, ``given``, ``gt``, ``exif``) and ``focal_px_estimated``.
    ``output_kind`` (one of :data:`OUTPUT_KINDS`) is set by the runner from the model before a
    task scores the prediction; None means "as the model declares".
    Values are not required to be finite here: ``dpbench.models.check_prediction`` refuses
    non-finite predictions with the sample id instead of failing deep inside a metric.
    """

    depth: np.ndarray
    focal_px: float | None = None
    meta: dict = field(default_factory=dict)
    output_kind: str | None = None

    def __post_init__(self) -> None:
        self.depth = _as_float32_map("Prediction", "depth", self.depth, None)
        self.focal_px = _check_focal("Prediction", self.focal_px)
        if self.output_kind is not None and self.output_kind not in OUTPUT_KINDS:
            _fail("Prediction", "output_kind", f"must be one of {', '.join(OUTPUT_KINDS)}, got {self.output_kind!r}")
        if not isinstance(self.meta, dict):
            _fail("Prediction", "meta", f"expected a dict, got {type(self.meta).__name__}")

    def nonfinite_count(self) -> int:
        """Number of NaN or infinite depth values (0 for a clean prediction)."""
        return int(self.depth.size - np.count_nonzero(np.isfinite(self.depth)))
