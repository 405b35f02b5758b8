"""``metric3d`` (v1, ConvNeXt) and ``metric3d-v2`` (ViT): Metric3D through its authors' torch.hub.

The network comes from upstream's ``torch.hub.load('yvanyin/metric3d', <entry>, pretrain=True)``
(``-o repo=<clone>`` reads a local clone instead); dpbench owns the protocol around it, following
upstream's ``hubconf.py`` (docs/baselines.md §Metric3D):

1. resize keeping the aspect ratio by s = min(H_crop/h, W_crop/w) to (int(h·s), int(w·s)), cv2
   bilinear, on the uint8 image; pad to the crop, centred (top = pad_h//2, left = pad_w//2), with
   the mean colour (rounded to uint8 by cv2, as upstream); normalise (x − mean)/std on 0–255;
2. ``pred, confidence, outputs = network.inference({'input': x})``;
3. resize the canonical depth to the padded input size if the network returned another size (ViT
   models do when the crop is not a multiple of 14), remove the padding, resize bilinearly to the
   image size (align_corners=False);
4. de-canonical rescale depth · (fx·s)/1000 (canonical focal 1000 px) and clamp to
   [MIN_DEPTH_M, MAX_DEPTH_M] (upstream clamps to [0, 300]; dpbench refuses metric depth <= 0).

fx is the focal length the runner gives (GT or EXIF per the suite's focal mode); without one the
model refuses the sample unless ``-o missing_focal=canonical`` says to assume upstream's 1000 px.

Crop size (``-o crop=``): ``auto`` gives Metric3D v1 the paper's per-domain crops (indoor 512×1088,
outdoor 512×992, mixed → the outdoor one), chosen from the dataset's ``domain`` in
:meth:`Metric3D.begin_dataset`, and Metric3D v2 its own 616×1064 (Table 5); ``domain`` gives v2
the per-domain crops too; ``native`` the config's crop; ``indoor`` / ``outdoor`` / ``HxW`` one crop.

CPU: upstream's decoders create their depth-bin vector and the ConvNeXt mesh grid on ``"cuda"``;
:func:`place_decoder_tensors` pre-registers the bin buffer on the target device (the decoders
only build it when absent) and makes ``create_mesh_grid`` use that device.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dpbench.errors import ModelError
from dpbench.models import register_model
from dpbench.models.base import DepthModel, ModelOptionError, image_of, reject_unknown_options
from dpbench.models.device import resolve_device
from dpbench.models.hub_cache import is_offline
from dpbench.models.torchhub import hub_checkpoint, load_hub_entry, resolve_hub_source
from dpbench.types import Prediction, Sample

HUB_REPO = "yvanyin/metric3d"
EXTRA = "metric3d"
#: Modules upstream's hub code imports that are not dpbench dependencies (the ``metric3d`` extra:
#: mmengine for ``Config``, mmcv-lite for ``mmcv.utils.collect_env``); timm is a core dependency.
UPSTREAM_MODULES = ("mmengine", "mmcv")
#: Where upstream's hubconf downloads the weights from (file names per variant below).
WEIGHTS_URL = "https://huggingface.co/JUGGHM/Metric3D/resolve/main/{}"
#: Normalisation of upstream's hubconf and do_test.py, on 0–255 RGB values; MEAN is also the
#: padding colour.
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
#: Focal length (px) of Metric3D's canonical camera, the same in every shipped config.
CANONICAL_FOCAL_PX = 1000.0
#: Upper clamp of upstream's hubconf (metres).
MAX_DEPTH_M = 300.0
#: Lower clamp (metres): upstream clamps at 0, dpbench needs metric depth > 0; 1 mm is below
#: every evaluated dataset's valid range, so the floor changes no scored pixel except upstream's 0.
MIN_DEPTH_M = 1e-3
#: The paper's per-domain crops (height, width) for Metric3D (appendix C.5, docs/paper.md §2.1).
DOMAIN_CROPS = {"indoor": (512, 1088), "outdoor": (512, 992)}
#: The crop a "mixed" dataset gets under the per-domain rule (the paper gives no rule for mixed
#: sets; dpbench uses the outdoor crop, see docs/baselines.md §Metric3D).
MIXED_DOMAIN = "outdoor"
CROP_MODES = ("auto", "domain", "native", "indoor", "outdoor", "HxW")
MISSING_FOCAL = ("error", "canonical")


@dataclass(frozen=True)
class Variant:
    """One published Metric3D network: hub entry, weight file, its config's crop, crop rule."""

    entry: str
    weights_file: str
    native_crop: tuple[int, int]
    auto_crop: str  # "domain" (per-domain crops) or "native"
    params: str


