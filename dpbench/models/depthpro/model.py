"""The ``depthpro`` model as the runner sees it: a :class:`DepthModel` around the native network."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from dpbench.errors import CheckpointError
from dpbench.models.base import DepthModel, ModelOptionError, image_of
from dpbench.models.depthpro.config import DEFAULT, DepthProConfig, get_config
from dpbench.models.depthpro.graphs import GraphedForward
from dpbench.models.depthpro.inference import autocast_context, infer, normalize_images
from dpbench.models.depthpro.network import DepthPro, build_network
from dpbench.models.depthpro.weights import (
    check_state_dict,
    checkpoint_files,
    read_state_dict,
    resolve_checkpoint,
    sha256_file,
)
from dpbench.models.device import resolve_device, resolve_dtype, synchronize
from dpbench.types import Prediction, Sample


def load_network(
    config: DepthProConfig | str | None = None,
    checkpoint: str | os.PathLike | None = None,
    *,
    pretrained: bool = True,
    download: bool = True,
) -> tuple[DepthPro, dict]:
    """Build the network on the CPU and load its weights; returns it and a provenance dict.

    The module is created on the ``meta`` device and the checked tensors are assigned to it (cast
    to float32), so loading never holds a second copy of the weights. ``pretrained=False`` gives a
    randomly initialised network (benchmarks, tests). A configuration other than the released one
    needs an explicit ``checkpoint``.
    """
    config = get_config(config)
    if not pretrained:
        network = build_network(config, "cpu")
        return network.eval().requires_grad_(False), {"checkpoint": None, "sha256": None, "layout": None}
    if checkpoint is None and config != DEFAULT:
        raise CheckpointError("a Depth Pro configuration other than the released one needs an explicit checkpoint")
    path = resolve_checkpoint(checkpoint, download=download)
    state, layout = read_state_dict(path)
    network = build_network(config, "meta")
    check_state_dict(state, network.state_dict(), source=str(path))
    state = {k: v.to(torch.float32) for k, v in state.items()}
    network.load_state_dict(state, strict=True, assign=True)
    files = checkpoint_files(path)
    provenance = {"checkpoint": str(path), "sha256": sha256_file(files[0]) if len(files) == 1 else None,
                  "layout": layout}
    if len(files) > 1:
        provenance["sha256_files"] = {file.name: sha256_file(file) for file in files}
    return network.eval().requires_grad_(False), provenance


class DepthProModel(DepthModel):
    """Native Depth Pro: metric depth at the input resolution plus the estimated focal length.

    ``predict(x, focal_px=f)`` uses a known focal ``f`` for the metric scale (the estimate is
    still reported in ``meta['focal_px_estimated']``). ``Prediction.focal_px`` is the focal used.
    """

    output_kind = "metric_depth"
    #: ``load_model("depthpro", device="meta")`` builds the architecture without weights
    #: (``dpbench speed`` counts parameters and FLOPs on it).
    supports_meta = True
    #: Options that change only the speed (see DepthModel.speed_only_options); channels_last
    #: left out takes its default (on for CUDA), as in the fp32 reference of ``dpbench speed``.
    speed_only_options = frozenset({"compile", "cuda_graphs", "channels_last"})

    def __init__(
        self,
        network: DepthPro,
        provenance: dict,
        *,
        device: str = "auto",
        precision: str = "fp32",
        batch_size: int = 1,
        channels_last: bool | None = None,
        compile: bool = False,
        cuda_graphs: bool = False,
        config_name: str = "default",
    ):
        self.name = "depthpro"
        self.device = resolve_device(device)
        self.precision = precision
        self.dtype = resolve_dtype(precision)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        # channels-last helps the convolutional decoder on GPUs; on CPUs it is not faster.
        self.channels_last = self.device.type == "cuda" if channels_last is None else bool(channels_last)
        self.network = network.to(self.device)
        if self.channels_last:
            self.network = self.network.to(memory_format=torch.channels_last)
        self.compiled = bool(compile)
        self._forward = torch.compile(self.network) if compile else self.network
        # CUDA graphs: one capture per input shape, replayed (see graphs.py); CUDA only.
        self.cuda_graphs = bool(cuda_graphs)
        if self.cuda_graphs:
            if self.device.type != "cuda":
                raise ModelOptionError(f"depthpro: cuda_graphs=true needs a CUDA device, got {self.device}")
            self._forward = GraphedForward(self._forward)
        self.provenance = provenance
        self.config_name = config_name

    @property
    def native_hw(self) -> tuple[int, int]:
        size = self.network.image_size
        return size, size

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        return self.predict_batch([sample_or_image], [focal_px])[0]

    def predict_batch(
        self, samples: Sequence[Sample | np.ndarray], focal_px: Sequence[float | None] | None = None
    ) -> list[Prediction]:
        """Predict many inputs; images of the same size run together, ``batch_size`` at a time."""
        images = [image_of(s) for s in samples]
        focals = list(focal_px) if focal_px is not None else [None] * len(images)
        if len(focals) != len(images):
            raise ValueError(f"got {len(images)} inputs but {len(focals)} focal lengths")
        by_size: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(images):
            by_size.setdefault(image.shape[:2], []).append(index)
        results: list[Prediction | None] = [None] * len(images)
        for indices in by_size.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                predictions = self._run([images[i] for i in chunk], [focals[i] for i in chunk])
                for index, prediction in zip(chunk, predictions, strict=True):
                    results[index] = prediction
        return results  # type: ignore[return-value]

    def _run(self, images: list[np.ndarray], focals: list[float | None]) -> list[Prediction]:
        synchronize(self.device)
        start = time.perf_counter()
        output = infer(self._forward, images, focals, dtype=self.dtype, channels_last=self.channels_last)
        depth = output.depth.cpu().numpy()
        synchronize(self.device)
        seconds = (time.perf_counter() - start) / len(images)
        predictions = []
        for i in range(len(images)):
            meta = {
                "seconds": seconds,
                "focal_source": output.focal_source[i],
                "focal_px_estimated": output.focal_px_estimated[i],
                "fov_deg_estimated": None if output.fov_deg is None else float(output.fov_deg[i]),
                "native_hw": list(self.native_hw),
                "batch_size": len(images),
                "precision": self.precision,
            }
            # A focal that is not a positive finite number (possible only with broken or random
            # weights) is not a focal length: the raw value stays in meta for diagnosis.
            used = output.focal_px[i]
            usable = used is not None and np.isfinite(used) and used > 0
            predictions.append(Prediction(depth=depth[i], focal_px=used if usable else None, meta=meta))
        return predictions

    def forward_callable(self, images: Sequence[np.ndarray]):
        """The network forward alone on ``images`` (one size), prepared as ``predict`` prepares
        them (normalised, resized to the network input, on the device); for ``dpbench speed``."""
        x = normalize_images(list(images), self.device)
        size = self.network.image_size
        with torch.inference_mode():
            if x.shape[-2:] != (size, size):
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)

        def forward():
            with torch.inference_mode(), autocast_context(self.device, self.dtype):
                return self._forward(x)

        return forward

    def describe(self) -> dict:
        info = super().describe()
        info.update(
            checkpoint=self.provenance.get("checkpoint"),
            checkpoint_sha256=self.provenance.get("sha256"),
            checkpoint_layout=self.provenance.get("layout"),
            config=self.config_name,
            device=str(self.device),
            precision=self.precision,
            batch_size=self.batch_size,
            channels_last=self.channels_last,
            compiled=self.compiled,
            cuda_graphs=self.cuda_graphs,
            native_hw=list(self.native_hw),
            torch=torch.__version__,
        )
        return info


def create_depthpro(
    checkpoint: str | os.PathLike | None = None,
    device: str = "auto",
    precision: str = "fp32",
    *,
    config: DepthProConfig | str | None = "default",
    compile: bool = False,
    cuda_graphs: bool = False,
    channels_last: bool | None = None,
    batch_size: int = 1,
    pretrained: bool = True,
    download: bool = True,
) -> DepthProModel:
    """Load Depth Pro (weights looked up as in :mod:`dpbench.models.depthpro.weights`)."""
    resolved = get_config(config)
    name = config if isinstance(config, str) else ("default" if resolved == DEFAULT else "custom")
    if str(device) == "meta":  # the architecture without weights: parameter and FLOP counts
        network = build_network(resolved, "meta").eval().requires_grad_(False)
        provenance = {"checkpoint": None, "sha256": None, "layout": None}
    else:
        network, provenance = load_network(resolved, checkpoint, pretrained=pretrained, download=download)
    return DepthProModel(
        network, provenance, device=device, precision=precision, batch_size=batch_size,
        channels_last=channels_last, compile=compile, cuda_graphs=cuda_graphs, config_name=name,
    )


__all__ = ["DepthProModel", "create_depthpro", "load_network"]
