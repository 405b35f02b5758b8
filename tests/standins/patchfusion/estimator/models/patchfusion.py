"""Stand-in of PatchFusion's ``estimator/models/patchfusion.py``: the class, ``from_pretrained``,
``resizer``, ``tile_cfg`` and the ``forward(mode='infer', ...)`` signature of upstream.

``forward`` returns ``(depth, extras)`` with depth (1,1,H_raw,W_raw) = 1 + 10 · red of ``image_hr``
(metres), keeps every call (``calls``) with one draw of Python's ``random`` (upstream's random tiles
use it), and refuses a batch larger than 1 like upstream. ``from_pretrained`` reads the DINOv2
folder relative to the working directory, as upstream's Depth Anything branch does, and behaves
like huggingface_hub offline (``local_files_only``: OSError unless the name is a local folder).
"""

import random
from pathlib import Path

import torch
import torch.nn.functional as F
from depth_anything import PATCH_PROCESS_SHAPE


class StandInResize:
    """``model.resizer``: resize to the coarse branch's size, aspect ratio ignored."""

    def __init__(self, height, width):
        self.shape = (height, width)

    def __call__(self, image):
        return F.interpolate(image, self.shape, mode="bilinear", align_corners=True)


class PatchFusion(torch.nn.Module):
    """The stand-in model."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.patch_process_shape = PATCH_PROCESS_SHAPE
        self.tile_cfg = {"image_raw_shape": [2160, 3840], "patch_split_num": [4, 4]}
        self.resizer = StandInResize(*PATCH_PROCESS_SHAPE)
        self.calls = []

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        Path("external/torchhub/facebookresearch_dinov2_main/hubconf.py").read_text()  # cwd-relative, as upstream
        name = str(pretrained_model_name_or_path)
        if kwargs.get("local_files_only") and not Path(name).is_dir():
            raise OSError(f"We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find "
                          f"them in the cached files.\nCheck your internet connection or see {name}.")
        model = cls({"name": name})
        model.loaded_with = dict(kwargs)
        return model

    def forward(self, mode, image_lr, image_hr, depth_gt=None, crops_image_hr=None, crop_depths=None, bboxs=None,
                tile_cfg=None, cai_mode="m1", process_num=4):
        assert image_hr.shape[0] == 1
        self.calls.append({"mode": mode, "image_lr": image_lr.clone(), "image_hr": image_hr.clone(),
                           "tile_cfg": tile_cfg, "cai_mode": cai_mode, "process_num": process_num,
                           "draw": random.random()})
        depth = self.scale * (1.0 + 10.0 * image_hr[:, :1])
        return depth, {"rgb": image_lr, "depth_pred": depth, "depth_gt": depth_gt}
