"""3×3 convolutions of the decoder and head, optionally through NNPACK's Winograd kernels on the CPU.

Depth Pro's decoder and head spend most of their time in stride-1, padding-1 3×3 convolutions at
high resolution (four 256→256 convs at 768² in the finest fusion alone: 2.8 of the network's
19 TFLOP). On the CPU, NNPACK's Winograd F(6×6, 3×3) algorithm computes them with about a quarter
of the multiplications of oneDNN's direct convolution; the result differs from the direct one by
float32 round-off only (a few 1e-6 of the output's magnitude per conv, see the tests).

:class:`Conv3x3` is an ``nn.Conv2d`` (same parameters and state-dict keys) whose forward uses
NNPACK when ``FAST_CPU_CONV`` allows and the call qualifies: float32 CPU tensors, no autograd
(inference or no-grad), NNPACK available. Everything else (CUDA, autocast to bf16/fp16, training)
runs ``nn.Conv2d.forward`` unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

#: Process-wide switch for the NNPACK path (tests and benchmarks turn it off to compare).
FAST_CPU_CONV = True


def nnpack_available() -> bool:
    backend = getattr(torch.backends, "nnpack", None)
    return bool(backend is not None and backend.is_available())


class Conv3x3(nn.Conv2d):
    """A 3×3, stride-1, padding-1 ``nn.Conv2d`` with the NNPACK inference path (see module docstring)."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if use_nnpack(x, self.weight):
            return torch._nnpack_spatial_convolution(x.contiguous(), self.weight, self.bias, [1, 1], [1, 1])
        return super().forward(x)


def use_nnpack(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether a conv on ``x`` may take the NNPACK path (float32 CPU inference, NNPACK present)."""
    return (
        FAST_CPU_CONV
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.ndim == 4
        and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
        and not torch.is_autocast_enabled("cpu")
        and nnpack_available()
    )
