"""Stand-ins of ``UniDepthV1`` / ``UniDepthV2``: upstream's ``infer`` signatures and output keys.

Each records what it received in ``calls`` and returns known maps: depth(y, x) =
``depth_scale`` · (1 + x / W + 2 y / H) metres at the input size, and a predicted camera with
fx = fy = ``focal_factor`` · W, cx = W / 2, cy = H / 2 (``depth_scale`` and ``focal_factor`` are
parameters, so a loaded weight file shows in the output).
"""

import torch
import torch.nn as nn

from unidepth.layers.nystrom_attention import NystromBlock


def known_depth(height: int, width: int, scale: float) -> torch.Tensor:
    """The stand-in's depth map (1, 1, H, W)."""
    ys = torch.arange(height, dtype=torch.float32)[:, None]
    xs = torch.arange(width, dtype=torch.float32)[None, :]
    return (scale * (1.0 + xs / width + 2.0 * ys / height))[None, None]


class _StandIn(nn.Module):
    def __init__(self, backbone: str):
        super().__init__()
        self.backbone = backbone
        self.depth_scale = nn.Parameter(torch.tensor(1.0))
        self.focal_factor = nn.Parameter(torch.tensor(0.75))
        self.calls = []

    @property
    def device(self):
        return self.depth_scale.device

    def _outputs(self, rgb: torch.Tensor) -> dict:
        b, _, height, width = rgb.shape
        depth = known_depth(height, width, float(self.depth_scale)).expand(b, 1, height, width).clone()
        f = float(self.focal_factor) * width
        k = torch.tensor([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]]).expand(b, 3, 3).clone()
        ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32),
                                torch.arange(width, dtype=torch.float32), indexing="ij")
        points = torch.stack([(xs - width / 2) / f * depth[:, 0], (ys - height / 2) / f * depth[:, 0], depth[:, 0]], 1)
        return {"depth": depth, "points": points, "intrinsics": k}


class UniDepthV1(_StandIn):
    """V1: every depth layer after the first is a NystromBlock (the xformers trap)."""

    image_shape = (462, 616)

    def __init__(self, backbone: str):
        super().__init__(backbone)
        self.block = NystromBlock(dim=8, num_heads=4)

    @torch.no_grad()
    def infer(self, rgbs: torch.Tensor, intrinsics=None, skip_camera=False):
        if rgbs.ndim == 3:
            rgbs = rgbs.unsqueeze(0)
        self.calls.append({"rgbs": rgbs.clone(), "intrinsics": None if intrinsics is None else intrinsics.clone()})
        tokens = rgbs.float().mean() / 255.0 * torch.ones(rgbs.shape[0], 6, 8)
        self.last_attention = self.block(tokens)
        return self._outputs(rgbs)


class UniDepthV2(_StandIn):
    """V2: ``infer(rgb, camera=None, normalize=True)`` with more output keys, no NystromBlock."""

    @torch.no_grad()
    def infer(self, rgb: torch.Tensor, camera=None, normalize=True):
        if rgb.ndim == 3:
            rgb = rgb.unsqueeze(0)
        self.calls.append({"rgb": rgb.clone(), "camera": None if camera is None else camera.clone(),
                           "resolution_level": getattr(self, "resolution_level", None)})
        out = self._outputs(rgb)
        out["radius"] = out["points"].norm(dim=1, keepdim=True)
        out["rays"] = out["points"] / out["radius"]
        out["confidence"] = torch.ones_like(out["depth"])
        out["depth_features"] = torch.zeros(rgb.shape[0], 4, 2, 2)
        return out
