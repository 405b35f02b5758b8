"""Device and precision choices shared by the model wrappers.

A device string is checked once, by :func:`check_device`, before any model is built: every
model (probes and predictions folders too, which run on the CPU whatever is asked) refuses a
device that is not a device name or is not available here, with one line naming it.
"""

from __future__ import annotations

import re

from dpbench.errors import ModelError

PRECISIONS = ("fp32", "fp16", "bf16")
#: The device strings dpbench accepts (``meta`` too, internally: the architecture without
#: weights, for parameter and FLOP counts in ``dpbench speed``).
DEVICE_FORMS = "auto, cpu, cuda, cuda:N or mps"
_DEVICE = re.compile(r"auto|cpu|mps|meta|cuda(?::(\d+))?")


class DeviceError(ModelError, ValueError):
    """A device string that is not a device, or a device this machine does not have."""


def check_device(device: str) -> str:
    """``device`` unchanged when it names a device this machine has; DeviceError otherwise.

    Only ``cuda``/``cuda:N``/``mps`` need PyTorch to be answered, so ``auto`` and ``cpu`` never
    import it.
    """
    text = str(device)  # a torch.device is accepted too
    match = _DEVICE.fullmatch(text)
    if match is None:
        raise DeviceError(f"unknown device {text!r}: expected {DEVICE_FORMS}")
    if text in ("auto", "cpu", "meta"):
        return device
    try:
        import torch
    except ImportError:
        raise DeviceError(f"device {text!r} needs PyTorch, which is not installed (use --device cpu)") from None
    if text == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError("device 'mps' requested but MPS is not available on this machine "
                              "(use --device cpu or auto)")
        return device
    if not torch.cuda.is_available():
        raise DeviceError(f"device {text!r} requested but CUDA is not available on this machine "
                          "(use --device cpu or auto)")
    index = match.group(1)
    if index is not None and int(index) >= torch.cuda.device_count():
        raise DeviceError(f"device {text!r} requested but this machine has {torch.cuda.device_count()} "
                          "CUDA device(s)")
    return device


def resolve_device(device: str = "auto"):
    """A ``torch.device`` for 'auto' (cuda > mps > cpu), 'cpu', 'cuda', 'cuda:N' or 'mps'
    (DeviceError, via :func:`check_device`, for anything else or a missing device)."""
    import torch

    check_device(device)
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def resolve_dtype(precision: str = "fp32"):
    """The torch dtype of a precision name ('fp32', 'fp16', 'bf16')."""
    import torch

    table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if precision not in table:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return table[precision]


def synchronize(device) -> None:
    """Wait for queued kernels on ``device`` so that a clock reading means something."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
