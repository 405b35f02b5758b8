"""Depth Pro's multi-resolution encoder: image pyramid, sliding-window patches, two ViTs, projections.

State-dict prefix ``encoder.``: ``patch_encoder`` and ``image_encoder`` (ViTs), ``upsample_latent0``,
``upsample_latent1``, ``upsample0``, ``upsample1``, ``upsample2`` (1×1 projection then 2×2 stride-2
transposed convs), ``upsample_lowres`` and ``fuse_lowres``. The forward returns five feature maps,
fine to coarse: latent0 (hook 0), latent1 (hook 1), the ×1 map, the ×0.5 map, the fused global map.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dpbench.models.depthpro.config import DepthProConfig
from dpbench.models.depthpro.vit import DepthProViT


def split_windows(x: torch.Tensor, window: int, overlap: float) -> torch.Tensor:
    """Cut B×C×S×S into square windows of side ``window``, stacked window-major on the batch axis.

    stride = int(window × (1 − overlap)); steps = ceil((S − window) / stride) + 1 per side; windows
    are taken row by row (vertical offset outer, horizontal inner), so window k of image b lands
    at batch index k·B + b.
    """
    stride = int(window * (1 - overlap))
    size = x.shape[-1]
    steps = int(math.ceil((size - window) / stride)) + 1
    windows = []
    for row in range(steps):
        top = row * stride
        for col in range(steps):
            left = col * stride
            windows.append(x[..., top : top + window, left : left + window])
    return torch.cat(windows, dim=0)


def merge_windows(x: torch.Tensor, batch_size: int, padding: int) -> torch.Tensor:
    """Inverse of :func:`split_windows` on feature maps: tile a steps×steps grid of windows.

    Each window loses ``padding`` cells on every side that touches another window (never on the
    outer border of the image); rows of windows are concatenated along the width, then stacked.
    """
    steps = int(math.sqrt(x.shape[0] // batch_size))
    rows = []
    index = 0
    for row in range(steps):
        tiles = []
        for col in range(steps):
            tile = x[batch_size * index : batch_size * (index + 1)]
            if row != 0:
                tile = tile[..., padding:, :]
            if col != 0:
                tile = tile[..., :, padding:]
            if row != steps - 1:
                tile = tile[..., :-padding, :]
            if col != steps - 1:
                tile = tile[..., :, :-padding]
            tiles.append(tile)
            index += 1
        rows.append(torch.cat(tiles, dim=-1))
    return torch.cat(rows, dim=-2)


def tokens_to_map(tokens: torch.Tensor, grid: int) -> torch.Tensor:
    """B×(1+grid²)×C tokens → B×C×grid×grid map, dropping the class token (row-major grid)."""
    batch, _, channels = tokens.shape
    return tokens[:, 1:, :].reshape(batch, grid, grid, channels).permute(0, 3, 1, 2)


def project_upsample(dim_in: int, dim_out: int, upsample_layers: int, dim_mid: int | None = None) -> nn.Sequential:
    """1×1 conv (no bias) to ``dim_mid`` then ``upsample_layers`` ×2 transposed convs (no bias)."""
    dim_mid = dim_out if dim_mid is None else dim_mid
    layers: list[nn.Module] = [nn.Conv2d(dim_in, dim_mid, kernel_size=1, stride=1, padding=0, bias=False)]
    for i in range(upsample_layers):
        layers.append(
            nn.ConvTranspose2d(dim_mid if i == 0 else dim_out, dim_out, kernel_size=2, stride=2, padding=0, bias=False)
        )
    return nn.Sequential(*layers)


class DepthProEncoder(nn.Module):
    """Encodes a B×3×S×S image (S = 4 × ViT size) into five feature maps (see module docstring)."""

    def __init__(self, config: DepthProConfig, patch_encoder: DepthProViT, image_encoder: DepthProViT):
        super().__init__()
        self.config = config
        dims = config.encoder_feature_dims
        width = config.vit.embed_dim
        self.patch_encoder = patch_encoder
        self.image_encoder = image_encoder
        self.upsample_latent0 = project_upsample(width, config.decoder_features, 3, dim_mid=dims[0])
        self.upsample_latent1 = project_upsample(width, dims[0], 2)
        self.upsample0 = project_upsample(width, dims[1], 1)
        self.upsample1 = project_upsample(width, dims[2], 1)
        self.upsample2 = project_upsample(width, dims[3], 1)
        self.upsample_lowres = nn.ConvTranspose2d(width, dims[3], kernel_size=2, stride=2, padding=0, bias=True)
        self.fuse_lowres = nn.Conv2d(2 * dims[3], dims[3], kernel_size=1, stride=1, padding=0, bias=True)

    def forward(self, x: torch.Tensor, quarter: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Five encoder levels, fine to coarse; ``quarter`` may pass a precomputed ×0.25 input."""
        config = self.config
        batch = x.shape[0]
        window = config.vit.img_size
        grid = config.vit.grid_size

        full = x
        half = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        if quarter is None:
            quarter = F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)

        windows0 = split_windows(full, window, config.patch_overlaps[0])
        windows1 = split_windows(half, window, config.patch_overlaps[1])
        counts = (windows0.shape[0], windows1.shape[0], quarter.shape[0])
        stacked = torch.cat((windows0, windows1, quarter), dim=0)
        del windows0, windows1

        # One pass of the shared patch encoder over all windows; of the two hooked block
        # outputs only the full-resolution windows (the first counts[0] images) are used.
        tokens, latents = self.patch_encoder.forward_with_block_outputs(
            stacked, tuple(config.hook_block_ids), keep_first=counts[0]
        )
        del stacked
        latent0 = merge_windows(tokens_to_map(latents[0], grid), batch, config.merge_padding(0))
        latent1 = merge_windows(tokens_to_map(latents[1], grid), batch, config.merge_padding(0))
        del latents

        maps = tokens_to_map(tokens, grid)
        del tokens
        maps0, maps1, maps2 = torch.split(maps, list(counts), dim=0)
        features0 = merge_windows(maps0, batch, config.merge_padding(0))
        features1 = merge_windows(maps1, batch, config.merge_padding(1))
        features2 = maps2
        del maps, maps0, maps1

        global_features = tokens_to_map(self.image_encoder(quarter), grid)

        latent0 = self.upsample_latent0(latent0)
        latent1 = self.upsample_latent1(latent1)
        features0 = self.upsample0(features0)
        features1 = self.upsample1(features1)
        features2 = self.upsample2(features2)
        global_features = self.upsample_lowres(global_features)
        global_features = self.fuse_lowres(torch.cat((features2, global_features), dim=1))
        return [latent0, latent1, features0, features1, global_features]
