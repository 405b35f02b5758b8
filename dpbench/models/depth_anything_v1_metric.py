"""``depth-anything-metric:v1*``: Depth Anything v1's ZoeDepth metric fine-tunes, built by the
authors' own ``metric_depth/`` code from a clone of LiheYoung/Depth-Anything (``-o repo=<clone>``).

Upstream publishes these models only as checkpoints for its ``metric_depth/zoedepth`` package (no
pip package, no torch.hub entry, no transformers port). dpbench builds them the way upstream's
``metric_depth/evaluate.py`` does, ``build_model(get_config("zoedepth", "eval", <dataset>,
pretrained_resource="local::<checkpoint>"))`` (upstream's strict ``load_state_dict``), and handles
its two traps:

- **Working directory.** Building reads ``./checkpoints/depth_anything_vitl14.pth`` (the relative
  ViT-L, overwritten afterwards by the metric checkpoint) and the DINOv2 code from
  ``../torchhub/facebookresearch_dinov2_main``, both relative to the current directory. dpbench
  builds inside a scratch directory whose ``checkpoints/`` and ``../torchhub`` link to the real
  files, so neither the user's working directory nor the clone is touched.
- **Dataset config.** The model's ``max_depth`` comes from the dataset named at build time
  (``nyu``: 10 m, ``kitti``: 80 m; none: 10 m). dpbench names ``nyu`` for the indoor checkpoint and
  ``kitti`` for the outdoor one, as upstream's README does, and refuses a built model whose
  ``max_depth`` differs (the published softplus bins do not use it; a ``normed`` head would).

Protocol (upstream's evaluation): RGB in [0, 1] at the image's own size; the model resizes to
392×518 itself (``mode=eval``; ``mode=infer`` keeps the aspect ratio) and normalises with ImageNet
statistics; the prediction is averaged with the flipped image's flipped prediction (evaluate.py
``infer``; ``flip=false`` turns it off); the map is resized to the image bilinearly with
``align_corners=True``. One image per forward pass, fp32, as upstream's evaluation.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dpbench.errors import MissingExtraError, ModelError
from dpbench.models.base import ModelOptionError
from dpbench.models.depth_anything_metric import (
    MODEL_DOMAINS,
    VARIANTS,
    RoutedDepthAnything,
)
from dpbench.models.hub_cache import is_offline
from dpbench.models.torchhub import git_commit
from dpbench.types import Prediction

#: The Hugging Face Space that hosts the checkpoints, and the files in it.
SPACE = "LiheYoung/Depth-Anything"
METRIC_FILES = {
    "indoor": "checkpoints_metric_depth/depth_anything_metric_depth_indoor.pt",
    "outdoor": "checkpoints_metric_depth/depth_anything_metric_depth_outdoor.pt",
}
RELATIVE_FILE = "checkpoints/depth_anything_vitl14.pth"
#: The dataset config each checkpoint is built with (it sets the head's max_depth).
CONFIG_DATASET = {"indoor": "nyu", "outdoor": "kitti"}
#: A file that marks a clone of LiheYoung/Depth-Anything, and the DINOv2 code its build reads.
BUILDER_FILE = "metric_depth/zoedepth/models/builder.py"
DINOV2_DIR = "torchhub/facebookresearch_dinov2_main"
MODES = ("eval", "infer")
OPTIONS = ("repo", "mode", "flip", "relative_checkpoint")
ROUTED_OPTIONS = ("indoor", "outdoor", "mixed", "route", "indoor_checkpoint", "outdoor_checkpoint")


def resolve_clone(name: str, repo) -> Path:
    """The checked clone folder of the ``repo`` option."""
    if not repo:
        raise ModelOptionError(f"{name}: Depth Anything v1 metric runs from the authors' code; clone "
                               f"https://github.com/{SPACE} and pass -o repo=<clone dir>")
    folder = Path(os.path.expanduser(str(repo))).resolve()
    if not (folder / BUILDER_FILE).is_file():
        raise ModelError(f"{name}: {folder} is not a clone of {SPACE} (no {BUILDER_FILE})")
    if not (folder / DINOV2_DIR).is_dir():
        raise ModelError(f"{name}: {folder} lacks {DINOV2_DIR} (the DINOv2 code upstream builds from)")
    return folder


def space_download_hint(filename: str) -> str:
    """The command that fetches one file of the Space (the Space, not a model repository)."""
    return f"hf download {SPACE} {filename} --repo-type space"


def locate_weights(name: str, clone: Path, filename: str, given=None) -> Path:
    """A checkpoint file: ``given``, else upstream's place ``<clone>/metric_depth/checkpoints/``,
    else the Hugging Face cache (downloaded from the Space unless offline)."""
    if given:
        path = Path(os.path.expanduser(str(given)))
        if not path.is_file():
            raise ModelError(f"{name}: checkpoint {path} does not exist")
        return path.resolve()
    local = clone / "metric_depth" / "checkpoints" / Path(filename).name
    if local.is_file():
        return local
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise MissingExtraError(f"model {name!r} (weights {filename})", "hf", "huggingface_hub") from None
    try:
        return Path(hf_hub_download(SPACE, filename, repo_type="space", local_files_only=is_offline()))
    except Exception as exc:  # huggingface_hub raises many types (offline, HTTP, missing entry)
        reason = "offline and not in the Hugging Face cache" if is_offline() else type(exc).__name__
        raise ModelError(f"{name}: cannot get {filename} of the Space {SPACE} ({reason}); download it with "
                         f"`{space_download_hint(filename)}` or put it in {local.parent}") from None


def _drop_foreign_zoedepth(metric_dir: Path) -> None:
    """Forget ``zoedepth`` modules imported from elsewhere (PatchFusion vendors another one)."""
    for module_name, module in list(sys.modules.items()):
        if module_name == "zoedepth" or module_name.startswith("zoedepth."):
            origin = getattr(module, "__file__", None) or ""
            if not origin.startswith(str(metric_dir)):
                del sys.modules[module_name]


@contextlib.contextmanager
def upstream_workdir(clone: Path, relative_weights: Path):
    """Upstream's import path and the working directory its build expects: a scratch folder with
    ``work/checkpoints/depth_anything_vitl14.pth`` and ``torchhub`` linked to the real files."""
    metric_dir = clone / "metric_depth"
    with tempfile.TemporaryDirectory(prefix="dpbench-da1-") as scratch:
        root = Path(scratch)
        (root / "work" / "checkpoints").mkdir(parents=True)
        (root / "torchhub").symlink_to(clone / "torchhub", target_is_directory=True)
        (root / "work" / "checkpoints" / Path(RELATIVE_FILE).name).symlink_to(relative_weights)
        _drop_foreign_zoedepth(metric_dir)
        sys.path.insert(0, str(metric_dir))
        try:
            with contextlib.chdir(root / "work"):
                yield
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(metric_dir))


def build_upstream(name: str, clone: Path, domain: str, checkpoint: Path, relative_weights: Path, mode: str):
    """Upstream's ``build_model`` of one checkpoint with the domain's dataset config, in eval mode."""
    expected = VARIANTS[f"v1-{domain}"].max_depth
    with upstream_workdir(clone, relative_weights):
        try:
            from zoedepth.models.builder import build_model
            from zoedepth.utils.config import get_config
        except ImportError as exc:
            module = getattr(exc, "name", None) or str(exc)
            raise MissingExtraError(f"model {name!r} (clone {clone})", "depth-anything-v1", module) from None
        config = get_config("zoedepth", mode, CONFIG_DATASET[domain], pretrained_resource=f"local::{checkpoint}")
        try:
            with contextlib.redirect_stdout(sys.stderr):  # upstream prints its resize parameters
                model = build_model(config)
        except (RuntimeError, OSError, pickle.UnpicklingError) as exc:  # strict load_state_dict, bad file
            detail = " ".join(str(exc).split())[:300]
            raise ModelError(f"{name}: {checkpoint} does not fit upstream's ZoeDepth model ({detail})") from None
    max_depth = getattr(model, "max_depth", None)
    if max_depth is None or float(max_depth) != expected:
        raise ModelError(f"{name}: upstream built the {domain} model with max_depth={max_depth!r}, "
                         f"but its checkpoint is trained to {expected:g} m")
    return model.eval()


class V1MetricNetwork:
    """One built v1 checkpoint and upstream's evaluation protocol around it (module docstring)."""

    def __init__(self, network, *, domain: str, device: str = "auto", flip: bool = True):
        from dpbench.models.device import resolve_device

        self.device = resolve_device(device)
        self.network = network.to(self.device)
        self.domain = domain
        self.flip = bool(flip)
        self.n_parameters = sum(p.numel() for p in network.parameters())

    def describe(self) -> dict:
        """What the routed model's record takes from the built network."""
        return {"domain": self.domain, "parameters": self.n_parameters}

    def _metric(self, batch):
        out = self.network(batch, dataset=CONFIG_DATASET[self.domain])
        if isinstance(out, dict):
            out = out["metric_depth"] if "metric_depth" in out else out["out"]
        elif isinstance(out, (list, tuple)):
            out = out[-1]
        return out

    def infer(self, image: np.ndarray):
        """The (h, w) metric map of an RGB uint8 image, flip-averaged, at the network's resolution."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div(255.0)
        with torch.inference_mode():
            x = x.to(self.device)
            depth = self._metric(x)
            if self.flip:
                depth = 0.5 * (depth + torch.flip(self._metric(torch.flip(x, [3])), [3]))
        return depth.reshape(depth.shape[-2:])

    def predict_batch(self, images: list[np.ndarray], focal_px=None) -> list[Prediction]:
        import torch.nn.functional as F

        predictions = []
        for image in images:
            start = time.perf_counter()
            raw = self.infer(image)
            height, width = image.shape[:2]
            depth = F.interpolate(raw[None, None].float(), size=(height, width), mode="bilinear",
                                  align_corners=True)[0, 0]
            predictions.append(Prediction(depth=depth.cpu().numpy(), meta={
                "seconds": time.perf_counter() - start, "native_hw": list(raw.shape)}))
        return predictions


class RoutedDepthAnythingV1(RoutedDepthAnything):
    """Depth Anything v1 metric: the indoor (NYU) or outdoor (KITTI) ZoeDepth per dataset."""

    def __init__(self, *, name: str, clone: Path, checkpoints: dict[str, Path], relative_weights: Path,
                 fixed: str | None = None, device: str = "auto", mode: str = "eval", flip: bool = True,
                 routes: dict[str, str] | None = None, per_dataset: dict[str, str] | None = None):
        self.clone, self.checkpoints, self.relative_weights = clone, checkpoints, relative_weights
        self.mode, self.flip = mode, flip
        from dpbench.runner.provenance import file_sha256

        # the manifest is written before the first dataset: hash every located checkpoint now
        self.weights_sha256 = {f"v1-{d}": file_sha256(p) for d, p in checkpoints.items()}
        self.name = name
        super().__init__("v1", fixed=fixed, device=device, repos={d: str(p) for d, p in checkpoints.items()},
                         routes=routes, per_dataset=per_dataset)

    def _check_sources(self) -> None:
        """Nothing to read before a dataset needs it: the checkpoint files were located already."""

    def _network(self, model_domain: str) -> V1MetricNetwork:
        if model_domain not in self._networks:
            self._networks.clear()  # one ViT-L at a time
            checkpoint = self.checkpoints[model_domain]
            network = build_upstream(self.name, self.clone, model_domain, checkpoint, self.relative_weights,
                                     self.mode)
            self._networks[model_domain] = V1MetricNetwork(network, domain=model_domain, device=self.device,
                                                           flip=self.flip)
        return self._networks[model_domain]

    def describe(self) -> dict:
        record = super().describe()
        record.pop("revisions", None)
        record.pop("input_size", None)
        record.update(
            route="clone",
            code_dir=str(self.clone),
            code_commit=git_commit(self.clone),
            weights_sha256=dict(self.weights_sha256),
            relative_weights=str(self.relative_weights),
            config_dataset={f"v1-{d}": CONFIG_DATASET[d] for d in MODEL_DOMAINS},
            mode=self.mode,
            input_resolution="392x518 (aspect ignored)" if self.mode == "eval" else "aspect kept, multiples of 14",
            flip_average=self.flip,
            preprocessing="RGB/255 at image size; upstream resizes (bilinear, align_corners) and "
                          "normalises (ImageNet) inside; bilinear align_corners=True to the image",
        )
        if self.fixed is not None:  # only the fixed model's entries
            for key in ("repos", "max_depth", "config_dataset"):
                record[key] = {k: v for k, v in record[key].items() if k == f"v1-{self.fixed}"}
        return record


def _flag(name: str, value) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ModelOptionError(f"{name}: flip= must be true or false, got {value!r}")


def load_v1(name: str, fixed: str | None, checkpoint, device: str, precision: str, options: dict,
            parse_routing) -> RoutedDepthAnythingV1:
    """The v1 factory (called by ``depth-anything-metric``'s): ``:v1`` routed, ``:v1-indoor`` /
    ``:v1-outdoor`` fixed. ``parse_routing(options)`` returns (routes, per_dataset)."""
    from dpbench.models.base import reject_unknown_options

    reject_unknown_options(name, options, OPTIONS + (() if fixed else ROUTED_OPTIONS))
    if precision != "fp32":
        raise ModelOptionError(f"{name}: only fp32 (upstream evaluates the v1 metric models in fp32), "
                               f"got {precision!r}")
    if checkpoint and not fixed:
        raise ModelOptionError(f"{name}: routed between two checkpoints; pass indoor_checkpoint=/"
                               "outdoor_checkpoint= instead of one checkpoint")
    mode = str(options.pop("mode", "eval"))
    if mode not in MODES:
        raise ModelOptionError(f"{name}: mode must be one of {MODES}, got {mode!r}")
    flip = _flag(name, options.pop("flip", True))
    clone = resolve_clone(name, options.pop("repo", None))
    domains = (fixed,) if fixed else MODEL_DOMAINS
    given = {d: options.pop(f"{d}_checkpoint", None) for d in MODEL_DOMAINS}
    if fixed:
        given[fixed] = checkpoint
    checkpoints = {d: locate_weights(name, clone, METRIC_FILES[d], given[d]) for d in domains}
    relative = locate_weights(name, clone, RELATIVE_FILE, options.pop("relative_checkpoint", None))
    routes, per_dataset = parse_routing(options)
    model = RoutedDepthAnythingV1(name=name, clone=clone, checkpoints=checkpoints, relative_weights=relative, fixed=fixed,
                                  device=device, mode=mode, flip=flip, routes=routes, per_dataset=per_dataset)
    return model  # a fixed variant is built already: a wrong checkpoint fails before the run


def weights_places() -> list[tuple[str, bool | None]]:
    """Where ``dpbench models`` looks for the v1 checkpoints (the Hugging Face cache; no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return [(f"Space {SPACE}: {f}", None) for f in (*METRIC_FILES.values(), RELATIVE_FILE)]
    return [(f"Space {SPACE}: {f}", isinstance(try_to_load_from_cache(SPACE, f, repo_type="space"), str))
            for f in (*METRIC_FILES.values(), RELATIVE_FILE)]


__all__ = ["CONFIG_DATASET", "METRIC_FILES", "RoutedDepthAnythingV1", "V1MetricNetwork", "load_v1"]
