"""The optional model protocol of speed runs, and the out-of-memory test.

A :class:`~dpbench.models.base.DepthModel` is always timed through ``predict_batch`` (its full
path: pre-processing, network, post-processing to the input size). A model may also expose

``forward_callable(images: list[np.ndarray]) -> Callable[[], object]``
    prepare the network input of these H×W×3 uint8 images (normalisation, resizing, transfer
    to the device: everything ``predict`` does before the network) and return a callable with
    no arguments that runs the network forward alone, under the same precision and
    inference-mode settings as ``predict``. Called once per size; the callable is called for
    every repetition. On a model created with ``device="meta"`` the callable must run on meta
    tensors (FLOP counting).

``native_hw`` (attribute or property)
    the (height, width) the network predicts at.

Models without ``forward_callable`` report the forward-only columns as n/a. FLOPs are counted
over the forward callable when there is one, else over one ``predict_batch`` call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dpbench.oom import OOM_MESSAGES, is_out_of_memory, oom_text, release_memory  # noqa: F401 - re-exported


def forward_callable(model: Any, images: list[np.ndarray]) -> Callable[[], object] | None:
    """The model's forward-only callable for ``images``, or None when it does not offer one."""
    hook = getattr(model, "forward_callable", None)
    if hook is None or not callable(hook):
        return None
    return hook(images)


def native_hw(model: Any) -> tuple[int, int] | None:
    """(height, width) of the network's native output, when the model says."""
    value = getattr(model, "native_hw", None)
    try:
        height, width = value  # type: ignore[misc]
        return int(height), int(width)
    except (TypeError, ValueError):
        return None


def torch_modules(model: Any) -> list:
    """The ``torch.nn.Module`` objects a wrapper holds as attributes (the model itself if it is one)."""
    import torch

    if isinstance(model, torch.nn.Module):
        return [model]
    found, seen = [], set()
    for value in getattr(model, "__dict__", {}).values():
        if isinstance(value, torch.nn.Module) and id(value) not in seen:
            seen.add(id(value))
            found.append(value)
    return found


def count_parameters(model: Any) -> int | None:
    """Parameters of every module the model holds, each shared tensor once; None if it holds none."""
    modules = torch_modules(model)
    if not modules:
        return None
    seen: set[int] = set()
    total = 0
    for module in modules:
        for parameter in module.parameters():
            if id(parameter) not in seen:
                seen.add(id(parameter))
                total += parameter.numel()
    return total


def failure_text(exc: BaseException) -> str:
    """The one-line error of a failed measurement: ``OOM: ...`` for an allocation failure, else
    the exception's type and the first line of its message."""
    if is_out_of_memory(exc):
        return oom_text(exc)
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {first_line}"


__all__ = ["count_parameters", "failure_text", "forward_callable", "is_out_of_memory", "native_hw", "release_memory",
           "torch_modules"]
