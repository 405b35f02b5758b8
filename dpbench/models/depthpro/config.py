"""Architecture description of the Depth Pro network, and named presets.

The default preset is the released model (three DINOv2 ViT-L/16 encoders at 384 px, a 1536 px
network input, hooks on blocks 5 and 11, encoder dims 256/512/1024/1024, 256 decoder features,
a field-of-view head). Smaller presets keep the same code paths and geometry rules so that tests
and benchmarks run quickly on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from dpbench.errors import UnknownNameError


@dataclass(frozen=True)
class ViTConfig:
    """A timm ``VisionTransformer`` laid out like DINOv2 (LayerScale, class token, no registers)."""

    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    patch_size: int = 16
    img_size: int = 384
    #: LayerScale initial value (the parameters ``ls1.gamma``/``ls2.gamma`` exist when not None).
    init_values: float | None = 1e-5

    @property
    def grid_size(self) -> int:
        """Tokens per side of one encoded image (24 for 384 px and 16 px patches)."""
        return self.img_size // self.patch_size


@dataclass(frozen=True)
class DepthProConfig:
    """Everything that fixes the state-dict layout and the forward geometry of Depth Pro.

    The network input is ``4 * vit.img_size`` pixels square. It is encoded as a three-level
    pyramid (×1, ×0.5, ×0.25); the first two levels are cut into ``vit.img_size`` windows that
    overlap by ``patch_overlaps[level]`` and are merged back by cropping ``merge_padding[level]``
    tokens from every inner side of each window.
    """

    vit: ViTConfig = field(default_factory=ViTConfig)
    #: Patch-encoder blocks whose outputs feed the two finest decoder levels (0-based).
    hook_block_ids: tuple[int, int] = (5, 11)
    #: Channel counts of encoder levels: latents, ×1 map, ×0.5 map, global (×0.25) map.
    encoder_feature_dims: tuple[int, int, int, int] = (256, 512, 1024, 1024)
    decoder_features: int = 256
    #: Channels of the last two head convolutions (before the output ReLU).
    last_dims: tuple[int, int] = (32, 1)
    use_fov_head: bool = True
    #: Window overlap ratio at the ×1 and ×0.5 pyramid levels.
    patch_overlaps: tuple[float, float] = (0.25, 0.5)

    def __post_init__(self) -> None:
        self.validate()

    # -- derived geometry -------------------------------------------------------------------
    @property
    def image_size(self) -> int:
        """Side of the (square) network input in pixels: 1536 for the released model."""
        return 4 * self.vit.img_size

    def window_stride(self, level: int) -> int:
        """Stride in pixels of the sliding window at pyramid level 0 (×1) or 1 (×0.5)."""
        return int(self.vit.img_size * (1 - self.patch_overlaps[level]))

    def window_steps(self, level: int) -> int:
        """Windows per side at pyramid level ``level`` (5 and 3 for the released model)."""
        size = self.image_size // (2**level)
        return int(math.ceil((size - self.vit.img_size) / self.window_stride(level))) + 1

    def merge_padding(self, level: int) -> int:
        """Tokens cropped from each inner side of a window when merging (3 and 6 when released)."""
        overlap_tokens = (self.vit.img_size - self.window_stride(level)) // self.vit.patch_size
        return overlap_tokens // 2

    @property
    def fov_kernel_size(self) -> int:
        """Kernel of the last FoV-head conv: the map size left after three stride-2 convs (6)."""
        size = 2 * self.vit.grid_size
        for _ in range(3):
            size = (size - 1) // 2 + 1
        return size

    def validate(self) -> None:
        """Raise ValueError unless the windows tile each pyramid level into the expected size."""
        vit = self.vit
        if vit.patch_size != 16:
            # The decoder and head upsample the merged token map ×16 in all; with any other
            # token size the output would not come back to the input resolution.
            raise ValueError(f"vit.patch_size must be 16 (the decoder's total upsampling), got {vit.patch_size}")
        if vit.img_size % vit.patch_size:
            raise ValueError(f"vit.img_size {vit.img_size} is not a multiple of patch_size {vit.patch_size}")
        if vit.embed_dim % vit.num_heads:
            raise ValueError(f"vit.embed_dim {vit.embed_dim} is not divisible by num_heads {vit.num_heads}")
        if not all(0 <= i < vit.depth for i in self.hook_block_ids):
            raise ValueError(f"hook_block_ids {self.hook_block_ids} must lie in [0, {vit.depth})")
        if self.decoder_features % 8:
            raise ValueError(f"decoder_features {self.decoder_features} must be a multiple of 8")
        for level, expected in ((0, 4), (1, 2)):
            stride = self.window_stride(level)
            steps = self.window_steps(level)
            size = self.image_size // (2**level)
            if stride <= 0 or (size - vit.img_size) % stride:
                raise ValueError(
                    f"pyramid level {level}: windows of {vit.img_size} px with stride {stride} "
                    f"do not tile {size} px exactly"
                )
            if (vit.img_size - stride) % (2 * vit.patch_size):
                raise ValueError(
                    f"pyramid level {level}: the window overlap ({vit.img_size - stride} px) must be "
                    f"an even number of {vit.patch_size}-px tokens"
                )
            merged = steps * vit.grid_size - 2 * self.merge_padding(level) * (steps - 1)
            if merged != expected * vit.grid_size:
                raise ValueError(
                    f"pyramid level {level}: merging {steps}x{steps} windows gives {merged} tokens, "
                    f"expected {expected * vit.grid_size}"
                )

    def with_(self, **changes) -> DepthProConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


#: The released architecture (``depth_pro.pt``).
DEFAULT = DepthProConfig()

#: A sub-megabyte network with the same structure: 512 px input, 128 px windows of 8×8 tokens.
TINY = DepthProConfig(
    vit=ViTConfig(embed_dim=64, depth=4, num_heads=4, img_size=128),
    hook_block_ids=(1, 2),
    encoder_feature_dims=(16, 24, 32, 32),
    decoder_features=16,
)

#: Full geometry and widths (1536 px input, ViT-L) with 4 blocks per ViT instead of 24: the
#: CPU benchmark's stand-in for the full model (its decoder and head are the released ones).
REDUCED_DEPTH = DepthProConfig(
    vit=ViTConfig(depth=4),
    hook_block_ids=(1, 2),
)

PRESETS: dict[str, DepthProConfig] = {
    "default": DEFAULT,
    "tiny": TINY,
    "reduced-depth": REDUCED_DEPTH,
}


def get_config(config: str | DepthProConfig | None = None) -> DepthProConfig:
    """A config object from a preset name, a config, or None (the released model)."""
    if config is None:
        return DEFAULT
    if isinstance(config, DepthProConfig):
        return config
    if isinstance(config, str):
        if config not in PRESETS:
            raise UnknownNameError("Depth Pro config preset", config, PRESETS)
        return PRESETS[config]
    raise TypeError(f"config must be a preset name or a DepthProConfig, got {type(config).__name__}")
