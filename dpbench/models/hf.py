"""``hf:<repo-or-folder>``: any Hugging Face transformers depth-estimation model.

The model and its own image processor are loaded with ``AutoModelForDepthEstimation`` /
``AutoImageProcessor`` from a Hub id (downloaded to the Hub cache, or read from it offline) or a
local folder written by ``save_pretrained``. What the raw ``predicted_depth`` means depends on
the family, read from the config:

============================  ======================  ============================================
``model_type``                output kind             post-processing (then bilinear to H×W)
============================  ======================  ============================================
``depth_anything``            relative_disparity      ``depth_estimation_type = "relative"``
``depth_anything`` (metric)   metric_depth            ``"metric"``: metres up to ``max_depth``
``prompt_depth_anything``     as depth_anything
``dpt``                       relative_disparity      MiDaS-style affine-invariant inverse depth
``zoedepth``                  metric_depth            the processor's reflect padding is cropped
``glpn``                      metric_depth
``depth_pro``                 metric_depth            D = f_px / (W · C), see below
============================  ======================  ============================================

Resizing to the input size is bilinear without corner alignment (the paper resizes predictions
bilinearly; transformers' own post-processing uses bicubic, which overshoots at edges). The
``output_kind=`` option overrides the table (e.g. a DPT fine-tuned for metric depth) and is
required for other model types.

DepthPro-hf follows the released recipe (docs/paper.md §6.1, §6.3): the network returns a canonical
inverse depth C and a horizontal FoV; f_px = 0.5·W / tan(FoV/2) with W the input width, unless a
focal length is given (it then overrides the estimate, which is still reported); inverse depth
C·W/f_px is resized bilinearly to H×W, clamped to [1e-4, 1e4] and inverted.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

import numpy as np

from dpbench.errors import MissingExtraError, ModelError
from dpbench.models import register_model
from dpbench.models.base import DepthModel, check_output_kind, image_of, reject_unknown_options
from dpbench.models.device import resolve_device, resolve_dtype
from dpbench.models.hub_cache import download_hint, hub_cache_location, is_offline
from dpbench.types import Prediction, Sample

log = logging.getLogger(__name__)

#: What ``predicted_depth`` is for each transformers depth family (see the module doc).
OUTPUT_KIND_BY_MODEL_TYPE = {
    "depth_anything": "relative_disparity",
    "prompt_depth_anything": "relative_disparity",
    "dpt": "relative_disparity",
    "zoedepth": "metric_depth",
    "glpn": "metric_depth",
    "depth_pro": "metric_depth",
}
#: Inverse-depth clamp of the Depth Pro recipe.
INVERSE_DEPTH_RANGE = (1e-4, 1e4)
#: ZoeDepth's processor pads each side by int(sqrt(size / 2) * this) pixels (reflect).
ZOEDEPTH_PAD_FACTOR = 3


def import_transformers(feature: str):
    """The transformers module, or a MissingExtraError naming the ``hf`` extra."""
    try:
        import transformers
    except ImportError:
        raise MissingExtraError(feature, "hf", "transformers") from None
    return transformers


def output_kind_of(config) -> str:
    """The output kind of a transformers depth model, from its config (module doc table)."""
    model_type = getattr(config, "model_type", None)
    if model_type in ("depth_anything", "prompt_depth_anything"):
        kind = getattr(config, "depth_estimation_type", "relative")
        return "metric_depth" if kind == "metric" else "relative_disparity"
    if model_type in OUTPUT_KIND_BY_MODEL_TYPE:
        return OUTPUT_KIND_BY_MODEL_TYPE[model_type]
    raise ModelError(
        f"hf: unknown depth model type {model_type!r}: pass output_kind= (one of metric_depth, "
        f"relative_depth, relative_disparity); known types: {', '.join(OUTPUT_KIND_BY_MODEL_TYPE)}"
    )


def resize_bilinear(maps, height: int, width: int):
    """Resize a B×h×w tensor to B×height×width, bilinear, ``align_corners=False``."""
    import torch.nn.functional as F

    if tuple(maps.shape[-2:]) == (height, width):
        return maps
    return F.interpolate(maps[:, None], size=(height, width), mode="bilinear", align_corners=False)[:, 0]


def depth_pro_metric_depth(canonical_inverse, width: int, height: int, focal_px: float):
    """Depth Pro's metric depth from its canonical inverse depth C (h×w tensor).

    D = 1 / clamp(resize(C · W / f_px), 1e-4, 1e4), resize bilinear to height×width.
    """
    inverse = canonical_inverse * (width / focal_px)
    inverse = resize_bilinear(inverse[None], height, width)[0]
    return 1.0 / inverse.clamp(*INVERSE_DEPTH_RANGE)


def focal_from_fov(width: int, fov_deg: float) -> float:
    """f_px = 0.5 · W / tan(FoV / 2), FoV horizontal in degrees."""
    return 0.5 * width / math.tan(0.5 * math.radians(fov_deg))


class HFDepthModel(DepthModel):
    """A transformers depth-estimation model with its processor and the family's post-processing."""

    def __init__(
        self,
        source: str,
        *,
        device: str = "auto",
        precision: str = "fp32",
        output_kind: str | None = None,
        revision: str | None = None,
        batch_size: int = 8,
    ):
        transformers = import_transformers(f"model 'hf:{source}'")
        self.source = source
        self.revision = revision
        self.device = resolve_device(device)
        self.precision = precision
        self.dtype = resolve_dtype(precision)
        self.batch_size = int(batch_size)
        kwargs: dict = {"revision": revision} if revision else {}
        if is_offline():  # DPBENCH_OFFLINE like HF_HUB_OFFLINE: the cache only, no request, no retries
            kwargs["local_files_only"] = True
        try:
            self.config = transformers.AutoConfig.from_pretrained(source, **kwargs)
            self.processor = transformers.AutoImageProcessor.from_pretrained(source, **kwargs)
            model = transformers.AutoModelForDepthEstimation.from_pretrained(source, **kwargs)
        except (OSError, ValueError) as exc:
            raise ModelError(_load_failure_message(source, exc)) from None
        self.model_type = self.config.model_type
        self.output_kind = check_output_kind(output_kind) if output_kind else output_kind_of(self.config)
        self.model = model.eval().to(self.device)
        self.n_parameters = sum(p.numel() for p in self.model.parameters())

    # -- the DepthModel interface -------------------------------------------------------
    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        return self.predict_batch([sample_or_image], [focal_px])[0]

    def predict_batch(self, samples, focal_px=None) -> list[Prediction]:
        """Predict several inputs; consecutive images of the same size run as one batch."""
        images = [image_of(s) for s in samples]
        focals = list(focal_px) if focal_px is not None else [None] * len(images)
        if len(focals) != len(images):
            raise ValueError(f"got {len(images)} inputs but {len(focals)} focal lengths")
        results: list[Prediction] = []
        start = 0
        while start < len(images):
            stop = start + 1
            while (stop < len(images) and stop - start < self.batch_size
                   and images[stop].shape == images[start].shape):
                stop += 1
            results.extend(self._predict_same_size(images[start:stop], focals[start:stop]))
            start = stop
        return results

    def describe(self) -> dict:
        return {
            **super().describe(),
            "source": self.source,
            "revision": self.revision or getattr(self.config, "_commit_hash", None),
            "model_type": self.model_type,
            "depth_estimation_type": getattr(self.config, "depth_estimation_type", None),
            "max_depth": getattr(self.config, "max_depth", None),
            "processor": type(self.processor).__name__,
            "parameters": self.n_parameters,
            "device": str(self.device),
            "precision": self.precision,
        }

    # -- internals ----------------------------------------------------------------------
    def _forward(self, images: list[np.ndarray]):
        """Run processor + network; returns (raw B×h×w float32 tensor, FoV tensor or None)."""
        import torch

        inputs = self.processor(images=images, return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(self.device)
        autocast = self.dtype != torch.float32
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.dtype, enabled=autocast):
            outputs = self.model(pixel_values=pixel_values)
        raw = outputs.predicted_depth.float()
        if raw.ndim == 4 and raw.shape[1] == 1:
            raw = raw[:, 0]
        fov = getattr(outputs, "field_of_view", None)
        return raw, (fov.float().reshape(-1) if fov is not None else None)

    def _predict_same_size(self, images: list[np.ndarray], focals: list[float | None]) -> list[Prediction]:
        from dpbench.models.device import synchronize

        height, width = images[0].shape[:2]
        started = time.perf_counter()
        raw, fov = self._forward(images)
        if self.model_type == "depth_pro":
            outputs = [self._depth_pro(raw[i], fov, i, width, height, focals[i]) for i in range(len(images))]
        else:
            depth = self._postprocess(raw, height, width)
            outputs = [(depth[i], None, {}) for i in range(len(images))]
        synchronize(self.device)
        seconds = (time.perf_counter() - started) / len(images)
        predictions = []
        for depth, focal, meta in outputs:
            meta.update(seconds=seconds, native_hw=tuple(int(n) for n in raw.shape[-2:]))
            predictions.append(Prediction(depth=depth.cpu().numpy().astype(np.float32), focal_px=focal, meta=meta))
        return predictions

    def _postprocess(self, raw, height: int, width: int):
        if self.model_type == "zoedepth" and getattr(self.processor, "do_pad", False):
            pad_h = int(math.sqrt(height / 2) * ZOEDEPTH_PAD_FACTOR)
            pad_w = int(math.sqrt(width / 2) * ZOEDEPTH_PAD_FACTOR)
            padded = resize_bilinear(raw, height + 2 * pad_h, width + 2 * pad_w)
            return padded[:, pad_h: pad_h + height, pad_w: pad_w + width]
        return resize_bilinear(raw, height, width)

    def _depth_pro(self, canonical, fov, index: int, width: int, height: int, given: float | None):
        fov_deg = float(fov[index]) if fov is not None else None
        usable = fov_deg is not None and math.isfinite(fov_deg) and 0.0 < fov_deg < 180.0
        estimated = focal_from_fov(width, fov_deg) if usable else None
        meta: dict = {"focal_px_estimated": estimated}
        if fov_deg is not None:
            meta["fov_deg"] = fov_deg
        if given is not None:
            focal, meta["focal_source"] = float(given), "given"
        elif estimated is not None:
            focal, meta["focal_source"] = estimated, "estimated"
        elif fov_deg is not None:
            raise ModelError(
                f"hf:{self.source}: the estimated field of view {fov_deg:.4g}° is outside (0°, 180°), "
                "so no focal length follows from it (untrained or broken weights?)"
            )
        else:
            raise ModelError(
                f"hf:{self.source}: this DepthPro model has no FoV head (use_fov_model=False); "
                "metric depth needs a focal length: run with a focal mode that passes one (gt/exif)"
            )
        return depth_pro_metric_depth(canonical, width, height, focal), focal, meta


