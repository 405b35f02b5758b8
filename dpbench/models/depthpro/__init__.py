"""Depth Pro, implemented natively on torch + timm, and its registry entry ``depthpro``.

Modules: ``config`` (architecture and presets), ``vit`` (timm backbones), ``encoder``,
``decoder``, ``fov``, ``network`` (the ``nn.Module`` with the released state-dict layout),
``inference`` (the released ``infer`` recipe), ``graphs`` (CUDA-graph capture and replay), ``weights`` (look-up, download, safe loading),
``hf_keys`` (the Hugging Face key mapping), ``model`` (the ``DepthModel`` wrapper). Importing this
package does not import torch; the factory does.
"""

from __future__ import annotations

from dpbench.models import register_model
from dpbench.models.depthpro.weights import weight_locations


@register_model(
    "depthpro",
    output_kind="metric_depth",
    description="Depth Pro (Apple, 2024), native implementation of the released checkpoint",
    requires=("torch", "timm"),
    weights=weight_locations,
)
def _load_depthpro(arg=None, checkpoint=None, device="auto", precision="fp32", **options):
    """Registry factory; options: config, compile, cuda_graphs, channels_last, batch_size, pretrained, download."""
    from dpbench.models.depthpro.model import create_depthpro

    return create_depthpro(checkpoint, device, precision, **options)
