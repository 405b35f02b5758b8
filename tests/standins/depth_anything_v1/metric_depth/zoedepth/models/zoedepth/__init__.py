"""Stand-in of upstream's ZoeDepth on Depth Anything (``zoedepth/models/zoedepth/zoedepth_v1.py`` and
``base_models/depth_anything.py``), with upstream's traps:

- ``build`` reads ``./checkpoints/depth_anything_vitl14.pth`` and ``torch.hub.load``s the encoder
  from ``../torchhub/facebookresearch_dinov2_main``, both relative to the working directory, then
  loads ``pretrained_resource`` ("local::<path>", a dict with "model") with a strict key check;
- ``max_depth`` comes from the config (the dataset's), 10 when the config has none;
- inside ``forward`` the core resizes to ``img_size`` (bilinear, align_corners) — exactly 392×518
  unless ``force_keep_ar`` (then the aspect ratio is kept, sides multiples of 14) — and applies
  ImageNet normalisation.

``forward(x, **kwargs)`` returns ``{"metric_depth": (B,1,h,w)}`` at the network's size with
depth = max_depth · sigmoid(1×1 conv of the normalised image), and records every input (``calls``)
and output (``outputs``).
"""

import torch
import torch.nn.functional as F

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def network_size(height, width, img_size, keep_aspect_ratio):
    """The core's resize target (upstream Resize, method "minimal", multiple of 14)."""
    net_h, net_w = img_size
    scale_h, scale_w = net_h / height, net_w / width
    if keep_aspect_ratio:
        scale_h = scale_w = scale_w if abs(1 - scale_w) < abs(1 - scale_h) else scale_h
    return int(round(scale_h * height / 14) * 14), int(round(scale_w * width / 14) * 14)


class Core(torch.nn.Module):
    """The relative-depth core: the hub encoder plus a head layer."""

    def __init__(self, img_size, keep_aspect_ratio):
        super().__init__()
        self.pretrained = torch.hub.load("../torchhub/facebookresearch_dinov2_main", "dinov2_vitl14",
                                         source="local", pretrained=False)
        self.head = torch.nn.Conv2d(3, 1, 1)
        self.img_size, self.keep_aspect_ratio = img_size, keep_aspect_ratio


class ZoeDepth(torch.nn.Module):
    def __init__(self, core, max_depth=10, min_depth=1e-3, **kwargs):
        super().__init__()
        self.core = core
        self.max_depth, self.min_depth = max_depth, min_depth
        self.conv2 = torch.nn.Conv2d(3, 1, 1)
        self.calls, self.outputs, self.kwargs = [], [], []

    def forward(self, x, **kwargs):
        self.calls.append(x.clone())
        self.kwargs.append(kwargs)
        size = network_size(*x.shape[-2:], self.core.img_size, self.core.keep_aspect_ratio)
        prepared = (F.interpolate(x, size, mode="bilinear", align_corners=True) - MEAN) / STD
        out = self.max_depth * torch.sigmoid(self.conv2(prepared))
        self.outputs.append(out.clone())
        return {"metric_depth": out}

    @staticmethod
    def build(pretrained_resource=None, force_keep_ar=False, img_size=(384, 384), **kwargs):
        core = Core(img_size, force_keep_ar)
        core.load_state_dict(torch.load("./checkpoints/depth_anything_vitl14.pth", map_location="cpu"))
        model = ZoeDepth(core, **kwargs)
        if pretrained_resource:
            path = pretrained_resource.split("local::")[1]
            state = torch.load(path, map_location="cpu")
            model.load_state_dict(state.get("model", state))
            print("Loaded successfully")
        return model

    @staticmethod
    def build_from_config(config):
        return ZoeDepth.build(**config)


all_versions = {"v1": ZoeDepth}


def get_version(name):
    return all_versions[name]
