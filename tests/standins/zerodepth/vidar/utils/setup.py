"""Stand-in of ``vidar.utils.setup.setup_network``: a tiny network with ZeroDepthNet's call.

``net(rgb, intrinsics)`` takes rgb (B,3,H,W) in [0, 1] and K (B,3,3) and returns (B,1,H,W) depth
in metres, here the known map ``scale · fx/100 · (1 + red)`` clipped to upstream's [0.1, 200].
It keeps the last inputs (``received``) and raises torch's out-of-memory error when the image has
more than ``max_pixels`` pixels (0: no limit), as ZeroDepth's per-pixel decoder does on large
images.
"""

import torch


class StandInZeroDepthNet(torch.nn.Module):
    """ZeroDepthNet's interface with a hand-checkable output; ``scale`` is its one weight."""

    def __init__(self, max_pixels=0):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.max_pixels = int(max_pixels)
        self.received = []

    def forward(self, rgb, intrinsics):
        self.received.append((rgb.detach().clone(), intrinsics.detach().clone()))
        height, width = rgb.shape[-2:]
        if self.max_pixels and height * width > self.max_pixels:
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {height * width} pixels")
        fx = intrinsics[:, 0, 0].view(-1, 1, 1, 1)
        depth = self.scale * fx / 100.0 * (1.0 + rgb[:, :1])
        return depth.clamp(0.1, 200.0)


def setup_network(cfg):
    """The stand-in network of a ``networks.perceiver`` config section."""
    return StandInZeroDepthNet(max_pixels=getattr(cfg, "max_pixels", 0))