def _load_failure_message(source: str, exc: Exception) -> str:
    local = Path(source).expanduser()
    if local.exists():
        detail = " ".join(str(exc).split())
        return f"hf:{source}: cannot load the local folder as a transformers depth model: {detail}"
    offline = is_offline() or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
    hint = (
        "offline mode is on (DPBENCH_OFFLINE / HF_HUB_OFFLINE) and the model is not in the Hub cache: "
        f"download it once with `{download_hint(source)}` (or turn offline mode off), or pass a local folder"
        if offline
        else f"check the repository id, your network, or download it with `{download_hint(source)}`"
    )
    detail = " ".join(str(exc).split())
    return f"hf:{source}: cannot load ({type(exc).__name__}: {detail}). {hint}"


def _hf_weights() -> list[tuple[str, bool | None]]:
    return [(f"a local folder, or the Hub cache {hub_cache_location()}", None)]


@register_model(
    "hf",
    output_kind="relative_disparity",
    family=True,
    extra="hf",
    requires=("transformers",),
    description="transformers depth model (Depth Anything v1/v2, ZoeDepth, DPT, GLPN, DepthPro-hf); "
    "kind from its config",
    weights=_hf_weights,
    kind_from="config",
)
def load_hf(arg=None, checkpoint=None, device="auto", precision="fp32", **options) -> HFDepthModel:
    """The ``hf:<repo-or-folder>`` family; ``checkpoint`` may name a local folder instead of ``arg``."""
    reject_unknown_options(f"hf:{arg}", options, ("output_kind", "revision", "batch_size"))
    source = checkpoint or arg
    model = HFDepthModel(source, device=device, precision=precision, **options)
    model.name = f"hf:{arg}"
    return model
