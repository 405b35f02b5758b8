"""Key mapping from the Hugging Face conversion (``apple/DepthPro-hf``) to the released layout.

transformers' ``DepthProForDepthEstimation`` stores the same tensors under other names: DINOv2
encoders with separate query/key/value projections, the encoder levels numbered coarse to fine,
and the fusion blocks numbered the other way round. :func:`hf_to_native` renames every tensor,
concatenates q/k/v into timm's fused ``qkv`` (rows q, then k, then v) and drops the unused DINOv2
``mask_token``. Both the current transformers names (``attention.q_proj``, ``attention.o_proj``)
and the older ones the Hub files were written with (``attention.attention.query``,
``attention.output.dense``) are accepted. Anything else is refused, naming the keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import torch

from dpbench.errors import CheckpointError

#: Number of encoder levels / fusion blocks in the architecture (fixed by the released layout).
_LEVELS = 5

# ViT parameter names inside one backbone: HF suffix → timm suffix ('{n}' = block index).
_VIT_RULES: list[tuple[str, str]] = [
    (r"embeddings\.cls_token", "cls_token"),
    (r"embeddings\.position_embeddings", "pos_embed"),
    (r"embeddings\.patch_embeddings\.projection\.(?P<p>weight|bias)", "patch_embed.proj.{p}"),
    (r"encoder\.layer\.(?P<n>\d+)\.norm(?P<i>[12])\.(?P<p>weight|bias)", "blocks.{n}.norm{i}.{p}"),
    (r"encoder\.layer\.(?P<n>\d+)\.attention\.o_proj\.(?P<p>weight|bias)", "blocks.{n}.attn.proj.{p}"),
    (r"encoder\.layer\.(?P<n>\d+)\.attention\.output\.dense\.(?P<p>weight|bias)", "blocks.{n}.attn.proj.{p}"),
    (r"encoder\.layer\.(?P<n>\d+)\.layer_scale(?P<i>[12])\.lambda1", "blocks.{n}.ls{i}.gamma"),
    (r"encoder\.layer\.(?P<n>\d+)\.mlp\.fc(?P<i>[12])\.(?P<p>weight|bias)", "blocks.{n}.mlp.fc{i}.{p}"),
    (r"layernorm\.(?P<p>weight|bias)", "norm.{p}"),
]
# q/k/v projections, current and legacy spellings: they are gathered and fused afterwards.
_QKV = re.compile(
    r"encoder\.layer\.(?P<n>\d+)\.attention\.(?:(?P<new>[qkv])_proj|attention\.(?P<old>query|key|value))"
    r"\.(?P<p>weight|bias)"
)
_VIT_PREFIXES: list[tuple[str, str]] = [
    ("depth_pro.encoder.patch_encoder.model.", "encoder.patch_encoder."),
    ("depth_pro.encoder.image_encoder.model.", "encoder.image_encoder."),
    ("fov_model.fov_encoder.model.", "fov.encoder.0."),
]


def _fusion(level: str) -> int:
    return _LEVELS - 1 - int(level)


# Everything outside the ViTs: HF pattern → function of the match giving the native key.
_RULES: list[tuple[str, Callable[[re.Match], str]]] = [
    (r"depth_pro\.neck\.fuse_image_with_low_res\.(?P<p>weight|bias)", lambda m: f"encoder.fuse_lowres.{m['p']}"),
    (r"depth_pro\.neck\.feature_upsample\.image_block\.layers\.0\.(?P<p>weight|bias)",
     lambda m: f"encoder.upsample_lowres.{m['p']}"),
    # intermediate.0 is the later hook (latent1), intermediate.1 the earlier one (latent0).
    (r"depth_pro\.neck\.feature_upsample\.intermediate\.(?P<j>[01])\.layers\.(?P<l>\d+)\.(?P<p>weight|bias)",
     lambda m: f"encoder.upsample_latent{1 - int(m['j'])}.{m['l']}.{m['p']}"),
    # scaled_images are ordered ×0.25, ×0.5, ×1; upsample0 is the ×1 level.
    (r"depth_pro\.neck\.feature_upsample\.scaled_images\.(?P<j>[012])\.layers\.(?P<l>\d+)\.(?P<p>weight|bias)",
     lambda m: f"encoder.upsample{2 - int(m['j'])}.{m['l']}.{m['p']}"),
    (r"depth_pro\.neck\.feature_projection\.projections\.(?P<j>\d)\.weight",
     lambda m: f"decoder.convs.{_fusion(m['j'])}.weight"),
    (r"fusion_stage\.intermediate\.(?P<j>\d)\.residual_layer(?P<r>[12])\.convolution(?P<c>[12])\.(?P<p>weight|bias)",
     lambda m: f"decoder.fusions.{_fusion(m['j'])}.resnet{m['r']}.residual.{2 * int(m['c']) - 1}.{m['p']}"),
    (r"fusion_stage\.intermediate\.(?P<j>\d)\.deconv\.(?P<p>weight|bias)",
     lambda m: f"decoder.fusions.{_fusion(m['j'])}.deconv.{m['p']}"),
    (r"fusion_stage\.intermediate\.(?P<j>\d)\.projection\.(?P<p>weight|bias)",
     lambda m: f"decoder.fusions.{_fusion(m['j'])}.out_conv.{m['p']}"),
    (r"fusion_stage\.final\.residual_layer(?P<r>[12])\.convolution(?P<c>[12])\.(?P<p>weight|bias)",
     lambda m: f"decoder.fusions.0.resnet{m['r']}.residual.{2 * int(m['c']) - 1}.{m['p']}"),
    (r"fusion_stage\.final\.projection\.(?P<p>weight|bias)", lambda m: f"decoder.fusions.0.out_conv.{m['p']}"),
    (r"head\.layers\.(?P<i>\d+)\.(?P<p>weight|bias)", lambda m: f"head.{m['i']}.{m['p']}"),
    (r"fov_model\.fov_encoder\.neck\.(?P<p>weight|bias)", lambda m: f"fov.encoder.1.{m['p']}"),
    (r"fov_model\.conv\.(?P<p>weight|bias)", lambda m: f"fov.downsample.0.{m['p']}"),
    (r"fov_model\.head\.layers\.(?P<i>\d+)\.(?P<p>weight|bias)", lambda m: f"fov.head.{m['i']}.{m['p']}"),
]
_COMPILED = [(re.compile(pattern), build) for pattern, build in _RULES]
_VIT_COMPILED = [(re.compile(pattern), target) for pattern, target in _VIT_RULES]
_HF_MARKERS = ("depth_pro.", "fusion_stage.", "fov_model.")
_QKV_ORDER = {"q": 0, "k": 1, "v": 2, "query": 0, "key": 1, "value": 2}


def is_hf_layout(keys) -> bool:
    """True when the keys look like transformers' DepthProForDepthEstimation names."""
    return any(key.startswith(_HF_MARKERS) for key in keys)


