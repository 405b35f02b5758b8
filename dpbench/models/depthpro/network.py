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
from dpbench.models.depthpro.conv import Conv3x3, ConvTranspose2x2
from dpbench.models.depthpro.decoder import MultiresDecoder
from dpbench.models.depthpro.encoder import DepthProEncoder
from dpbench.models.depthpro.fov import FOVNetwork
from dpbench.models.depthpro.vit import create_vit

#: Rows (at the finest decoder level) a band edge's zero padding reaches inwards: fusion 0's
#: four 3×3 convs, the head's 3×3 conv, and its 3×3 conv at twice the resolution (half a row).
_FINEST_HALO_ROWS = 6
#: Default number of bands of :meth:`DepthPro._decode_finest`.
DEFAULT_FINE_BANDS = 4


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
            Conv3x3(features, features // 2),
            ConvTranspose2x2(features // 2, features // 2, bias=True),
            Conv3x3(features // 2, config.last_dims[0]),
            nn.ReLU(inplace=True),
            nn.Conv2d(config.last_dims[0], config.last_dims[1], kernel_size=1, stride=1, padding=0),
            nn.ReLU(),
        )
        if not skip_init and not self.head[4].bias.is_meta:
            with torch.no_grad():
                self.head[4].bias.zero_()
        #: Horizontal bands for the finest decoder level and the head (1: the whole map at once).
        #: More bands, less memory; each band recomputes 2 × 8 halo rows of 768 (about 2 %).
        self.fine_bands = DEFAULT_FINE_BANDS
        if config.use_fov_head:
            self.fov = FOVNetwork(config, create_vit(config.vit, skip_init=skip_init))

    @property
    def image_size(self) -> int:
        """Side of the square input the network runs at (1536 for the released model)."""
        return self.config.image_size

    def _decode_finest(self, latent0: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """The finest decoder level and the head, in ``fine_bands`` horizontal bands.

        The finest level (256 channels at 768² for the released model) and the head's maps (up to
        128 channels at 1536²) dominate the forward's memory. Each band is computed from the
        matching rows of ``latent0`` (through ``encoder.upsample_latent0``) and of ``coarse``
        (fusion 1 before its deconv) plus ``halo`` rows on each inner side: the 3×3 convs that
        follow (two per residual unit of fusion 0, the head's first conv, and the head's second
        conv at twice the resolution) let the wrong zero padding at a band edge reach 2 + 2 + 1 + 1
        rows inwards, fewer than the halo, which is dropped. Every kept output pixel is thus
        computed from the same inputs with the same operations as without bands.
        """
        decoder, fusion0 = self.decoder, self.decoder.fusions[0]
        rows = 2 * coarse.shape[-2]
        factor = rows // latent0.shape[-2]  # upsample_latent0's ×8
        halo = -(-_FINEST_HALO_ROWS // factor) * factor
        bands = max(1, int(self.fine_bands or 1))
        band = max(factor, -(-rows // (bands * factor)) * factor)
        output = None
        for top in range(0, rows, band):
            bottom = min(rows, top + band)
            start, stop = max(0, top - halo), min(rows, bottom + halo)
            skip = decoder.convs[0](self.encoder.upsample_latent0(latent0[:, :, start // factor : stop // factor]))
            x = decoder.fusions[1].upsample(coarse[:, :, start // 2 : stop // 2])
            x = fusion0.upsample(fusion0.fuse(x, skip))
            del skip
            # The head runs layer by layer so that each map is freed once consumed.
            for layer in self.head:
                x = layer(x)
            scale = x.shape[-2] // (stop - start)
            x = x[:, :, scale * (top - start) : scale * (bottom - start)]
            if output is None:
                output = x.new_empty((x.shape[0], x.shape[1], scale * rows, x.shape[-1]))
            output[:, :, scale * top : scale * bottom] = x
            del x
        return output

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"Depth Pro expects a B×3×{self.image_size}×{self.image_size} input, got {tuple(x.shape)}"
            )
        # The encoder's ×0.25 pyramid level and the FoV encoder's input are the same resampling
        # of x; it is computed once.
        quarter = F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)
        latent0, levels = self.encoder.forward_deferred(x, quarter=quarter)
        coarse, lowres = self.decoder.forward_coarse([None, *levels])
        del levels
        canonical_inverse_depth = self._decode_finest(latent0, coarse)
        del latent0, coarse
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
