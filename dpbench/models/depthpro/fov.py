"""Depth Pro's field-of-view head: a third ViT on the ×0.25 image plus the coarsest decoder map.

State-dict prefix ``fov.``: ``encoder`` = Sequential(ViT, Linear(embed → F/2)); ``downsample`` =
Sequential(conv3×3 s2 F → F/2, ReLU) on the detached low-resolution decoder map; ``head`` =
Sequential(conv3×3 s2 F/2 → F/4, ReLU, conv3×3 s2 F/4 → F/8, ReLU, conv k×k F/8 → 1), F being the
decoder width (256) and k the map size left (6). The output is the horizontal FoV in degrees.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dpbench.models.depthpro.config import DepthProConfig
from dpbench.models.depthpro.vit import DepthProViT


class FOVNetwork(nn.Module):
    """Predicts B×1×1×1 field of view (degrees) from the input image and the low-res features."""

    def __init__(self, config: DepthProConfig, fov_encoder: DepthProViT):
        super().__init__()
        features = config.decoder_features
        self.grid = config.vit.grid_size
        self.encoder = nn.Sequential(fov_encoder, nn.Linear(config.vit.embed_dim, features // 2))
        self.downsample = nn.Sequential(
            nn.Conv2d(features, features // 2, kernel_size=3, stride=2, padding=1),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(
            nn.Conv2d(features // 2, features // 4, kernel_size=3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(features // 4, features // 8, kernel_size=3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(features // 8, 1, kernel_size=config.fov_kernel_size, stride=1, padding=0),
        )

    def forward(
        self, x: torch.Tensor, lowres_features: torch.Tensor, quarter: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x`` is the network input; ``quarter`` may pass its bilinear ×0.25 copy if already made."""
        if quarter is None:
            quarter = F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)
        tokens = self.encoder(quarter)[:, 1:].permute(0, 2, 1)
        lowres = self.downsample(lowres_features)
        fused = tokens.reshape_as(lowres) + lowres
        return self.head(fused)
