"""``patchfusion`` / ``patchfusion:<variant>``: PatchFusion (Li et al., CVPR 2024) from a clone of
zhyever/PatchFusion.

PatchFusion is not on PyPI: its README runs it from a clone with the repository and its
``external/`` folder on the Python path, as ``PatchFusion.from_pretrained("Zhyever/patchfusion_…")``
(weights from the Hugging Face Hub). dpbench does the same with ``-o repo=<clone>`` and owns the
protocol around the call, as upstream's ``tools/test_single_forward.py`` does it:

- the image as RGB in [0, 1] (no normalisation: each branch normalises inside);
- ``image_lr = model.resizer(image)`` (the coarse branch's fixed input size, aspect ignored);
- ``image_hr`` = bicubic (``align_corners=True``) resize to the tiling's ``image_raw_shape``
  (the model's default, 2160×3840, unless ``-o image_raw_shape=HxW``);
- ``model(mode="infer", cai_mode=<mode>, process_num=<n>, image_lr=…, image_hr=…)`` with batch 1;
  ``mode`` ``m1`` (tiles), ``m2`` (+ shifted tiles) or ``rN`` (+ N random tiles, default ``r128``
  as upstream's example). The random tiles come from Python's ``random`` module, which dpbench seeds
  (``-o seed=``, default 0) around the call and restores afterwards, so runs repeat;
- the (1,1,H_raw,W_raw) metres resized back to the input H×W with dpbench's bilinear resampling
  (``dpbench.tasks.maps.resize_bilinear``; upstream's example uses nearest).

The variant the paper ran is not stated; the default and why are in the card
``baselines/models/patchfusion.toml`` and docs/baselines_zerodepth_patchfusion.md.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from dpbench.errors import MissingExtraError, ModelError
from dpbench.models import register_model
from dpbench.models.base import DepthModel, ModelOptionError, image_of, reject_unknown_options
from dpbench.models.device import resolve_device, synchronize
from dpbench.models.hub_cache import download_hint, is_offline
from dpbench.models.torchhub import git_commit
from dpbench.types import Prediction, Sample

EXTRA = "patchfusion"
#: dpbench variant name -> the Hub repository ``PatchFusion.from_pretrained`` loads (README).
VARIANTS = {
    "depth-anything-vits14": "Zhyever/patchfusion_depth_anything_vits14",
    "depth-anything-vitb14": "Zhyever/patchfusion_depth_anything_vitb14",
    "depth-anything-vitl14": "Zhyever/patchfusion_depth_anything_vitl14",
    "zoedepth": "Zhyever/patchfusion_zoedepth",
}
#: The variant ``patchfusion`` means (the reason is in the card).
DEFAULT_VARIANT = "depth-anything-vitb14"
DEFAULT_MODE = "r128"
DEFAULT_PROCESS_NUM = 4
#: The file that marks a clone of zhyever/PatchFusion.
MODEL_FILE = "estimator/models/patchfusion.py"
_MODE = re.compile(r"m1|m2|r[1-9][0-9]*")
OPTIONS = ("repo", "mode", "process_num", "image_raw_shape", "patch_split_num", "seed")


def parse_shape(text: Any, what: str) -> tuple[int, int]:
    """``"2160x3840"``, ``[2160, 3840]`` or ``"2160,3840"`` as (height, width) of positive ints."""
    parts = re.split(r"[x×,]", text) if isinstance(text, str) else list(text)
    try:
        height, width = (int(p) for p in parts)
    except (TypeError, ValueError):
        raise ModelOptionError(f"patchfusion: {what} must be HxW (e.g. 2160x3840), got {text!r}") from None
    if height < 1 or width < 1:
        raise ModelOptionError(f"patchfusion: {what} must be positive, got {text!r}")
    return height, width


def check_mode(mode: str, process_num: int) -> str:
    """``mode`` if upstream accepts it (m1, m2, rN with N ≥ process_num), else ModelOptionError."""
    if not _MODE.fullmatch(str(mode)):
        raise ModelOptionError(f"patchfusion: mode must be m1, m2 or rN (N random tiles, e.g. r128), got {mode!r}")
    if mode.startswith("r") and int(mode[1:]) < process_num:
        raise ModelOptionError(f"patchfusion: mode {mode} asks for fewer random tiles than process_num={process_num}")
    return str(mode)


@contextlib.contextmanager
def upstream_code(repo: Path):
    """The clone and its ``external/`` first on sys.path, and the clone as working directory
    (upstream's Depth Anything branch loads ``./external/torchhub/…`` relative to it)."""
    paths = [str(repo), str(repo / "external")]
    sys.path[:0] = paths
    try:
        with contextlib.chdir(repo):
            yield
    finally:
        for path in paths:
            with contextlib.suppress(ValueError):
                sys.path.remove(path)


def resolve_repo(repo: str | None) -> Path:
    """The clone folder of the ``repo`` option, checked."""
    if not repo:
        raise ModelOptionError("patchfusion: PatchFusion is not on PyPI; clone https://github.com/zhyever/PatchFusion "
                               "and pass -o repo=<clone dir>")
    folder = Path(os.path.expanduser(str(repo))).resolve()
    if not (folder / MODEL_FILE).is_file():
        raise ModelError(f"patchfusion: {folder} is not a clone of zhyever/PatchFusion (no {MODEL_FILE})")
    return folder


def load_upstream(repo: Path, source: str) -> Any:
    """``PatchFusion.from_pretrained(source)`` from the clone (offline: the Hub cache only)."""
    with upstream_code(repo):
        try:
            from estimator.models.patchfusion import PatchFusion
        except ImportError as exc:
            module = getattr(exc, "name", None) or str(exc)
            raise MissingExtraError(f"model 'patchfusion' (clone {repo})", EXTRA, module) from None
        kwargs = {"local_files_only": True} if is_offline() else {}
        try:
            return PatchFusion.from_pretrained(source, **kwargs)
        except (OSError, ValueError) as exc:
            detail = " ".join(str(exc).split())[:300]
            hint = "" if Path(source).exists() else f"; download it once with `{download_hint(source)}`"
            raise ModelError(f"patchfusion: cannot load {source} ({type(exc).__name__}: {detail}){hint}") from None


class PatchFusionDepth(DepthModel):
    """PatchFusion's tiled inference for one image at a time (``network=`` injects a loaded model)."""

    output_kind = "metric_depth"

    def __init__(self, network, *, source: str, variant: str, repo: Path | None = None, device: str = "auto",
                 mode: str = DEFAULT_MODE, process_num: int = DEFAULT_PROCESS_NUM,
                 image_raw_shape: tuple[int, int] | None = None, patch_split_num: tuple[int, int] | None = None,
                 seed: int = 0):
        self.device = resolve_device(device)
        self.network = network.to(self.device).eval()
        self.source, self.variant, self.repo = source, variant, repo
        self.process_num = int(process_num)
        self.mode = check_mode(mode, self.process_num)
        default = dict(getattr(network, "tile_cfg", None) or {})
        self.raw_shape = tuple(image_raw_shape or default.get("image_raw_shape") or ())
        self.patch_split_num = tuple(patch_split_num or default.get("patch_split_num") or (4, 4))
        if len(self.raw_shape) != 2:
            raise ModelError("patchfusion: the model has no tile_cfg['image_raw_shape']; pass -o image_raw_shape=HxW")
        for size, splits in zip(self.raw_shape, self.patch_split_num, strict=True):
            if size % (2 * splits):
                raise ModelOptionError(f"patchfusion: image_raw_shape {self.raw_shape} must be divisible by twice "
                                       f"patch_split_num {self.patch_split_num} (upstream's tiling)")
        #: None: the model's own tiling; else the tile_cfg passed with every call.
        self.tile_cfg = None if image_raw_shape is None and patch_split_num is None else {
            "image_raw_shape": list(self.raw_shape), "patch_split_num": list(self.patch_split_num)}
        self.seed = int(seed)

    @property
    def native_hw(self) -> tuple[int, int]:
        return int(self.raw_shape[0]), int(self.raw_shape[1])

    def network_input(self, sample_or_image: Sample | np.ndarray) -> tuple[Any, Any]:
        """``(image_lr, image_hr)``: the tensors the network receives, on the model's device."""
        import torch
        import torch.nn.functional as F  # noqa: N812 - torch's convention

        image = image_of(sample_or_image)
        rgb = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].double() / 255.0
        image_lr = self.network.resizer(rgb).float()
        image_hr = F.interpolate(rgb, self.native_hw, mode="bicubic", align_corners=True).float()
        return image_lr.to(self.device), image_hr.to(self.device)

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        import torch

        from dpbench.tasks.maps import resize_bilinear

        height, width = image_of(sample_or_image).shape[:2]
        image_lr, image_hr = self.network_input(sample_or_image)
        options = {"tile_cfg": self.tile_cfg} if self.tile_cfg is not None else {}
        state = random.getstate()
        started = time.perf_counter()
        try:
            random.seed(self.seed)
            with torch.inference_mode():
                output = self.network(mode="infer", cai_mode=self.mode, process_num=self.process_num,
                                      image_lr=image_lr, image_hr=image_hr, **options)
        finally:
            random.setstate(state)
        synchronize(self.device)
        seconds = time.perf_counter() - started
        depth = output[0] if isinstance(output, list | tuple) else output
        if not isinstance(depth, torch.Tensor) or depth.ndim != 4 or tuple(depth.shape[:2]) != (1, 1):
            raise ModelError(f"patchfusion: expected a (1,1,H,W) depth tensor, got "
                             f"{tuple(getattr(depth, 'shape', ())) or type(depth).__name__}")
        raw = depth[0, 0].detach().float().cpu().numpy()
        return Prediction(depth=resize_bilinear(raw, (height, width)),
                          meta={"seconds": seconds, "native_hw": tuple(raw.shape)})

    def describe(self) -> dict:
        return {
            **super().describe(),
            "route": "clone",
            "variant": self.variant,
            "source": self.source,
            "code_dir": str(self.repo) if self.repo else None,
            "code_commit": git_commit(self.repo),
            "mode": self.mode,
            "process_num": self.process_num,
            "image_raw_shape": list(self.raw_shape),
            "patch_split_num": list(self.patch_split_num),
            "seed": self.seed,
            "resize_back": "bilinear (dpbench resize_bilinear)",
            "device": str(self.device),
        }


