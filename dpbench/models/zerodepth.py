"""``zerodepth``: ZeroDepth (Guizilini et al., ICCV 2023) from its authors' repository TRI-ML/vidar.

ZeroDepth decodes one metric depth per pixel from the image and its camera: the network is called
as ``net(rgb, K)`` with rgb (B,3,H,W) in [0, 1] at the full input resolution (the paper's Table 5
runs it at the "original" size) and K (B,3,3) for that resolution, and returns (B,1,H,W) metres in
[0.1, 200] at the input size (docs/baselines_zerodepth_patchfusion.md). dpbench owns the protocol:
K from the runner's focal length (GT or EXIF, per the suite's focal mode; none is an error, never
a made-up focal) and the principal point of ``Sample.meta["intrinsics"]``, else the image centre.

Two ways to build the upstream network (option ``build``):

- ``hub``: ``torch.hub.load("TRI-ML/vidar", "ZeroDepth", pretrained=True)`` as the README says.
  That entry downloads its YAML config at call time and writes it into the working directory, so
  dpbench calls it from a temporary directory; the weights land in the torch.hub cache.
- ``config``: no network for the code: the entry's steps done from a local folder (a clone given
  as ``-o repo=<dir>``, or the hub cache's copy): read ``configs/papers/zerodepth/hub_zerodepth.yaml``,
  ``setup_network`` of its ``networks.perceiver`` and the official checkpoint loaded with the
  entry's key renaming and a strict key check. The weights come from ``--checkpoint`` or the hub
  cache (``checkpoints/ZeroDepth_unified.ckpt``).

``auto`` (default) is ``config`` offline (``DPBENCH_OFFLINE=1``/``HF_HUB_OFFLINE=1``) or with a
local clone, ``hub`` otherwise. Upstream imports ``torch_scatter``, which has no wheel on PyPI:
its absence is a one-line error saying how to install it.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from dpbench.errors import MissingExtraError, ModelError
from dpbench.models import register_model
from dpbench.models.base import DepthModel, ModelOptionError, image_of, reject_unknown_options
from dpbench.models.device import resolve_device, resolve_dtype, synchronize
from dpbench.models.hub_cache import is_offline
from dpbench.models.torchhub import HubSource, hub_checkpoint, load_hub_entry, resolve_hub_source
from dpbench.types import Prediction, Sample

HUB_REPO = "TRI-ML/vidar"
HUB_ENTRY = "ZeroDepth"
EXTRA = "zerodepth"
#: The only checkpoint the authors publish for the hub entry (hubconf.py: ZeroDepth_unified.ckpt).
CHECKPOINT_FILE = "ZeroDepth_unified.ckpt"
CHECKPOINT_URL = "https://tri-ml-public.s3.amazonaws.com/github/vidar/models/" + CHECKPOINT_FILE
#: The entry's config, as a path inside the repository.
CONFIG_PATH = "configs/papers/zerodepth/hub_zerodepth.yaml"
#: Prefix of the checkpoint's keys that the entry strips before its strict load.
KEY_PREFIX = "module.networks.define."
#: torchvision's ImageNet ResNet-18 weights, which the network's image embedding loads when built.
RESNET_FILE = "resnet18-f37072fd.pth"
BUILDS = ("auto", "hub", "config")
#: How to get torch-scatter, which upstream imports and PyPI only has as a source package.
TORCH_SCATTER_HINT = ("torch-scatter has no PyPI wheel: pip builds it from source against your torch, "
                      "or install the wheel matching torch/CUDA from https://data.pyg.org/whl/")


def _with_scatter_hint(exc: MissingExtraError) -> MissingExtraError:
    """The error of a missing upstream package, with the torch-scatter hint when that is the one."""
    if "torch_scatter" in str(exc.module):
        text = f"{exc} ({TORCH_SCATTER_HINT})"
        exc.args, exc.msg = (text,), text  # ImportError prints .msg
    return exc


def camera_matrix(sample_or_image: Sample | np.ndarray, focal_px: float) -> tuple[np.ndarray, str]:
    """The 3×3 K given to ZeroDepth and where its principal point came from.

    fx = ``focal_px`` (the runner's focal); fy = fx unless ``Sample.meta["intrinsics"]`` gives a
    different fy/fx ratio; cx, cy from those intrinsics (``"meta"``) or the image centre
    ((W − 1)/2, (H − 1)/2, ``"image_centre"``), the pointcloud task's convention.
    """
    from dpbench.tasks.pointcloud import gt_intrinsics

    image = image_of(sample_or_image)
    height, width = image.shape[:2]
    fx = float(focal_px)
    fy, cx, cy, principal = fx, (width - 1) / 2.0, (height - 1) / 2.0, "image_centre"
    if isinstance(sample_or_image, Sample) and sample_or_image.focal_px is not None:
        gt_fx, gt_fy, cx, cy, principal = gt_intrinsics(sample_or_image)
        fy = fx * gt_fy / gt_fx
    matrix = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float32)
    return matrix, principal


def depth_map(output: Any, height: int, width: int) -> np.ndarray:
    """The network's output for one image as an H×W float32 map (bilinear if the size differs)."""
    import torch

    if isinstance(output, list | tuple):
        output = output[0]
    if isinstance(output, dict):
        output = output.get("depth")
    if not isinstance(output, torch.Tensor):
        raise ModelError(f"zerodepth: expected a depth tensor from the network, got {type(output).__name__}")
    depth = output.detach().float()
    while depth.ndim > 2 and depth.shape[0] == 1:
        depth = depth[0]
    if depth.ndim != 2:
        raise ModelError(f"zerodepth: expected a (1,1,H,W) depth, got shape {tuple(output.shape)}")
    if tuple(depth.shape) != (height, width):
        depth = torch.nn.functional.interpolate(depth[None, None], size=(height, width), mode="bilinear",
                                                align_corners=False)[0, 0]
    return depth.cpu().numpy().astype(np.float32)


@contextlib.contextmanager
def _scratch_directory():
    """Run inside a temporary working directory (the hub entry writes its config file there)."""
    with tempfile.TemporaryDirectory(prefix="dpbench-zerodepth-") as folder, contextlib.chdir(folder):
        yield


@contextlib.contextmanager
def _on_sys_path(folder: Path):
    """``folder`` first on sys.path while upstream modules are imported from it."""
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def load_state(checkpoint: Path) -> dict:
    """The checkpoint's weights with the hub entry's key renaming (``module.networks.define.`` dropped)."""
    import torch

    if not checkpoint.is_file():
        raise ModelError(f"zerodepth: checkpoint {checkpoint} not found; download {CHECKPOINT_URL} there "
                         "or pass --checkpoint <path>")
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)  # as torch.hub's loader
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one line naming it
        raise ModelError(f"zerodepth: cannot read checkpoint {checkpoint} ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or not isinstance(state.get("state_dict"), dict):
        raise ModelError(f"zerodepth: checkpoint {checkpoint} has no 'state_dict' table")
    return {key.replace(KEY_PREFIX, ""): value for key, value in state["state_dict"].items()}


def load_strict(network, state: dict, checkpoint: Path) -> None:
    """Load ``state`` requiring exactly the network's keys (one line naming what differs)."""
    expected = set(network.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ModelError(f"zerodepth: checkpoint {checkpoint} does not fit the network: "
                         f"{len(missing)} missing key(s) {missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}")
    network.load_state_dict(state, strict=True)


def build_from_config(source: HubSource, checkpoint: Path) -> Any:
    """The hub entry's steps from a local folder: config file, ``setup_network``, strict weights."""
    folder = source.local_dir
    assert folder is not None
    config = folder / CONFIG_PATH
    if not config.is_file():
        raise ModelError(f"zerodepth: {folder} has no {CONFIG_PATH} (not a clone of {HUB_REPO}?)")
    state = load_state(checkpoint)
    if is_offline() and not hub_checkpoint(RESNET_FILE).is_file():
        raise ModelError(f"zerodepth: offline, and the network's image embedding loads torchvision's ImageNet "
                         f"ResNet-18, which is not at {hub_checkpoint(RESNET_FILE)}; copy {RESNET_FILE} there")
    with _on_sys_path(folder):
        try:
            from vidar.utils.config import read_config
            from vidar.utils.setup import setup_network
        except ImportError as exc:
            module = getattr(exc, "name", None) or str(exc)
            raise _with_scatter_hint(MissingExtraError(f"model 'zerodepth' (upstream {folder})", EXTRA,
                                                       module)) from None
        network = setup_network(read_config(str(config)).networks.perceiver)
    load_strict(network, state, checkpoint)
    source.provenance["config"] = CONFIG_PATH
    return network


class ZeroDepth(DepthModel):
    """ZeroDepth at the input resolution with K from the runner's focal (``network=`` injects one)."""

    output_kind = "metric_depth"

    def __init__(self, network, *, device: str = "auto", precision: str = "fp32", route: str = "",
                 provenance: dict | None = None, checkpoint: Path | None = None):
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(precision)
        self.precision = precision
        self.network = network.to(self.device, self.dtype).eval()
        self.route = route
        self.provenance = dict(provenance or {})
        self.checkpoint = checkpoint

    def network_input(self, sample_or_image: Sample | np.ndarray, focal_px: float | None):
        """``(rgb, K, principal)``: the exact tensors the network receives, on the model's device."""
        import torch

        image = image_of(sample_or_image)
        if focal_px is None:
            where = f"sample {sample_or_image.id!r}" if isinstance(sample_or_image, Sample) else "image"
            raise ModelError(f"zerodepth: {where} has no focal length, and ZeroDepth needs the camera "
                             "intrinsics; run with --focal-mode gt or exif")
        matrix, principal = camera_matrix(sample_or_image, focal_px)
        rgb = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
        k = torch.from_numpy(matrix)[None]
        return rgb.to(self.device, self.dtype), k.to(self.device, self.dtype), principal

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        import torch

        rgb, k, principal = self.network_input(sample_or_image, focal_px)
        height, width = rgb.shape[-2:]
        started = time.perf_counter()
        with torch.inference_mode():
            output = self.network(rgb, k)
        synchronize(self.device)
        seconds = time.perf_counter() - started
        depth = depth_map(output, height, width)
        return Prediction(depth=depth, meta={"seconds": seconds, "native_hw": (height, width),
                                             "principal_point": principal})

    def describe(self) -> dict:
        from dpbench.runner.provenance import file_sha256

        weights = self.checkpoint if self.checkpoint is not None else hub_checkpoint(CHECKPOINT_FILE)
        return {
            **super().describe(),
            "route": self.route,
            "variant": "unified (ZeroDepth_unified.ckpt)",
            "input_resolution": "original (no resize)",
            "intrinsics": "fx from the run's focal mode (gt/exif); principal point from the sample, else centre",
            "weights": str(weights) if weights.is_file() else None,
            "weights_sha256": file_sha256(weights) if weights.is_file() else None,
            "device": str(self.device),
            "precision": self.precision,
            **self.provenance,
        }


def _weights_locations() -> list[tuple[str, bool | None]]:
    path = hub_checkpoint(CHECKPOINT_FILE)
    return [(str(path), path.is_file())]


def choose_build(build: str, source: HubSource) -> str:
    """``hub`` or ``config`` for the ``build`` option (``auto``: config offline or from a clone)."""
    if build not in BUILDS:
        raise ModelOptionError(f"zerodepth: build must be one of {', '.join(BUILDS)}, got {build!r}")
    if build == "auto":
        return "config" if source.local_dir is not None else "hub"
    if build == "hub" and is_offline():
        raise ModelOptionError("zerodepth: build=hub downloads the entry's config at call time; offline use "
                               "build=config (or leave build=auto)")
    if build == "config" and source.local_dir is None:
        raise ModelOptionError(f"zerodepth: build=config needs the code on disk: pass -o repo=<clone of {HUB_REPO}> "
                               "or run once with build=hub")
    return build


@register_model(
    "zerodepth",
    output_kind="metric_depth",
    extra=EXTRA,
    requires=("torch",),
    extra_modules=("einops", "lpips", "pyquaternion", "wandb", "termcolor", "seaborn", "skimage", "yaml",
                   "torch_scatter"),
    description="ZeroDepth (TRI-ML/vidar, torch.hub or a local clone): metric depth from image + K",
    weights=_weights_locations,
)
def load_zerodepth(arg=None, checkpoint=None, device="auto", precision="fp32", **options) -> ZeroDepth:
    """``zerodepth``; options ``repo`` (GitHub ``owner/name[:ref]`` or a clone) and ``build``."""
    reject_unknown_options("zerodepth", options, ("repo", "build"))
    source = resolve_hub_source("zerodepth", str(options.get("repo") or HUB_REPO))
    build = choose_build(str(options.get("build") or "auto"), source)
    weights = Path(checkpoint).expanduser() if checkpoint else None
    try:
        if build == "hub":
            if weights is not None:
                raise ModelOptionError("zerodepth: --checkpoint needs build=config (the hub entry downloads its own)")
            with _scratch_directory():
                network = load_hub_entry("zerodepth", source, HUB_ENTRY, extra=EXTRA, pretrained=True)
        else:
            if weights is None:
                weights = hub_checkpoint(CHECKPOINT_FILE)
                if not weights.is_file() and not is_offline():
                    import torch

                    weights.parent.mkdir(parents=True, exist_ok=True)
                    torch.hub.download_url_to_file(CHECKPOINT_URL, str(weights))
            network = build_from_config(source, weights)
    except MissingExtraError as exc:
        raise _with_scatter_hint(exc) from None
    model = ZeroDepth(network, device=device, precision=precision, route=f"torch.hub ({build})",
                      provenance=source.provenance, checkpoint=weights)
    model.name = "zerodepth"
    return model


__all__ = ["ZeroDepth", "camera_matrix", "depth_map", "load_zerodepth"]
