"""Depth Pro's decoder: DPT-style fusion of the five encoder levels into one 256-channel map.

State-dict prefix ``decoder.``: ``convs.i`` (level i → decoder width; ``convs.0`` is an identity
because level 0 already has that width) and ``fusions.i`` (two pre-activation residual units
``resnet1``/``resnet2``, a ×2 transposed conv ``deconv`` for i > 0, and a 1×1 ``out_conv``).
"""

from __future__ import annotations

import torch
from torch import nn

from dpbench.models.depthpro.conv import Conv3x3, ConvTranspose2x2, upsample_then_project


class ResidualUnit(nn.Module):
    """x + conv3×3(relu(conv3×3(relu(x)))), both convs with bias (``residual.1``, ``residual.3``)."""

    def __init__(self, features: int):
        super().__init__()
        self.residual = nn.Sequential(
            nn.ReLU(inplace=False),  # x itself is still needed for the skip connection
            Conv3x3(features, features, bias=True),
            nn.ReLU(inplace=True),  # acts on a fresh conv output: in place saves one map
            Conv3x3(features, features, bias=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        delta = self.residual(x)
        # delta + x equals x + delta exactly; adding in place saves one full-size map.
        return delta.add_(x)


class FusionBlock(nn.Module):
    """fuse(x, skip) = out_conv(deconv(resnet2(x + resnet1(skip)))); no skip → no resnet1 term."""

    def __init__(self, features: int, deconv: bool):
        super().__init__()
        self.resnet1 = ResidualUnit(features)
        self.resnet2 = ResidualUnit(features)
        self.use_deconv = deconv
        if deconv:
            self.deconv = ConvTranspose2x2(features, features, bias=False)
        self.out_conv = nn.Conv2d(features, features, kernel_size=1, stride=1, padding=0, bias=True)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        return self.upsample(self.fuse(x, skip))

    def fuse(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        """The residual part: resnet2(x + resnet1(skip)) (3×3 convs: each output row needs ±4 rows)."""
        if skip is not None:
            x = self.resnet1(skip).add_(x)  # = x + resnet1(skip), in the fresh tensor
        return self.resnet2(x)

    def upsample(self, x: torch.Tensor) -> torch.Tensor:
        """out_conv(deconv(x)): 2×2 stride-2 and 1×1 kernels, so output rows 2i, 2i+1 need row i only."""
        if self.use_deconv:
            return upsample_then_project(self.deconv, self.out_conv, x)
        return self.out_conv(x)


class MultiresDecoder(nn.Module):
    """Fuses levels coarse to fine; returns (fused finest map, the projected coarsest map)."""

    def __init__(self, level_dims: list[int], features: int):
        super().__init__()
        self.level_dims = list(level_dims)
        self.features = features
        convs: list[nn.Module] = [
            nn.Identity()
            if level_dims[0] == features
            else nn.Conv2d(level_dims[0], features, kernel_size=1, bias=False)
        ]
        convs += [Conv3x3(dim, features, bias=False) for dim in level_dims[1:]]
        self.convs = nn.ModuleList(convs)
        self.fusions = nn.ModuleList(FusionBlock(features, deconv=i != 0) for i in range(len(level_dims)))

    def forward(self, levels: list[torch.Tensor | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode; each entry of ``levels`` is set to None once used, so that it can be freed."""
        x, lowres = self.forward_coarse(levels)
        if len(self.fusions) == 1:
            return self.fusions[0](x), lowres
        x = self.fusions[1].upsample(x)
        skip = self.convs[0](levels[0])
        levels[0] = None
        return self.fusions[0](x, skip), lowres

    def forward_coarse(self, levels: list[torch.Tensor | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """All but the finest fusion: returns (fusion 1 before its ``upsample``, projected coarsest map).

        ``levels[0]`` is not read (it may be None); the other entries are set to None once used.
        For a single-level decoder the first value is the coarsest map itself.
        """
        if len(levels) != len(self.level_dims):
            raise ValueError(f"decoder expects {len(self.level_dims)} encoder levels, got {len(levels)}")
        x = self.convs[-1](levels[-1])
        levels[-1] = None
        lowres = x
        if len(levels) == 1:
            return x, lowres
        x = self.fusions[-1].fuse(x)
        for i in range(len(levels) - 2, 0, -1):
            x = self.fusions[i + 1].upsample(x)
            skip = self.convs[i](levels[i])
            levels[i] = None
            x = self.fusions[i].fuse(x, skip)
            del skip
        return x, lowres