def _weights_locations() -> list[tuple[str, bool | None]]:
    from dpbench.models.hub_cache import hub_cache_has

    repo = VARIANTS[DEFAULT_VARIANT]
    return [(f"Hub cache: {repo}", hub_cache_has(repo, "config.json"))]


@register_model(
    "patchfusion",
    output_kind="metric_depth",
    family=True,
    default_arg=DEFAULT_VARIANT,
    extra=EXTRA,
    requires=("torch",),
    extra_modules=("mmengine", "kornia", "transformers", "huggingface_hub", "skimage", "prettytable",
                   "imageio", "wandb"),
    description="PatchFusion (clone of zhyever/PatchFusion, -o repo=<dir>): tiled metric depth; "
                f"variants {', '.join(VARIANTS)}",
    weights=_weights_locations,
)
def load_patchfusion(arg=None, checkpoint=None, device="auto", precision="fp32", **options) -> PatchFusionDepth:
    """``patchfusion`` (default variant) or ``patchfusion:<variant>``; ``checkpoint`` may name a
    local ``from_pretrained`` folder instead of the variant's Hub repository."""
    name = f"patchfusion:{arg}"
    reject_unknown_options(name, options, OPTIONS)
    if arg not in VARIANTS:
        raise ModelOptionError(f"{name}: unknown variant; known: {', '.join(VARIANTS)}")
    if precision != "fp32":
        raise ModelOptionError(f"{name}: only fp32 (upstream runs PatchFusion in fp32), got {precision!r}")
    process_num = int(options.get("process_num", DEFAULT_PROCESS_NUM))
    if process_num < 1:
        raise ModelOptionError(f"{name}: process_num must be at least 1, got {process_num}")
    mode = check_mode(str(options.get("mode", DEFAULT_MODE)), process_num)
    raw_shape = options.get("image_raw_shape")
    splits = options.get("patch_split_num")
    repo = resolve_repo(options.get("repo"))
    source = str(checkpoint or VARIANTS[arg])
    network = load_upstream(repo, source)
    model = PatchFusionDepth(
        network, source=source, variant=arg, repo=repo, device=device, mode=mode, process_num=process_num,
        image_raw_shape=parse_shape(raw_shape, "image_raw_shape") if raw_shape is not None else None,
        patch_split_num=parse_shape(splits, "patch_split_num") if splits is not None else None,
        seed=int(options.get("seed", 0)))
    model.name = "patchfusion" if arg == DEFAULT_VARIANT else name
    return model


__all__ = ["DEFAULT_VARIANT", "VARIANTS", "PatchFusionDepth", "load_patchfusion"]