VARIANTS: dict[str, dict[str, Variant]] = {
    "metric3d": {
        "convnext-large": Variant("metric3d_convnext_large", "convlarge_hourglass_0.3_150_step750k_v1.1.pth",
                                  (544, 1216), "domain", "203M"),
        "convnext-tiny": Variant("metric3d_convnext_tiny", "convtiny_hourglass_v1.pth", (544, 1216), "domain", ""),
    },
    "metric3d-v2": {
        "vit-small": Variant("metric3d_vit_small", "metric_depth_vit_small_800k.pth", (616, 1064), "native", "37.5M"),
        "vit-large": Variant("metric3d_vit_large", "metric_depth_vit_large_800k.pth", (616, 1064), "native", ""),
        "vit-giant2": Variant("metric3d_vit_giant2", "metric_depth_vit_giant2_800k.pth", (616, 1064), "native",
                              "1.378G"),
    },
}
DEFAULT_VARIANT = {"metric3d": "convnext-large", "metric3d-v2": "vit-giant2"}


# --- pre- and post-processing (pure functions) ---------------------------------------------------

@dataclass(frozen=True)
class InputGeometry:
    """How an image was fitted into the crop: resize factor, resized size and padding."""

    scale: float
    resized_hw: tuple[int, int]
    pad: tuple[int, int, int, int]  # top, bottom, left, right
    crop: tuple[int, int]


