"""``marigold`` / ``marigold:<repo>``: Marigold depth through diffusers' ``MarigoldDepthPipeline``.

Marigold predicts affine-invariant depth in [0, 1] (0 = near plane, 1 = far plane, both chosen
per image), so the output kind is ``relative_depth``: depth metrics need an alignment, boundary
metrics take it as it is (docs/paper.md §9.12). The pipeline resizes its prediction back to the input
resolution (``match_input_resolution``); dpbench only squeezes it to H×W, converts it to float32
and, should the size still differ, resizes it bilinearly.

Defaults (checkpoint, ensemble size, seed) come from the card ``baselines/models/marigold.toml``;
options ``num_inference_steps``, ``ensemble_size``, ``processing_resolution`` and ``seed`` override
them. Needs the ``marigold`` extra (diffusers).
"""

from __future__ import annotations

import inspect
import time

import numpy as np

from dpbench.errors import MissingExtraError, ModelError
from dpbench.models import register_model
from dpbench.models.base import DepthModel, image_of, reject_unknown_options
from dpbench.models.device import resolve_device, resolve_dtype, synchronize
from dpbench.models.hub_cache import download_hint, is_offline
from dpbench.resources import load_toml, resource_path
from dpbench.types import Prediction, Sample

#: Largest value of a 16-bit PIL prediction (the pipeline's "pil" format maps [0, 1] to it).
UINT16_MAX = 65535


def marigold_card() -> dict:
    """The model card ``baselines/models/marigold.toml`` (empty if the data file is missing)."""
    try:
        return load_toml(resource_path("baselines", "models/marigold.toml"))
    except FileNotFoundError:
        return {}


def default_repo() -> str | None:
    """The checkpoint ``marigold`` means: ``[defaults] repo`` of the card."""
    return marigold_card().get("defaults", {}).get("repo")


def import_diffusers(feature: str):
    """The diffusers module, or a MissingExtraError naming the ``marigold`` extra."""
    try:
        import diffusers
    except ImportError:
        raise MissingExtraError(feature, "marigold", "diffusers") from None
    return diffusers


def prediction_to_depth(prediction, height: int, width: int) -> np.ndarray:
    """The pipeline's ``prediction`` for one image as an H×W float32 map in [0, 1].

    Accepts a numpy array or torch tensor shaped 1×1×H×W, 1×H×W×1, 1×H×W or H×W, or a 16-bit
    PIL image (values / 65535); resizes bilinearly when the size differs from ``height×width``.
    """
    from PIL import Image

    if isinstance(prediction, Image.Image):
        array = np.asarray(prediction, dtype=np.float64) / UINT16_MAX
    else:
        if hasattr(prediction, "detach"):
            prediction = prediction.detach().float().cpu().numpy()
        array = np.asarray(prediction, dtype=np.float64)
    array = np.squeeze(array)
    if array.ndim != 2:
        raise ModelError(f"marigold: expected one single-channel prediction, got shape {np.shape(prediction)}")
    array = array.astype(np.float32)
    if array.shape != (height, width):
        import cv2

        array = cv2.resize(array, (width, height), interpolation=cv2.INTER_LINEAR)
    return array


