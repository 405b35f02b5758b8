"""``unidepth`` / ``unidepth:<variant>``: UniDepth V1 and V2 loaded through their authors' torch.hub.

UniDepth (Piccinelli et al., CVPR 2024) predicts metric z-depth *and* the camera intrinsics, so it
is both a Table 1 baseline and a Table 3 (focal length) baseline of the Depth Pro paper, which
ran V1 ViT-L (Table 5: 347M parameters, 462×616; docs/baselines_unidepth.md). dpbench loads the
network with ``torch.hub.load("lpiccinelli-eth/UniDepth", "UniDepth", version=, backbone=,
pretrained=False)`` (``-o repo=<clone>`` reads a local clone instead) and loads the published
``pytorch_model.bin`` itself (Hugging Face ``lpiccinelli/unidepth-<version>-<backbone>``, the
file upstream's ``pretrained=True`` downloads) so that a missing key is an error rather than
upstream's silent ``strict=False``, offline mode reads the cache only, and the manifest records
the file's sha256.

Upstream's ``infer`` does its own resizing, padding and normalisation; dpbench hands it the
image as upstream's README does (a 3×H×W uint8 tensor) and, with ``intrinsics="gt"`` and a focal
from the runner, a 3×3 K at the input resolution (fx = fy = the focal; principal point from
``sample.meta["intrinsics"]`` when the adapter has it, else the image centre ((W−1)/2, (H−1)/2)).
Its ``depth`` (B×1×H×W metres, at the input size) becomes ``Prediction.depth``; the fx of the
camera it predicts becomes the focal estimate scored by the ``focal`` task.

UniDepth V1 needs xformers' ``NystromAttention``, which xformers removed after 0.0.28 (upstream
then substitutes a stub that raises ``NotImplementedError`` at the first forward). When xformers'
``components`` package is absent dpbench puts :func:`exact_nystrom_attention` in place of every
stub: UniDepth's calls always take that class's exact branch (sequence = the heads axis, at
most 4 long, below its 128 landmarks), which is plain softmax attention and has no parameters.
"""

from __future__ import annotations

import importlib.util
import math
import time
from functools import cache
from pathlib import Path

import numpy as np

from dpbench.errors import ModelError
from dpbench.models import register_model
from dpbench.models.base import DepthModel, ModelOptionError, image_of, reject_unknown_options
from dpbench.models.hub_cache import download_hint, hub_cache_has, hub_cache_location, is_offline
from dpbench.types import Prediction, Sample

#: The GitHub repository whose ``hubconf.py`` builds the networks, and its entry point.
HUB_REPO = "lpiccinelli-eth/UniDepth"
HUB_ENTRY = "UniDepth"
#: dpbench argument -> (upstream ``version``, upstream ``backbone``); hubconf.py's table.
VARIANTS = {
    "v1-vitl14": ("v1", "vitl14"),
    "v1-cnvnxtl": ("v1", "cnvnxtl"),
    "v2-vitl14": ("v2", "vitl14"),
    "v2-vitb14": ("v2", "vitb14"),
    "v2-vits14": ("v2", "vits14"),
}
#: The variant of the Depth Pro paper (Table 5: 347M parameters at 462×616 = V1 ViT-L).
PAPER_VARIANT = "v1-vitl14"
#: The weight file of every Hugging Face repository ``lpiccinelli/unidepth-<version>-<backbone>``.
WEIGHTS_FILE = "pytorch_model.bin"
#: ``intrinsics`` option: "gt" hands the runner's focal (GT or EXIF, per the suite's focal_mode)
#: to UniDepth as K when there is one; "none" never does, UniDepth always uses its own camera.
INTRINSICS_MODES = ("gt", "none")
DEFAULT_INTRINSICS = "gt"
#: UniDepth V2's ``resolution_level`` attribute accepts 0..9 (unset: its full pixel range).
RESOLUTION_LEVELS = range(10)
#: The landmark count UniDepth V1 builds its NystromAttention with (its nystrom_attention.py).
NYSTROM_LANDMARKS = 128
LICENCE = "CC BY-NC 4.0 (code and weights; non-commercial use only)"
OPTIONS = ("repo", "intrinsics", "resolution_level")