def fit_to_crop(image: np.ndarray, crop: tuple[int, int]) -> tuple[np.ndarray, InputGeometry]:
    """The uint8 image resized (aspect kept, truncated size, cv2 bilinear) and padded with the
    mean colour to ``crop`` = (height, width), centred as upstream's hubconf does."""
    import cv2

    h, w = image.shape[:2]
    scale = min(crop[0] / h, crop[1] / w)
    new_h, new_w = int(h * scale), int(w * scale)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_h, pad_w = crop[0] - new_h, crop[1] - new_w
    pad = (pad_h // 2, pad_h - pad_h // 2, pad_w // 2, pad_w - pad_w // 2)
    padded = cv2.copyMakeBorder(resized, pad[0], pad[1], pad[2], pad[3], cv2.BORDER_CONSTANT, value=MEAN)
    return padded, InputGeometry(scale, (new_h, new_w), pad, tuple(crop))


def normalise(padded: np.ndarray) -> np.ndarray:
    """A 1×3×H×W float32 array of (x − MEAN)/STD from an H×W×3 image of 0–255 RGB values."""
    chw = padded.astype(np.float32).transpose(2, 0, 1)
    mean = np.asarray(MEAN, dtype=np.float32)[:, None, None]
    std = np.asarray(STD, dtype=np.float32)[:, None, None]
    return ((chw - mean) / std)[None]


def canonical_to_image(canonical, geometry: InputGeometry, height: int, width: int):
    """The network's canonical depth (any tensor holding one H'×W' map) at the image's H×W:
    resized to the crop when the network returned another size, un-padded, resized bilinearly."""
    import torch.nn.functional as F

    depth = canonical.reshape(canonical.shape[-2:])[None, None].float()
    if tuple(depth.shape[-2:]) != geometry.crop:
        depth = F.interpolate(depth, size=geometry.crop, mode="bilinear", align_corners=False)
    top, bottom, left, right = geometry.pad
    depth = depth[..., top:geometry.crop[0] - bottom, left:geometry.crop[1] - right]
    depth = F.interpolate(depth, size=(height, width), mode="bilinear", align_corners=False)
    return depth[0, 0]


def decanonical(depth, focal_px: float, scale: float):
    """Metric depth from canonical depth: · (fx·s)/1000, clamped to [MIN_DEPTH_M, MAX_DEPTH_M]."""
    return (depth * (focal_px * scale / CANONICAL_FOCAL_PX)).clamp(MIN_DEPTH_M, MAX_DEPTH_M)


# --- crops -----------------------------------------------------------------------------------------

def parse_crop(model_name: str, value: Any) -> str | tuple[int, int]:
    """A crop mode name of CROP_MODES, or (height, width) from ``HxW`` text; else ModelOptionError."""
    text = str(value).strip().lower()
    if text in CROP_MODES[:-1]:
        return text
    match = re.fullmatch(r"(\d+)\s*[x×,]\s*(\d+)", text)
    if match is None or min(int(match.group(1)), int(match.group(2))) < 1:
        raise ModelOptionError(f"{model_name}: crop must be one of {', '.join(CROP_MODES)} (e.g. 512x1088), "
                               f"got {value!r}")
    return int(match.group(1)), int(match.group(2))


def crop_for(mode: str | tuple[int, int], variant: Variant, domain: str) -> tuple[int, int]:
    """The (height, width) crop of a dataset of ``domain`` under crop ``mode``."""
    if isinstance(mode, tuple):
        return mode
    if mode == "auto":
        mode = variant.auto_crop
    if mode == "native":
        return variant.native_crop
    if mode == "domain":
        return DOMAIN_CROPS[domain if domain in DOMAIN_CROPS else MIXED_DOMAIN]
    return DOMAIN_CROPS[mode]


# --- loading ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def upstream_weight_loading(local_file: Path | None):
    """While upstream's entry runs: ``torch.hub.load_state_dict_from_url`` maps storages to the CPU
    (checkpoints saved from GPUs load on CPU-only machines), reads ``local_file`` instead of the URL
    when given, and records what it returned, so the caller can check the keys that were loaded."""
    import torch

    record: dict[str, Any] = {"calls": []}
    original = torch.hub.load_state_dict_from_url

    def load(url, model_dir=None, map_location=None, *args, **kwargs):
        if local_file is not None:  # unpickled as upstream's loader does (weights_only=False)
            state = torch.load(str(local_file), map_location="cpu", weights_only=False)
            path = local_file
        else:
            state = original(url, model_dir, map_location if map_location is not None else "cpu", *args, **kwargs)
            name = kwargs.get("file_name") or Path(url.split("?")[0]).name
            path = Path(model_dir) / name if model_dir else hub_checkpoint(name)
        weights = state.get("model_state_dict", state) if isinstance(state, dict) else {}
        record["calls"].append({"url": url, "path": path, "keys": set(weights)})
        return state

    torch.hub.load_state_dict_from_url = load
    try:
        yield record
    finally:
        torch.hub.load_state_dict_from_url = original


def place_decoder_tensors(network, device) -> dict[str, int]:
    """Apply the CPU work-around: every decoder's depth-bin buffer ``depth_expectation_anchor``
    (exp of a linspace of log-depths from ``min_val`` to ``max_val``, batch dimension 1) is
    registered on ``device``, and every ``create_mesh_grid`` builds its grid there."""
    import torch

    anchors = grids = 0
    for module in network.modules():
        if all(hasattr(module, a) for a in ("num_depth_regressor_anchor", "min_val", "max_val")):
            bins = torch.linspace(math.log(module.min_val), math.log(module.max_val),
                                  int(module.num_depth_regressor_anchor), device=device)
            module.register_buffer("depth_expectation_anchor", torch.exp(bins)[None], persistent=False)
            anchors += 1
        if callable(getattr(type(module), "create_mesh_grid", None)):
            module.create_mesh_grid = functools.partial(type(module).create_mesh_grid, module, device=device)
            grids += 1
    return {"depth_anchor_buffers": anchors, "mesh_grids": grids}


class Metric3D(DepthModel):
    """A Metric3D network from upstream's torch.hub and dpbench's protocol around it."""

    output_kind = "metric_depth"

    def __init__(self, family: str, variant_name: str, *, repo: str = HUB_REPO, checkpoint: str | None = None,
                 device: str = "auto", precision: str = "fp32", crop: Any = "auto",
                 missing_focal: str = "error", allow_missing_keys: bool = False):
        self.family, self.variant_name = family, variant_name
        self.variant = VARIANTS[family][variant_name]
        label = f"{family}:{variant_name}"
        if precision != "fp32":
            raise ModelOptionError(f"{label}: runs in fp32 only (upstream's decoders build float32 tensors), "
                                   f"got precision {precision!r}")
        if missing_focal not in MISSING_FOCAL:
            raise ModelOptionError(f"{label}: missing_focal must be one of {MISSING_FOCAL}, got {missing_focal!r}")
        self.crop_mode = parse_crop(label, crop)
        self.missing_focal = missing_focal
        self.device = resolve_device(device)
        self.crop = crop_for(self.crop_mode, self.variant, "mixed")  # until a dataset says its domain
        self.crops_by_dataset: dict[str, dict] = {}
        self.source = resolve_hub_source(label, repo)
        self.weights_path = self._weights_path(label, checkpoint)
        try:
            with upstream_weight_loading(Path(checkpoint) if checkpoint else None) as loaded:
                network = load_hub_entry(label, self.source, self.variant.entry, extra=EXTRA, pretrain=True)
        except OSError as exc:  # a failed download of the code or the weights (no retries)
            detail = " ".join(str(exc).split())
            raise ModelError(f"{label}: cannot load upstream ({type(exc).__name__}: {detail}); without internet "
                             f"pass -o repo=<clone of {HUB_REPO}> and put {WEIGHTS_URL.format(self.variant.weights_file)}"
                             f" at {self.weights_path}") from None
        self.missing_keys = self._check_loaded(label, network, loaded, allow_missing_keys)
        self.network = network.to(self.device).eval()
        self.workaround = place_decoder_tensors(self.network, self.device)

    def _weights_path(self, label: str, checkpoint: str | None) -> Path:
        """The weight file: ``checkpoint`` if given (must exist), else where torch.hub keeps the
        download; offline that file must already be there."""
        if checkpoint:
            path = Path(checkpoint).expanduser()
            if not path.is_file():
                raise ModelError(f"{label}: checkpoint {path} does not exist")
            return path
        path = hub_checkpoint(self.variant.weights_file)
        if is_offline() and not path.is_file():
            raise ModelError(f"{label}: offline and the weights {path} are missing; download "
                             f"{WEIGHTS_URL.format(self.variant.weights_file)} to that path, or pass --checkpoint")
        return path

    def _check_loaded(self, label: str, network, loaded: dict, allow_missing: bool) -> list[str]:
        """The network's state keys the checkpoint did not provide (upstream loads with
        strict=False); an error if no weights were loaded, or keys are missing and not allowed."""
        if not loaded["calls"]:
            raise ModelError(f"{label}: upstream entry {self.variant.entry} loaded no weights "
                             "(does it still take pretrain=True?)")
        call = loaded["calls"][-1]
        if call["path"] != self.weights_path and Path(call["path"]).is_file():
            self.weights_path = Path(call["path"])
        missing = sorted(set(network.state_dict()) - call["keys"])
        if missing and not allow_missing:
            raise ModelError(f"{label}: the checkpoint {self.weights_path.name} lacks {len(missing)} of the "
                             f"network's {len(network.state_dict())} weights (first: {missing[0]}); "
                             "-o allow_missing_keys=true runs anyway")
        return missing

    def begin_dataset(self, dataset: str) -> None:
        """Choose the crop of ``dataset`` from its scene domain (datasets/<name>.toml)."""
        from dpbench.datasets.base import dataset_domain

        domain = dataset_domain(dataset)
        self.crop = crop_for(self.crop_mode, self.variant, domain)
        self.crops_by_dataset[dataset] = {"domain": domain, "crop": list(self.crop)}

    def observed(self) -> dict:
        """The crop each dataset got (chosen per dataset, so known only once it ran)."""
        return {"crops_by_dataset": dict(self.crops_by_dataset)} if self.crops_by_dataset else {}

    def _focal(self, focal_px: float | None) -> tuple[float, str]:
        if focal_px is not None:
            return float(focal_px), "given"
        if self.missing_focal == "canonical":
            return CANONICAL_FOCAL_PX, "assumed_canonical_1000px"
        raise ModelError(f"{self.name or self.family}: needs the focal length (fx) of the image and none was "
                         "given; use --focal-mode gt or exif, or -o missing_focal=canonical to assume 1000 px")

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        import torch

        image = image_of(sample_or_image)
        height, width = image.shape[:2]
        focal, focal_source = self._focal(focal_px)
        padded, geometry = fit_to_crop(image, self.crop)
        tensor = torch.from_numpy(normalise(padded)).to(self.device)
        started = time.perf_counter()
        with torch.no_grad():
            outputs = self.network.inference({"input": tensor})
            if not isinstance(outputs, tuple | list) or len(outputs) != 3:
                raise ModelError(f"{self.name}: inference() returned {type(outputs).__name__}, expected "
                                 "(pred_depth, confidence, output_dict)")
            depth = decanonical(canonical_to_image(outputs[0], geometry, height, width), focal, geometry.scale)
        seconds = time.perf_counter() - started
        meta = {"seconds": seconds, "native_hw": list(self.crop), "focal_source": focal_source,
                "focal_px_used": focal, "resize_scale": geometry.scale,
                "model_variant": f"crop {self.crop[0]}x{self.crop[1]}"}  # a text column of every row
        return Prediction(depth=depth.cpu().numpy().astype(np.float32), meta=meta)

    def describe(self) -> dict:
        crop_mode = "x".join(map(str, self.crop_mode)) if isinstance(self.crop_mode, tuple) else self.crop_mode
        return {
            **super().describe(),
            "family": self.family, "variant": self.variant_name, "route": "torch.hub",
            **self.source.provenance,
            "checkpoint": str(self.weights_path), "weights_url": WEIGHTS_URL.format(self.variant.weights_file),
            "missing_keys": len(self.missing_keys),
            "crop_mode": crop_mode,
            "crop_by_domain": {d: list(crop_for(self.crop_mode, self.variant, d)) for d in ("indoor", "outdoor",
                                                                                            "mixed")},
            "rescale": f"hubconf: depth*(fx*s)/{CANONICAL_FOCAL_PX:g}, clamp [{MIN_DEPTH_M:g}, {MAX_DEPTH_M:g}] m",
            "focal": "given by the runner (gt/exif)" + (", else 1000 px" if self.missing_focal == "canonical" else ""),
            "cpu_workaround": dict(self.workaround),
            "device": str(self.device), "precision": "fp32",
        }


# --- registry ---------------------------------------------------------------------------------------

def _weights_of(family: str):
    def where() -> list[tuple[str, bool | None]]:
        path = hub_checkpoint(VARIANTS[family][DEFAULT_VARIANT[family]].weights_file)
        return [(str(path), path.is_file())]
    return where


def _factory(family: str):
    def load(arg=None, checkpoint=None, device="auto", precision="fp32", **options) -> Metric3D:
        variant = arg or DEFAULT_VARIANT[family]
        if variant not in VARIANTS[family]:
            raise ModelOptionError(f"{family}: unknown variant {variant!r}; choose one of "
                                   f"{', '.join(VARIANTS[family])}")
        label = f"{family}:{variant}"
        reject_unknown_options(label, options, ("repo", "crop", "missing_focal", "allow_missing_keys"))
        allow = options.pop("allow_missing_keys", False)
        if not isinstance(allow, bool):
            raise ModelOptionError(f"{label}: allow_missing_keys must be true or false, got {allow!r}")
        model = Metric3D(family, variant, checkpoint=checkpoint, device=device, precision=precision,
                         allow_missing_keys=allow, **options)
        # Always the full name: report/identity.py matches a bare family name's prefix to the
        # paper row, which must only ever be the card's exact variant.
        model.name = label
        return model
    load.__doc__ = f"``{family}`` ({DEFAULT_VARIANT[family]}) or ``{family}:<{'|'.join(VARIANTS[family])}>``."
    return load


register_model("metric3d", output_kind="metric_depth", family=True, default_arg=DEFAULT_VARIANT["metric3d"],
               extra=EXTRA, requires=UPSTREAM_MODULES, weights=_weights_of("metric3d"),
               description="Metric3D v1 (torch.hub yvanyin/metric3d, ConvNeXt): metric depth from fx, "
                           "per-domain crops")(_factory("metric3d"))
register_model("metric3d-v2", output_kind="metric_depth", family=True, default_arg=DEFAULT_VARIANT["metric3d-v2"],
               extra=EXTRA, requires=UPSTREAM_MODULES, weights=_weights_of("metric3d-v2"),
               description="Metric3D v2 (torch.hub yvanyin/metric3d, ViT): metric depth from fx, "
                           "616x1064 crop")(_factory("metric3d-v2"))


__all__ = ["DOMAIN_CROPS", "InputGeometry", "Metric3D", "VARIANTS", "canonical_to_image", "crop_for",
           "decanonical", "fit_to_crop", "normalise", "place_decoder_tensors", "upstream_weight_loading"]
