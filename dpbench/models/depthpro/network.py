"""The Depth Pro network: encoder, decoder, depth head and field-of-view head.

``DepthPro.forward`` takes a B×3×S×S image normalised to [−1, 1] (S = 1536 for the released model)
and returns ``(canonical_inverse_depth B×1×S×S, fov_deg B×1×1×1)``; the FoV is None when the
configuration has no FoV head. The module's ``state_dict()`` has exactly the released key names.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dpbench.models.depthpro.config import DepthProConfig, get_config
from dpbench.models.depthpro.decoder import MultiresDecoder
from dpbench.models.depthpro.encoder import DepthProEncoder
from dpbench.models.depthpro.fov import FOVNetwork
from dpbench.models.depthpro.vit import create_vit


class DepthPro(nn.Module):
    """Depth Pro with the released module layout (``encoder``, ``decoder``, ``head``, ``fov``)."""

    def __init__(self, config: DepthProConfig | str | None = None, *, skip_init: bool = False):
        super().__init__()
        config = get_config(config)
        self.config = config
        self.encoder = DepthProEncoder(
            config, create_vit(config.vit, skip_init=skip_init), create_vit(config.vit, skip_init=skip_init)
        )
        features = config.decoder_features
        self.decoder = MultiresDecoder([features, *config.encoder_feature_dims], features)
        self.head = nn.Sequential(
            nn.Conv2d(features, features // 2, kernel_size=3, stride=1, padding=1),
            nn.ConvTranspose2d(features // 2, features // 2, kernel_size=2, stride=2, padding=0, bias=True),
            nn.Conv2d(features // 2, config.last_dims[0], kernel_size=3, stride=1, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(config.last_dims[0], config.last_dims[1], kernel_size=1, stride=1, padding=0),
            nn.ReLU(),
        )
        if not skip_init and not self.head[4].bias.is_meta:
            with torch.no_grad():
                self.head[4].bias.zero_()
        if config.use_fov_head:
            self.fov = FOVNetwork(config, create_vit(config.vit, skip_init=skip_init))

    @property
    def image_size(self) -> int:
        """Side of the square input the network runs at (1536 for the released model)."""
        return self.config.image_size

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"Depth Pro expects a B×3×{self.image_size}×{self.image_size} input, got {tuple(x.shape)}"
            )
        # The encoder's ×0.25 pyramid level and the FoV encoder's input are the same resampling
        # of x; it is computed once.
        quarter = F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)
        levels = self.encoder(x, quarter=quarter)
        features, lowres = self.decoder(levels)
        del levels
        # The head runs layer by layer so that each full-resolution map is freed once consumed.
        canonical_inverse_depth = features
        del features
        for layer in self.head:
            canonical_inverse_depth = layer(canonical_inverse_depth)
        fov_deg = None
        if hasattr(self, "fov"):
            fov_deg = self.fov(x, lowres.detach(), quarter=quarter)
        return canonical_inverse_depth, fov_deg


def build_network(
    config: DepthProConfig | str | None = None, device: str | torch.device | None = None, *, skip_init: bool = False
) -> DepthPro:
    """Create the network directly on ``device`` (``"meta"`` allocates nothing, for key checks)."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    with device:
        return DepthPro(config, skip_init=skip_init or device.type == "meta")