def weights_repo(variant: str) -> str:
    """The Hugging Face repository holding ``variant``'s ``pytorch_model.bin``."""
    version, backbone = VARIANTS[variant]
    return f"lpiccinelli/unidepth-{version}-{backbone}"


def xformers_nystrom_available() -> bool:
    """Whether xformers still ships ``components.attention`` (0.0.28 and older do)."""
    try:
        return importlib.util.find_spec("xformers.components.attention") is not None
    except (ImportError, ValueError):  # xformers itself missing, or a broken install
        return False


@cache
def exact_nystrom_attention():
    """dpbench's replacement class for xformers' ``NystromAttention`` as UniDepth V1 uses it.

    Built on first use so that importing dpbench does not import torch.
    """
    import torch

    class ExactNystromAttention(torch.nn.Module):
        """xformers' NystromAttention restricted to its exact branch (sequence length <= landmarks).

        Takes q, k, v shaped (..., sequence, head_dim) — UniDepth passes (B, tokens, heads, dim),
        so the sequence is the heads axis — and returns softmax(q·kᵀ/√head_dim)·v. Like xformers
        it has no parameters, ignores nothing silently (a padding mask or a sequence longer than
        the landmarks, where xformers would approximate, is refused) and drops out the output.
        """

        def __init__(self, num_landmarks: int = 64, num_heads: int | None = None, dropout: float = 0.0,
                     *args, **kwargs):
            super().__init__()
            self.num_landmarks = int(num_landmarks)
            self.num_heads = num_heads
            self.attn_drop = torch.nn.Dropout(dropout)

        def forward(self, q, k, v, *args, key_padding_mask=None, **kwargs):
            if key_padding_mask is not None:
                raise ModelError("unidepth: dpbench's NystromAttention replacement got a padding mask, "
                                 "which UniDepth V1 never passes; install xformers<=0.0.28 instead")
            if k.size(-2) > self.num_landmarks:
                raise ModelError(f"unidepth: attention over {k.size(-2)} > {self.num_landmarks} elements "
                                 "takes xformers' approximate Nystrom branch, which dpbench does not "
                                 "reproduce; install xformers<=0.0.28")
            scores = torch.matmul(q / math.sqrt(k.size(-1)), k.transpose(-2, -1))
            return self.attn_drop(torch.matmul(torch.softmax(scores, dim=-1), v))

    return ExactNystromAttention


def install_exact_nystrom(network) -> int:
    """Put :func:`exact_nystrom_attention` in place of upstream's stub in every attention block.

    Upstream's stub (what ``unidepth.layers.nystrom_attention`` defines when xformers has no
    ``components``) is a plain class, not a module, stored as a block's ``attention_fn``. Returns
    how many were replaced (0 for V2, which has none, or when xformers provides the real class).
    """
    if xformers_nystrom_available():
        return 0
    import torch

    replacement = exact_nystrom_attention()
    blocks = [m for m in network.modules() if _is_nystrom_stub(getattr(m, "attention_fn", None), torch)]
    for block in blocks:
        block.attention_fn = replacement(num_landmarks=NYSTROM_LANDMARKS, num_heads=block.num_heads, dropout=0.0)
    return len(blocks)


def _is_nystrom_stub(value, torch) -> bool:
    return (value is not None and type(value).__name__ == "NystromAttention"
            and not isinstance(value, torch.nn.Module))


def principal_point(sample_or_image: Sample | np.ndarray, width: int, height: int) -> tuple[float, float, str]:
    """``(cx, cy, source)``: the sample's own principal point when its adapter gives one in
    ``meta["intrinsics"]`` (3×3 K or [fx, fy, cx, cy], at the image's resolution), else the
    image centre in 0-based pixel-centre coordinates (the pointcloud task's convention)."""
    given = sample_or_image.meta.get("intrinsics") if isinstance(sample_or_image, Sample) else None
    if given is not None:
        values = np.asarray(given, dtype=np.float64)
        if values.shape in ((3, 3), (4, 4)):
            cx, cy = values[0, 2], values[1, 2]
        elif values.shape == (4,):
            cx, cy = values[2], values[3]
        else:
            raise ModelError(f"unidepth: sample {sample_or_image.id!r} meta 'intrinsics' has shape "
                             f"{values.shape}, neither a 3×3 K nor [fx, fy, cx, cy]")
        if math.isfinite(cx) and math.isfinite(cy):
            return float(cx), float(cy), "meta"
    return (width - 1) / 2.0, (height - 1) / 2.0, "image_centre"