class MarigoldDepth(DepthModel):
    """Marigold through a diffusers pipeline (``pipeline=`` injects one, e.g. a test double)."""

    output_kind = "relative_depth"

    def __init__(
        self,
        repo: str,
        *,
        device: str = "auto",
        precision: str = "fp32",
        num_inference_steps: int | None = None,
        ensemble_size: int | None = None,
        processing_resolution: int | None = None,
        seed: int | None = None,
        pipeline=None,
    ):
        defaults = marigold_card().get("defaults", {})
        self.repo = repo
        self.precision = precision
        self.num_inference_steps = num_inference_steps
        self.ensemble_size = int(ensemble_size if ensemble_size is not None else defaults.get("ensemble_size", 1))
        self.processing_resolution = processing_resolution
        self.seed = int(seed if seed is not None else defaults.get("seed", 0))
        if pipeline is None:
            pipeline = self._load_pipeline(repo, device, precision)
            self.device = resolve_device(device)
        else:
            self.device = getattr(pipeline, "device", None)
        self.pipeline = pipeline

    @staticmethod
    def _load_pipeline(repo: str, device: str, precision: str):
        diffusers = import_diffusers(f"model 'marigold:{repo}'")
        dtype = resolve_dtype(precision)
        kwargs = {"torch_dtype": dtype}
        if precision == "fp16":
            kwargs["variant"] = "fp16"
        if is_offline():  # DPBENCH_OFFLINE like HF_HUB_OFFLINE: the cache only, no request, no retries
            kwargs["local_files_only"] = True
        try:
            pipeline = diffusers.MarigoldDepthPipeline.from_pretrained(repo, **kwargs)
        except (OSError, ValueError) as exc:
            detail = " ".join(str(exc).split())
            raise ModelError(
                f"marigold:{repo}: cannot load the pipeline ({type(exc).__name__}: {detail}). "
                f"Download it once with `{download_hint(repo)}` or pass a local folder"
            ) from None
        return pipeline.to(resolve_device(device))

    def call_options(self) -> dict:
        """Keyword arguments for the pipeline call, limited to those its signature accepts."""
        wanted = {
            "num_inference_steps": self.num_inference_steps,
            "ensemble_size": self.ensemble_size,
            "processing_resolution": self.processing_resolution,
            "match_input_resolution": True,
            "output_visualization": False,
            "output_uncertainty": False,
            "output_type": "np",
            "output_prediction_format": "np",
        }
        accepted = _named_parameters(self.pipeline)
        return {key: value for key, value in wanted.items() if value is not None and key in accepted}

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        from PIL import Image

        image = image_of(sample_or_image)
        height, width = image.shape[:2]
        options = self.call_options()
        if "generator" in _named_parameters(self.pipeline):
            options["generator"] = self._generator()
        started = time.perf_counter()
        output = self.pipeline(Image.fromarray(image), **options)
        if self.device is not None:
            synchronize(self.device)
        seconds = time.perf_counter() - started
        prediction = getattr(output, "prediction", None)
        if prediction is None:
            raise ModelError("marigold: the pipeline output has no 'prediction' field")
        if isinstance(prediction, list | tuple):
            prediction = prediction[0]
        depth = prediction_to_depth(prediction, height, width)
        return Prediction(depth=depth, meta={"seconds": seconds, "native_hw": (height, width)})

    def _generator(self):
        import torch

        device = self.device if self.device is not None else "cpu"
        return torch.Generator(device=device).manual_seed(self.seed)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "repo": self.repo,
            "num_inference_steps": self.num_inference_steps or "pipeline default",
            "ensemble_size": self.ensemble_size,
            "processing_resolution": self.processing_resolution or "pipeline default",
            "seed": self.seed,
            "precision": self.precision,
            "device": str(self.device),
        }


def _named_parameters(pipeline) -> set[str]:
    """Names of the explicit keyword parameters of ``pipeline(...)`` (not ``**kwargs``)."""
    try:
        parameters = inspect.signature(pipeline.__call__).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _cached_default_repo() -> list[tuple[str, bool | None]]:
    from dpbench.models.hub_cache import hub_cache_has

    repo = default_repo() or ""
    return [(f"Hub cache: {repo}", hub_cache_has(repo, "model_index.json"))]


@register_model(
    "marigold",
    output_kind="relative_depth",
    family=True,
    default_arg=default_repo(),
    extra="marigold",
    requires=("diffusers",),
    description="Marigold (diffusers MarigoldDepthPipeline): affine-invariant depth in [0, 1]",
    weights=_cached_default_repo,
)
def load_marigold(arg=None, checkpoint=None, device="auto", precision="fp32", **options) -> MarigoldDepth:
    """``marigold`` (the card's default checkpoint) or ``marigold:<repo-or-folder>``."""
    reject_unknown_options(f"marigold:{arg}", options,
                           ("num_inference_steps", "ensemble_size", "processing_resolution", "seed"))
    repo = checkpoint or arg
    model = MarigoldDepth(repo, device=device, precision=precision, **options)
    model.name = "marigold" if arg == default_repo() else f"marigold:{arg}"
    return model
