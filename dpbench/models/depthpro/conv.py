"""Convolutions of the decoder and head with faster float32 CPU inference paths.

3×3 convolutions may run through NNPACK's Winograd kernels; 2×2 stride-2 transposed
convolutions (and a 1×1 conv that follows one) through a single matrix product.

Depth Pro's decoder and head spend most of their time in stride-1, padding-1 3×3 convolutions at
high resolution (four 256→256 convs at 768² in the finest fusion alone: 2.8 of the network's
19 TFLOP). On the CPU, NNPACK's Winograd F(6×6, 3×3) algorithm computes them with about a quarter
of the multiplications of oneDNN's direct convolution; the result differs from the direct one by
float32 round-off only (a few 1e-6 of the output's magnitude per conv, see the tests).

:class:`Conv3x3` is an ``nn.Conv2d`` (same parameters and state-dict keys) whose forward uses
NNPACK when ``FAST_CPU_CONV`` allows and the call qualifies: float32 CPU tensors, no autograd
(inference or no-grad), NNPACK available. Everything else (CUDA, autocast to bf16/fp16, training)
runs ``nn.Conv2d.forward`` unchanged.

A 2×2 stride-2 transposed convolution writes each input pixel to its own 2×2 output block, so it
is one (B·H·W × Cin) @ (Cin × 4·Cout) matrix product and a reordering of the result;
:class:`ConvTranspose2x2` and :func:`upsample_then_project` compute it that way (oneDNN's
transposed convolution on NCHW maps is about half as fast), the latter with the following 1×1
conv folded into the product's weights (one product instead of two, the 1×1 conv's work saved).
Folding reorders the float32 sums: the difference is round-off (see the tests).
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
    return fast_cpu_path(x, weight) and nnpack_available()


def fast_cpu_path(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Float32 CPU inference (no autograd, no autocast) with the switch on."""
    return (
        FAST_CPU_CONV
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.ndim == 4
        and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
        and not torch.is_autocast_enabled("cpu")
    )


def deconv2x2_matmul(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    out_weight: torch.Tensor | None = None,
    out_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """conv_transpose2d(x, weight, bias, stride 2) for a 2×2 kernel, then optionally a 1×1 conv.

    ``weight`` is Cin × Cmid × 2 × 2; ``out_weight`` (Cout × Cmid × 1 × 1) and ``out_bias`` are the
    optional 1×1 conv, folded into the product (``bias`` must then be None).
    """
    batch, channels, height, width = x.shape
    if out_weight is None:
        folded = weight.permute(0, 2, 3, 1)  # Cin × 2 × 2 × Cout
        final_bias = bias
    else:
        if bias is not None:
            raise ValueError("a transposed-conv bias cannot be folded with a following 1×1 conv here")
        folded = torch.einsum("om,cmij->cijo", out_weight[:, :, 0, 0], weight)
        final_bias = out_bias
    outputs = folded.shape[-1]
    y = x.permute(0, 2, 3, 1).reshape(batch * height * width, channels) @ folded.reshape(channels, 4 * outputs)
    y = y.view(batch, height, width, 2, 2, outputs).permute(0, 5, 1, 3, 2, 4)
    y = y.reshape(batch, outputs, 2 * height, 2 * width)
    if final_bias is not None:
        y.add_(final_bias.view(1, -1, 1, 1))
    return y


class ConvTranspose2x2(nn.ConvTranspose2d):
    """A 2×2 stride-2 ``nn.ConvTranspose2d`` computed as one matrix product on float32 CPU inference."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size=2, stride=2, padding=0, bias=bias)

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        if output_size is None and x.ndim == 4 and fast_cpu_path(x, self.weight):
            return deconv2x2_matmul(x, self.weight, self.bias)
        return super().forward(x, output_size)


def upsample_then_project(deconv: nn.ConvTranspose2d, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """conv(deconv(x)) for a bias-free 2×2 stride-2 ``deconv`` and a 1×1 ``conv``, folded when allowed."""
    if deconv.bias is None and x.ndim == 4 and fast_cpu_path(x, deconv.weight):
        return deconv2x2_matmul(x, deconv.weight, None, conv.weight, conv.bias)
    return conv(deconv(x))