def intrinsics_matrix(focal_px: float, cx: float, cy: float):
    """The 3×3 float32 pinhole K UniDepth takes (fx = fy = ``focal_px``, square pixels)."""
    import torch

    return torch.tensor([[focal_px, 0.0, cx], [0.0, focal_px, cy], [0.0, 0.0, 1.0]], dtype=torch.float32)


def image_tensor(image: np.ndarray):
    """The H×W×3 uint8 image as the 3×H×W uint8 tensor upstream's README passes to ``infer``."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()


def resolve_weights(variant: str, checkpoint: str | None) -> Path:
    """The ``pytorch_model.bin`` to load: ``checkpoint`` if given, else the Hugging Face cache's
    copy (downloaded first unless offline). A one-line ModelError says how to get it otherwise."""
    name = f"unidepth:{variant}"
    if checkpoint:
        path = Path(checkpoint).expanduser()
        if path.is_dir():
            path = path / WEIGHTS_FILE
        if not path.is_file():
            raise ModelError(f"{name}: checkpoint {path} does not exist")
        return path
    repo = weights_repo(variant)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        from dpbench.errors import MissingExtraError

        raise MissingExtraError(f"model {name!r}", "unidepth", "huggingface_hub") from None
    try:
        return Path(hf_hub_download(repo_id=repo, filename=WEIGHTS_FILE, local_files_only=is_offline()))
    except (OSError, ValueError) as exc:
        reason = "offline and not in the Hugging Face cache" if is_offline() else type(exc).__name__
        raise ModelError(f"{name}: cannot get {repo}/{WEIGHTS_FILE} ({reason}, cache {hub_cache_location()}); "
                         f"download it with `{download_hint(repo, WEIGHTS_FILE)}` or pass "
                         f"--checkpoint <path to {WEIGHTS_FILE}>") from None


def load_weights(network, path: Path, name: str) -> list[str]:
    """Load ``path`` into ``network``; a missing key is a ModelError (upstream loads with
    ``strict=False``, which would leave random weights). Returns the unexpected keys."""
    import torch

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise ModelError(f"{name}: cannot read weights {path} ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ModelError(f"{name}: weights {path} hold a {type(state).__name__}, not a state dict")
    result = network.load_state_dict(state, strict=False)
    if result.missing_keys:
        shown = ", ".join(result.missing_keys[:5])
        raise ModelError(f"{name}: weights {path} lack {len(result.missing_keys)} of the network's keys "
                         f"({shown}{', ...' if len(result.missing_keys) > 5 else ''}); wrong variant or file?")
    return list(result.unexpected_keys)


class UniDepthModel(DepthModel):
    """A UniDepth network built by upstream's hub entry (``network=`` injects one, e.g. in tests)."""

    output_kind = "metric_depth"

    def __init__(self, variant: str = PAPER_VARIANT, *, checkpoint: str | None = None, device: str = "auto",
                 precision: str = "fp32", repo: str = HUB_REPO, intrinsics: str = DEFAULT_INTRINSICS,
                 resolution_level: int | None = None, network=None):
        from dpbench.models.device import resolve_device
        from dpbench.models.torchhub import load_hub_entry, resolve_hub_source
        from dpbench.runner.provenance import file_sha256

        name = f"unidepth:{variant}"
        check_settings(name, variant, precision, intrinsics, resolution_level)
        self.variant = variant
        self.version, self.backbone = VARIANTS[variant]
        self.intrinsics_mode = intrinsics
        self.resolution_level = resolution_level
        self.precision = precision
        self.name = "unidepth" if variant == PAPER_VARIANT else name
        self.weights_path: Path | None = None
        self.weights_sha256: str | None = None
        self.unexpected_keys: list[str] = []
        self.code: dict = {}
        if network is None:
            source = resolve_hub_source(name, repo)  # offline without a cached copy: fails here, fast
            self.weights_path = resolve_weights(variant, checkpoint)
            network = load_hub_entry(name, source, HUB_ENTRY, extra="unidepth",
                                     version=self.version, backbone=self.backbone, pretrained=False)
            self.unexpected_keys = load_weights(network, self.weights_path, name)
            self.weights_sha256 = file_sha256(self.weights_path)
            self.code = dict(source.provenance)
        self.nystrom_replaced = install_exact_nystrom(network)
        if resolution_level is not None:
            network.resolution_level = int(resolution_level)
        self.device = resolve_device(device)
        self.network = network.to(self.device).eval()

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        import torch

        image = image_of(sample_or_image)
        height, width = image.shape[:2]
        meta: dict = {}
        camera = None
        if focal_px is not None and self.intrinsics_mode == "gt":
            cx, cy, meta["principal_point"] = principal_point(sample_or_image, width, height)
            camera = intrinsics_matrix(float(focal_px), cx, cy)
        elif focal_px is not None:
            meta["focal_px_given_ignored"] = float(focal_px)  # intrinsics="none": UniDepth's own camera
        rgb = image_tensor(image)
        started = time.perf_counter()
        with torch.no_grad():
            if self.version == "v1":
                output = self.network.infer(rgb, intrinsics=camera)
            else:
                output = self.network.infer(rgb, camera=camera)
        seconds = time.perf_counter() - started
        depth = self._depth_map(output, height, width)
        fx, fy, pcx, pcy = self._predicted_camera(output)
        meta.update(seconds=seconds, native_hw=self._native_hw((height, width)),
                    intrinsics_estimated=[fx, fy, pcx, pcy])
        estimated = fx if math.isfinite(fx) and fx > 0 else None
        meta["focal_px_estimated"] = estimated
        if camera is not None:
            meta["focal_source"] = "given"
            return Prediction(depth=depth, focal_px=float(focal_px), meta=meta)
        meta["focal_source"] = "estimated"
        return Prediction(depth=depth, focal_px=estimated, meta=meta)

    def _depth_map(self, output, height: int, width: int) -> np.ndarray:
        """``output['depth']`` (B×1×H×W metres at the input size) as an H×W float32 array."""
        depth = output.get("depth") if isinstance(output, dict) else None
        if depth is None:
            raise ModelError(f"{self.name}: upstream infer returned no 'depth' "
                             f"(keys: {sorted(output) if isinstance(output, dict) else type(output).__name__})")
        array = depth.detach().float().cpu().numpy()
        if array.ndim != 4 or array.shape[:2] != (1, 1) or array.shape[2:] != (height, width):
            raise ModelError(f"{self.name}: upstream depth has shape {tuple(array.shape)}, expected "
                             f"(1, 1, {height}, {width}) (the input size)")
        return array[0, 0].astype(np.float32)

    def _predicted_camera(self, output) -> tuple[float, float, float, float]:
        """``(fx, fy, cx, cy)`` of ``output['intrinsics']``, the camera UniDepth predicted (at the
        input resolution; upstream returns it even when it was given K)."""
        intrinsics = output.get("intrinsics")
        if intrinsics is None:
            raise ModelError(f"{self.name}: upstream infer returned no 'intrinsics'")
        k = intrinsics.detach().double().cpu().numpy().reshape(-1, 3, 3)[0]
        return float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])

    def _native_hw(self, input_hw: tuple[int, int]) -> tuple[int, int]:
        """The network's working size: V1's fixed ``image_shape`` (462×616 for ViT-L); V2 picks one
        per image inside ``infer``, so the input size is recorded."""
        shape = getattr(self.network, "image_shape", None)
        if shape is not None and len(shape) == 2:
            return int(shape[0]), int(shape[1])
        return input_hw

    def describe(self) -> dict:
        if self.nystrom_replaced:
            nystrom = f"dpbench exact softmax attention in {self.nystrom_replaced} blocks (xformers components absent)"
        elif self.version == "v1":
            nystrom = "xformers NystromAttention"
        else:
            nystrom = "not used (UniDepth V2)"
        return {
            **super().describe(),
            "family": "unidepth",
            "variant": self.variant,
            "paper_variant": self.variant == PAPER_VARIANT,
            "route": "torch.hub",
            "hub_repo": HUB_REPO,
            "hub_entry": f"{HUB_ENTRY}(version={self.version!r}, backbone={self.backbone!r}, pretrained=False)",
            **{f"upstream_{key}": value for key, value in self.code.items()},
            "weights_repo": weights_repo(self.variant),
            "checkpoint": str(self.weights_path) if self.weights_path else None,
            "checkpoint_sha256": self.weights_sha256,
            "unexpected_keys": len(self.unexpected_keys),
            "intrinsics": self.intrinsics_mode,
            "focal_source": ("runner's focal as K when given (principal point: sample meta or image centre), "
                             "else UniDepth's own camera" if self.intrinsics_mode == "gt"
                             else "UniDepth's own camera (given focals ignored)"),
            "resolution_level": self.resolution_level if self.version == "v2" else None,
            "nystrom_attention": nystrom,
            "licence": LICENCE,
            "precision": self.precision,
            "device": str(self.device),
        }


