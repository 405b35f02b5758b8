"""Stand-in of the DINOv2 hub folder Depth Anything v1's metric code loads from
``../torchhub/facebookresearch_dinov2_main`` (relative to the working directory)."""

import torch


def dinov2_vitl14(pretrained=True, **kwargs):
    """A tiny stand-in encoder (upstream: DINOv2 ViT-L/14); no weights are ever downloaded."""
    assert not pretrained, "upstream's metric build asks for pretrained=False"
    return torch.nn.Linear(3, 3)
