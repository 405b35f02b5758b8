"""The model interface every wrapper implements, and helpers to accept a Sample or a bare image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from dpbench.types import OUTPUT_KINDS, Prediction, Sample


class DepthModel:
    """A depth model as the runner sees it.

    ``predict`` takes a :class:`Sample` (or an H×W×3 uint8 RGB image) and an optional known focal
    length in pixels, and returns a :class:`Prediction` at the input's resolution. ``output_kind``
    says whether ``Prediction.depth`` is metric depth, relative depth or relative disparity.
    Models that read the ground truth (the ``probe:*`` references) set ``reads_ground_truth``.
    """

    name: str = ""
    output_kind: str = "metric_depth"
    reads_ground_truth: ClassVar[bool] = False

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        raise NotImplementedError

    def predict_batch(
        self, samples: Sequence[Sample | np.ndarray], focal_px: Sequence[float | None] | None = None
    ) -> list[Prediction]:
        """Predict several inputs; the default runs them one by one (wrappers may batch)."""
        focals = list(focal_px) if focal_px is not None else [None] * len(samples)
        if len(focals) != len(samples):
            raise ValueError(f"got {len(samples)} inputs but {len(focals)} focal lengths")
        return [self.predict(s, f) for s, f in zip(samples, focals)]

    def describe(self) -> dict:
        """What a run records about this model (name, output kind, checkpoint, device...)."""
        return {"name": self.name, "output_kind": self.output_kind,
                "reads_ground_truth": self.reads_ground_truth}


def image_of(sample_or_image: Sample | np.ndarray) -> np.ndarray:
    """The H×W×3 uint8 RGB image of a Sample, or the array itself after checking its shape."""
    if isinstance(sample_or_image, Sample):
        return sample_or_image.image
    image = np.asarray(sample_or_image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 RGB image, got shape {image.shape} dtype {image.dtype}")
    return image


def require_sample(sample_or_image: Sample | np.ndarray, model_name: str) -> Sample:
    """A Sample, or a clear error for models that need the ground truth (the probes)."""
    if not isinstance(sample_or_image, Sample):
        raise TypeError(f"{model_name} reads the ground truth and needs a Sample, not a bare image")
    return sample_or_image


def check_output_kind(kind: str) -> str:
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"output_kind must be one of {OUTPUT_KINDS}, got {kind!r}")
    return kind