def check_settings(name: str, variant: str, precision: str, intrinsics: str, resolution_level) -> None:
    """ModelOptionError for an unknown variant, precision, intrinsics mode or resolution level."""
    if variant not in VARIANTS:
        raise ModelOptionError(f"{name}: unknown UniDepth variant; choose one of {', '.join(VARIANTS)}")
    if precision != "fp32":
        raise ModelOptionError(f"{name}: precision {precision!r} is not supported; upstream's infer casts the "
                               "image to float32 (V2 already autocasts to fp16 on CUDA): use fp32")
    if intrinsics not in INTRINSICS_MODES:
        raise ModelOptionError(f"{name}: option intrinsics={intrinsics!r}; choose one of {', '.join(INTRINSICS_MODES)}")
    if resolution_level is not None:
        if not VARIANTS[variant][0] == "v2":
            raise ModelOptionError(f"{name}: option resolution_level applies to UniDepth V2 only")
        if isinstance(resolution_level, bool) or resolution_level not in RESOLUTION_LEVELS:
            raise ModelOptionError(f"{name}: option resolution_level={resolution_level!r}; choose an integer 0..9")


def _cached_paper_weights() -> list[tuple[str, bool | None]]:
    repo = weights_repo(PAPER_VARIANT)
    return [(f"Hub cache: {repo}/{WEIGHTS_FILE}", hub_cache_has(repo, WEIGHTS_FILE))]


