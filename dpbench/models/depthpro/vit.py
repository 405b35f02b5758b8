"""The ViT backbone of Depth Pro: a timm ``VisionTransformer`` configured like DINOv2-L/16 at 384 px.

The released model builds timm's ``vit_large_patch14_dinov2`` with ``dynamic_img_size=True`` and
then re-shapes it to 16-px patches and a 384-px input. Building the ``VisionTransformer`` directly
with those sizes gives the same modules, parameter names and forward operations. The backbone's
``forward`` returns the normalised token sequence (class token first), not a pooled vector.
"""

from __future__ import annotations

import torch
from timm.models.vision_transformer import VisionTransformer

from dpbench.models.depthpro.config import ViTConfig


class DepthProViT(VisionTransformer):
    """A timm ViT whose forward returns all tokens after the final norm (B × (1+N) × C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)

    def forward_with_block_outputs(
        self, x: torch.Tensor, block_ids: tuple[int, ...], keep_first: int | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Like ``forward``, also returning the raw outputs of blocks ``block_ids`` (before ``norm``).

        The same operations as ``forward_features`` run in the same order; the chosen block
        outputs are returned as they are (or their first ``keep_first`` images, as views).
        """
        x = self.patch_embed(x)
        x = self._pos_embed(x)
        x = self.patch_drop(x)
        x = self.norm_pre(x)
        kept: dict[int, torch.Tensor] = {}
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in block_ids:
                kept[index] = x if keep_first is None else x[:keep_first]
        x = self.norm(x)
        return x, [kept[i] for i in block_ids]


def create_vit(config: ViTConfig, *, skip_init: bool = False) -> DepthProViT:
    """Build one backbone; ``skip_init`` leaves parameters uninitialised (they will be loaded)."""
    return DepthProViT(
        img_size=config.img_size,
        patch_size=config.patch_size,
        embed_dim=config.embed_dim,
        depth=config.depth,
        num_heads=config.num_heads,
        mlp_ratio=config.mlp_ratio,
        qkv_bias=True,
        init_values=config.init_values,
        num_classes=0,
        global_pool="token",
        dynamic_img_size=True,
        weight_init="skip" if skip_init else "",
    )
