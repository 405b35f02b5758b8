"""The model interface every wrapper implements, and helpers to accept a Sample or a bare image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from dpbench.errors import ModelError
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
    #: Factory options that change only how fast the same numbers are computed (memory layout,
    #: graph capture, compilation), not the model: ``dpbench speed`` loads its fp32 reference
    #: without them to measure how far such a setup's output moves (``dpbench/speed/fp32.py``).
    speed_only_options: ClassVar[frozenset[str]] = frozenset()

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        raise NotImplementedError

    def predict_batch(
        self, samples: Sequence[Sample | np.ndarray], focal_px: Sequence[float | None] | None = None
    ) -> list[Prediction]:
        """Predict several inputs; the default runs them one by one (wrappers may batch)."""
        focals = list(focal_px) if focal_px is not None else [None] * len(samples)
        if len(focals) != len(samples):
            raise ValueError(f"got {len(samples)} inputs but {len(focals)} focal lengths")
        return [self.predict(s, f) for s, f in zip(samples, focals, strict=True)]

    def begin_dataset(self, dataset: str) -> None:
        """Called by the runner before the samples of ``dataset``; models that keep per-dataset
        state (e.g. ``predictions:<dir>`` with one subfolder per dataset) override it."""

    def describe(self) -> dict:
        """What a run records about this model (name, output kind, checkpoint, device...)."""
        return {"name": self.name, "output_kind": self.output_kind,
                "reads_ground_truth": self.reads_ground_truth}

    def observed(self) -> dict:
        """What the model chose while predicting (e.g. a crop per dataset): the run's manifest
        records it as ``model_observed`` when the run ends, beside ``describe()`` from its start."""
        return {}


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


class ModelOptionError(ModelError, ValueError):
    """A model name, option or option value is not acceptable; the message says which and why.

    A ``ModelError`` (the CLI prints it as one line) and a ``ValueError`` (for callers that
    catch bad arguments as such).
    """


def check_output_kind(kind: str) -> str:
    """``kind`` itself if it is one of OUTPUT_KINDS, else a ModelOptionError listing them."""
    if kind not in OUTPUT_KINDS:
        raise ModelOptionError(f"output_kind must be one of {OUTPUT_KINDS}, got {kind!r}")
    return kind


def reject_unknown_options(model_name: str, options: dict, accepted) -> None:
    """A ModelOptionError naming the options ``model_name`` does not take, and those it does."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ModelOptionError(
            f"{model_name}: unknown option(s) {unknown}; accepted: {sorted(accepted) or 'none'}"
        )


#: Largest relative difference between a prediction's aspect ratio and the image's accepted
#: before the prediction is resampled to the image size.
ASPECT_TOLERANCE = 0.02


def check_prediction(prediction: Prediction, sample: Sample, output_kind: str | None = None, *,
                     exact_size: bool = True) -> None:
    """Refuse a prediction that cannot be scored, with a ModelError naming the sample id.

    The one check every path uses (the runner, ``rescore``, ``predictions:``, the Python API):
    a :class:`Prediction`; a non-empty depth map of the sample's H×W (``exact_size``) or of its
    aspect ratio within 2 % (the runner resamples it afterwards); every value finite; and, for
    ``output_kind='metric_depth'``, every value > 0 (metric depth of zero or less is meaningless
    and breaks the log-based metrics). Relative outputs may be zero or negative (affine-invariant).
    A focal-only prediction (``meta['focal_only']``) is refused: it has no depth to score.
    """
    where = f"sample {sample.id!r}"
    if not isinstance(prediction, Prediction):
        raise ModelError(f"{where}: the model returned {type(prediction).__name__}, not a Prediction")
    if prediction.meta.get("focal_only"):  # e.g. a predictions folder holding only focal.json
        source = prediction.meta.get("prediction_file", "the model")
        raise ModelError(f"{where}: {source} holds only focal lengths, no depth map: "
                         "only the focal task can score it")
    depth = prediction.depth
    h, w = depth.shape
    if exact_size and (h, w) != (sample.height, sample.width):
        raise ModelError(f"{where}: prediction has shape {h}×{w} but the image is {sample.height}×{sample.width}")
    if h < 1 or w < 1:
        raise ModelError(f"{where}: prediction is empty ({h}×{w})")
    aspect_pred, aspect_image = w / h, sample.width / sample.height
    if abs(aspect_pred - aspect_image) / aspect_image > ASPECT_TOLERANCE:
        raise ModelError(f"{where}: prediction has shape {h}×{w}, whose aspect ratio differs from the "
                         f"image's {sample.height}×{sample.width} (wrong shape or transposed?)")
    bad = prediction.nonfinite_count()
    if bad:
        n_nan = int(np.count_nonzero(np.isnan(depth)))
        raise ModelError(f"{where}: prediction has {bad} non-finite values of {depth.size} "
                         f"({n_nan} NaN, {bad - n_nan} ±inf)")
    if output_kind == "metric_depth":
        non_positive = int(np.count_nonzero(depth <= 0))
        if non_positive:
            raise ModelError(f"{where}: metric depth prediction has {non_positive} values <= 0 of {depth.size}")
