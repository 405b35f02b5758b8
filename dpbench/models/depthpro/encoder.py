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
from dpbench.models.depthpro.conv import ConvTranspose2x2
from dpbench.models.depthpro.vit import DepthProViT

#: Default windows per patch-encoder pass (see ``DepthProEncoder.patch_chunk``).
DEFAULT_PATCH_CHUNK = 8


def split_windows(x: torch.Tensor, window: int, overlap: float) -> torch.Tensor:
    """Cut B×C×S×S into square windows of side ``window``, stacked window-major on the batch axis.

    stride = int(window × (1 − overlap)); steps = ceil((S − window) / stride) + 1 per side; windows
    are taken row by row (vertical offset outer, horizontal inner), so window k of image b lands
    at batch index k·B + b.
    """
    return torch.cat(_window_views(x, window, overlap), dim=0)


def _window_views(x: torch.Tensor, window: int, overlap: float) -> list[torch.Tensor]:
    """The windows of :func:`split_windows` as a list of views (row by row), nothing copied."""
    stride = int(window * (1 - overlap))
    steps = int(math.ceil((x.shape[-1] - window) / stride)) + 1
    return [
        x[..., row * stride : row * stride + window, col * stride : col * stride + window]
        for row in range(steps)
        for col in range(steps)
    ]


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
        layers.append(ConvTranspose2x2(dim_mid if i == 0 else dim_out, dim_out, bias=False))
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
        self.upsample_lowres = ConvTranspose2x2(width, dims[3], bias=True)
        self.fuse_lowres = nn.Conv2d(2 * dims[3], dims[3], kernel_size=1, stride=1, padding=0, bias=True)
        #: Windows per patch-encoder pass (None: all at once). Peak memory of the ViT activations
        #: scales with it; 8 keeps matrix products large enough to run at full speed on a CPU.
        self.patch_chunk: int | None = DEFAULT_PATCH_CHUNK

    def forward(self, x: torch.Tensor, quarter: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Five encoder levels, fine to coarse; ``quarter`` may pass a precomputed ×0.25 input."""
        latent0, levels = self.forward_deferred(x, quarter)
        return [self.upsample_latent0(latent0), *levels]

    def forward_deferred(
        self, x: torch.Tensor, quarter: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Like :meth:`forward`, but level 0 is returned before ``upsample_latent0``.

        Returns ``(latent0, [latent1, ×1, ×0.5, global])`` where ``latent0`` is the merged hook-0
        map (B × width × 4g × 4g, g the token grid). ``upsample_latent0`` is a 1×1 conv followed
        by 2×2 stride-2 transposed convs, so every row band of its output depends only on the
        matching band of ``latent0`` (8 output rows per input row): the network applies it band
        by band and never holds the full-resolution level 0 (256 × 768² floats when released).
        """
        config = self.config
        batch = x.shape[0]
        grid = config.vit.grid_size

        if quarter is None:
            quarter = F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)
        tokens, latents = self._encode_windows(x, quarter)
        latent0 = merge_windows(tokens_to_map(latents[0], grid), batch, config.merge_padding(0))
        latent1 = merge_windows(tokens_to_map(latents[1], grid), batch, config.merge_padding(0))
        del latents
        latent1 = self.upsample_latent1(latent1)

        counts = (batch * config.window_steps(0) ** 2, batch * config.window_steps(1) ** 2, batch)
        maps0, maps1, maps2 = torch.split(tokens_to_map(tokens, grid), list(counts), dim=0)
        del tokens
        features0 = self.upsample0(merge_windows(maps0, batch, config.merge_padding(0)))
        features1 = self.upsample1(merge_windows(maps1, batch, config.merge_padding(1)))
        features2 = self.upsample2(maps2)
        del maps0, maps1, maps2

        global_features = self.upsample_lowres(tokens_to_map(self.image_encoder(quarter), grid))
        global_features = self.fuse_lowres(torch.cat((features2, global_features), dim=1))
        return latent0, [latent1, features0, features1, global_features]

    def _encode_windows(self, x: torch.Tensor, quarter: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The shared patch encoder over all windows of the pyramid, ``patch_chunk`` windows at a time.

        Returns the final tokens of every window (×1 windows, then ×0.5 windows, then the ×0.25
        image; window k of image b at index k·B + b, as :func:`split_windows` stacks them) and the
        two hooked block outputs of the ×1 windows only (the others are never used). Each window
        is encoded independently, so chunking changes only peak memory (the ViT's activations
        scale with the chunk), not the values beyond float round-off of the matrix products.
        """
        config = self.config
        window = config.vit.img_size
        hooks = tuple(config.hook_block_ids)
        half = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        # Views only: a chunk's windows are copied into one batch just before it is encoded.
        sources = [*_window_views(x, window, config.patch_overlaps[0])]
        highres = len(sources) * x.shape[0]
        sources += _window_views(half, window, config.patch_overlaps[1])
        sources.append(quarter)
        images = [(source, b) for source in sources for b in range(x.shape[0])]
        chunk = self.patch_chunk if self.patch_chunk else len(images)
        tokens: list[torch.Tensor] = []
        latents: list[list[torch.Tensor]] = [[] for _ in hooks]
        for start in range(0, len(images), chunk):
            part = images[start : start + chunk]
            batch = torch.cat([source[b : b + 1] for source, b in part], dim=0)
            keep = max(0, min(len(part), highres - start))
            out, kept = self.patch_encoder.forward_with_block_outputs(batch, hooks, keep_first=keep)
            del batch
            tokens.append(out)
            for store, value in zip(latents, kept, strict=True):
                if keep:
                    store.append(value.clone() if keep < len(part) else value)
            del out, kept
        result = tokens[0] if len(tokens) == 1 else torch.cat(tokens, dim=0)
        del tokens
        return result, [store[0] if len(store) == 1 else torch.cat(store, dim=0) for store in latents]
