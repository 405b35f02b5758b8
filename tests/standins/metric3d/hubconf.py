"""Test stand-in of Metric3D's torch.hub repository (github.com/YvanYin/Metric3D ``hubconf.py``).

Same entry names, the same ``pretrain`` keyword (a misspelt ``pretrained`` is swallowed by
``**kwargs`` as upstream's is), the same weight loading (``torch.hub.load_state_dict_from_url``
of the JUGGHM/Metric3D file, ``['model_state_dict']``, ``strict=False``) and the same call
``model.inference({'input': x}) -> (pred_depth, confidence, output_dict)``. The networks are tiny
and return known maps; they reproduce upstream's CPU traps (depth bins and the hourglass mesh
grid created on "cuda") and the ViT size pitfall (a crop that is not a multiple of 14 comes back
larger). Every input tensor is kept in ``model.received``; with ``$METRIC3D_STANDIN_LOG`` set its
shape is also appended to that file (for runs in which the test cannot reach the model object).
"""

import math
import os

import torch
from torch import nn

dependencies = ["torch"]
URL = "https://huggingface.co/JUGGHM/Metric3D/resolve/main/{}"


class HourglassDecoder(nn.Module):
    """ConvNeXt head: canonical depth = scale · (1 + column index), at the input size."""

    def __init__(self):
        super().__init__()
        self.min_val, self.max_val = 0.3, 150
        self.num_depth_regressor_anchor = 512
        self.scale = nn.Parameter(torch.ones(()))

    def get_bins(self, bins_num):
        return torch.exp(torch.linspace(math.log(self.min_val), math.log(self.max_val), bins_num, device="cuda"))

    def register_depth_expectation_anchor(self, bins_num, B):
        self.register_buffer("depth_expectation_anchor", self.get_bins(bins_num).unsqueeze(0).repeat(B, 1),
                             persistent=False)

    def create_mesh_grid(self, height, width, batch, device="cuda", set_buffer=True):
        y, x = torch.meshgrid([torch.arange(0, height, dtype=torch.float32, device=device),
                               torch.arange(0, width, dtype=torch.float32, device=device)], indexing="ij")
        return torch.stack((x, y)).unsqueeze(0).repeat(batch, 1, 1, 1)

    def _unit(self, B):
        if "depth_expectation_anchor" not in self._buffers:
            self.register_depth_expectation_anchor(self.num_depth_regressor_anchor, B)
        anchor = self.depth_expectation_anchor[:B]
        return (anchor.sum(dim=1) / anchor.sum(dim=1)).view(-1, 1, 1, 1)

    def forward(self, x):
        B, _, H, W = x.shape
        unit = self._unit(B)
        grid = self.create_mesh_grid(H, W, B)
        pred = self.scale * (1 + grid[:B, :1]) * unit
        return dict(prediction=pred, confidence=torch.ones_like(pred), pred_logit=None)


class RAFTDepthNormalDPT5(HourglassDecoder):
    """ViT head: an H×W crop comes back (H+4)×(W+4) per side not a multiple of 14; the map is
    1 + the input column under each output pixel, so resized back to H×W it is 1 + column index."""

    def __init__(self):
        super().__init__()
        self.min_val, self.max_val = 0.1, 200
        self.num_depth_regressor_anchor = 256

    def forward(self, x):
        B, _, H, W = x.shape
        unit = self._unit(B)
        out_h, out_w = H + 4 if H % 14 else H, W + 4 if W % 14 else W
        columns = (torch.arange(out_w, dtype=torch.float32, device=x.device) + 0.5) * W / out_w - 0.5
        pred = (self.scale * (1 + columns)).view(1, 1, 1, out_w).expand(B, 1, out_h, out_w) * unit
        normal = torch.zeros(B, 4, out_h, out_w, device=x.device)
        return dict(prediction=pred, confidence=torch.ones_like(pred), prediction_normal=normal,
                    predictions_list=[pred], confidence_list=[torch.ones_like(pred)],
                    normal_out_list=[normal], low_resolution_init=[pred], pred_logit=None)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(3))

    def forward(self, x):
        return x + self.weight.view(1, 3, 1, 1)


class DensePredModel(nn.Module):
    def __init__(self, decoder):
        super().__init__()
        self.encoder, self.decoder = Encoder(), decoder

    def forward(self, input, **kwargs):
        return self.decoder(self.encoder(input))


class DepthModel(nn.Module):
    def __init__(self, decoder):
        super().__init__()
        self.depth_model = DensePredModel(decoder)
        self.received = []

    def forward(self, data):
        output = self.depth_model(**data)
        return output["prediction"], output["confidence"], output

    def inference(self, data):
        self.received.append(data["input"].detach().cpu().clone())
        log = os.environ.get("METRIC3D_STANDIN_LOG")
        if log:
            with open(log, "a") as handle:
                handle.write("x".join(str(n) for n in data["input"].shape) + "\n")
        with torch.no_grad():
            return self.forward(data)


def _build(decoder, weights_file, pretrain):
    model = DepthModel(decoder)
    if pretrain:
        model.load_state_dict(torch.hub.load_state_dict_from_url(URL.format(weights_file))["model_state_dict"],
                              strict=False)
    return model


def metric3d_convnext_tiny(pretrain=False, **kwargs):
    return _build(HourglassDecoder(), "convtiny_hourglass_v1.pth", pretrain)


def metric3d_convnext_large(pretrain=False, **kwargs):
    return _build(HourglassDecoder(), "convlarge_hourglass_0.3_150_step750k_v1.1.pth", pretrain)


def metric3d_vit_small(pretrain=False, **kwargs):
    return _build(RAFTDepthNormalDPT5(), "metric_depth_vit_small_800k.pth", pretrain)


def metric3d_vit_large(pretrain=False, **kwargs):
    return _build(RAFTDepthNormalDPT5(), "metric_depth_vit_large_800k.pth", pretrain)


def metric3d_vit_giant2(pretrain=False, **kwargs):
    return _build(RAFTDepthNormalDPT5(), "metric_depth_vit_giant2_800k.pth", pretrain)