@register_model(
    "unidepth",
    output_kind="metric_depth",
    family=True,
    default_arg=PAPER_VARIANT,
    extra="unidepth",
    requires=("torch", "huggingface_hub"),
    extra_modules=("einops", "wandb"),
    description=("UniDepth V1/V2 (torch.hub lpiccinelli-eth/UniDepth): metric depth + predicted focal; "
                 f"variants {', '.join(VARIANTS)}; licence CC BY-NC 4.0 (non-commercial)"),
    weights=_cached_paper_weights,
)
def load_unidepth(arg=None, checkpoint=None, device="auto", precision="fp32", **options) -> UniDepthModel:
    """``unidepth`` (V1 ViT-L, the paper's) or ``unidepth:<variant>``; options ``repo``,
    ``intrinsics`` (gt|none) and, for V2, ``resolution_level`` (0..9)."""
    variant = arg or PAPER_VARIANT
    reject_unknown_options(f"unidepth:{variant}", options, OPTIONS)
    return UniDepthModel(variant, checkpoint=checkpoint, device=device, precision=precision, **options)


__all__ = ["HUB_REPO", "PAPER_VARIANT", "VARIANTS", "UniDepthModel", "exact_nystrom_attention",
           "install_exact_nystrom", "intrinsics_matrix", "load_unidepth", "principal_point",
           "resolve_weights", "weights_repo"]