def hf_key_to_native(key: str) -> str | None:
    """The native name of one HF key; None for q/k/v parts and ignored keys; KeyError if unknown."""
    for hf_prefix, native_prefix in _VIT_PREFIXES:
        if key.startswith(hf_prefix):
            rest = key[len(hf_prefix):]
            if rest == "embeddings.mask_token" or _QKV.fullmatch(rest):
                return None
            for pattern, target in _VIT_COMPILED:
                match = pattern.fullmatch(rest)
                if match:
                    return native_prefix + target.format(**match.groupdict())
            raise KeyError(key)
    for pattern, build in _COMPILED:
        match = pattern.fullmatch(key)
        if match:
            return build(match)
    raise KeyError(key)


def native_to_hf(state: Mapping[str, torch.Tensor], hf_keys) -> dict[str, torch.Tensor]:
    """The tensors of a native state dict under the HF names ``hf_keys`` (a model's key list).

    Each HF key is mapped back with the same rules as :func:`hf_to_native` (q/k/v take their
    third of the fused ``qkv``), so a round trip through both functions is the identity.
    """
    converted: dict[str, torch.Tensor] = {}
    for key in hf_keys:
        target = hf_key_to_native(key)
        if target is not None:
            converted[key] = state[target]
            continue
        for hf_prefix, native_prefix in _VIT_PREFIXES:
            match = _QKV.fullmatch(key[len(hf_prefix):]) if key.startswith(hf_prefix) else None
            if match:
                fused = state[f"{native_prefix}blocks.{match['n']}.attn.qkv.{match['p']}"]
                converted[key] = fused.chunk(3, dim=0)[_QKV_ORDER[match["new"] or match["old"]]]
                break
    return converted


def hf_to_native(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a transformers DepthPro state dict to the released key names (see module doc)."""
    native: dict[str, torch.Tensor] = {}
    qkv_parts: dict[str, list[torch.Tensor | None]] = {}
    unknown: list[str] = []
    for key, tensor in state.items():
        try:
            target = hf_key_to_native(key)
        except KeyError:
            unknown.append(key)
            continue
        if target is not None:
            native[target] = tensor
            continue
        for hf_prefix, native_prefix in _VIT_PREFIXES:
            if key.startswith(hf_prefix):
                match = _QKV.fullmatch(key[len(hf_prefix):])
                if match:
                    fused = f"{native_prefix}blocks.{match['n']}.attn.qkv.{match['p']}"
                    slot = _QKV_ORDER[match["new"] or match["old"]]
                    qkv_parts.setdefault(fused, [None, None, None])[slot] = tensor
                break
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" ... ({len(unknown)} in all)" if len(unknown) > 10 else "")
        raise CheckpointError(f"Hugging Face DepthPro checkpoint has keys with no native equivalent: {shown}")
    for fused, parts in qkv_parts.items():
        if any(part is None for part in parts):
            missing = [name for name, part in zip("qkv", parts, strict=True) if part is None]
            raise CheckpointError(f"Hugging Face DepthPro checkpoint lacks the {'/'.join(missing)} part of {fused}")
        native[fused] = torch.cat(parts, dim=0)
    return native
