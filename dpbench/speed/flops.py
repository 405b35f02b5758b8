"""Parameters, FLOPs and MACs, counted with ``torch.utils.flop_counter.FlopCounterMode``.

Convention: FlopCounterMode counts a multiply-accumulate as **2 FLOPs** (a matmul of m×k by k×n
is 2·m·k·n FLOPs); MACs are FLOPs / 2. The paper's Table 5 "FLOPs" column was measured with
fvcore, which counts one multiply-accumulate as one "flop": **the paper's numbers are MACs**
(compare them with our ``gmacs`` column). Only the operators FlopCounterMode has formulas for
are counted (matrix products, convolutions, attention); element-wise work, resizing and
normalisation count as zero, as in fvcore.

Counting runs on the ``meta`` device where the model allows it (``supports_meta`` on the model
and ``load_model(name, device="meta")``): no weights, no arithmetic, a few seconds even for the
952 M-parameter Depth Pro. On meta, scaled-dot-product attention is decomposed into matrix
products and counted; on a real CPU it runs as a fused kernel FlopCounterMode has no formula
for, so a count made on a real device (``counted_on`` says which) can miss attention FLOPs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dpbench.errors import ModelError
from dpbench.speed.hooks import count_parameters, forward_callable
from dpbench.speed.sizes import InputSize

#: Options of the real model that mean nothing for an architecture on meta.
_NOT_FOR_META = ("compile", "cuda_graphs", "batch_size", "channels_last", "download", "pretrained")


@dataclass(frozen=True)
class FlopCount:
    """FLOPs (2 per multiply-accumulate) of one call, per operator, and where they were counted."""

    flops: int
    by_operator: Mapping[str, int] = field(default_factory=dict)
    counted_on: str = "meta"
    #: "forward" (the network alone) or "predict" (the full path, for models without the hook)
    path: str = "forward"

    @property
    def macs(self) -> int:
        return self.flops // 2


def count_flops(fn: Callable[[], object]) -> tuple[int, dict[str, int]]:
    """FLOPs of one call of ``fn`` and their split by operator (FlopCounterMode, 2 per MAC)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    by_operator = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return int(counter.get_total_flops()), by_operator


def blank_images(size: InputSize, batch_size: int = 1) -> list[np.ndarray]:
    """``batch_size`` black H×W×3 uint8 images (FLOP counting does not depend on the values)."""
    image = np.zeros((size.height, size.width, 3), dtype=np.uint8)
    return [image] * batch_size


def count_model_flops(model: Any, size: InputSize, batch_size: int = 1) -> FlopCount:
    """FLOPs of one call at ``size``: the forward alone when the model exposes it, else ``predict_batch``."""
    images = blank_images(size, batch_size)
    forward = forward_callable(model, images)
    path = "forward"
    if forward is None:
        path = "predict"

        def forward():
            return model.predict_batch(images)

    flops, by_operator = count_flops(forward)
    device = getattr(model, "device", "cpu")
    return FlopCount(flops, by_operator, counted_on=str(getattr(device, "type", device)), path=path)


def meta_model(name: str, options: Mapping[str, Any] | None = None) -> Any:
    """The model ``name`` built on the ``meta`` device (no weights), or ModelError if it cannot be.

    Needs a factory that honours ``device="meta"`` and a model declaring ``supports_meta``.
    """
    from dpbench.models import load_model

    options = {k: v for k, v in dict(options or {}).items() if k not in _NOT_FOR_META}
    try:
        model = load_model(name, device="meta", precision="fp32", **options)
    except ModelError:
        raise
    except Exception as exc:  # a factory that cannot build on meta fails in its own way
        raise ModelError(f"{name}: cannot be built on the meta device ({type(exc).__name__}: {exc})") from exc
    if not getattr(model, "supports_meta", False):
        raise ModelError(f"{name}: the model does not support the meta device")
    return model


def meta_parameter_count(name: str, options: Mapping[str, Any] | None = None) -> int | None:
    """Parameters of ``name`` counted on meta (no weights loaded)."""
    return count_parameters(meta_model(name, options))


__all__ = ["FlopCount", "blank_images", "count_flops", "count_model_flops", "meta_model", "meta_parameter_count"]
