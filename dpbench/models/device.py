"""Device and precision choices shared by the torch-based wrappers."""

from __future__ import annotations

PRECISIONS = ("fp32", "fp16", "bf16")


def resolve_device(device: str = "auto"):
    """A ``torch.device`` for 'auto' (cuda > mps > cpu), 'cpu', 'cuda', 'cuda:N' or 'mps'."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available on this machine")
    if resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise RuntimeError("device 'mps' requested but MPS is not available on this machine")
    return resolved


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
