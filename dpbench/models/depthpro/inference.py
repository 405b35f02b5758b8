"""The released inference recipe of Depth Pro, batched, with optional reduced precision.

For an image of H×W pixels (any size): normalise RGB to [−1, 1] (x/255, then (x − 0.5)/0.5);
resize to S×S (S = 1536) bilinearly without corner alignment or antialiasing, ignoring the aspect
ratio; run the network; the focal length is ``f = 0.5·W / tan(0.5·radians(fov))`` unless one is
given; inverse depth = canonical inverse depth × W / f, resized bilinearly back to H×W; depth =
1 / clamp(inverse depth, 1e-4, 1e4). The arithmetic after the network is always float32 and is
written with the same tensor operations as the released ``DepthPro.infer``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dpbench.models.depthpro.network import DepthPro

FOCAL_ESTIMATED = "estimated"
FOCAL_GIVEN = "given"
#: Clamp applied to inverse depth before inverting it (released recipe).
INVERSE_DEPTH_RANGE = (1e-4, 1e4)


@dataclass
class DepthProOutput:
    """Result of :func:`infer` for a batch of B images of one size H×W."""

    depth: torch.Tensor  #: B×H×W float32, metres
    focal_px: list[float]  #: the focal length used for each image (pixels at H×W)
    focal_px_estimated: list[float | None]  #: the network's estimate (None without a FoV head)
    focal_source: list[str]  #: "estimated" or "given", per image
    fov_deg: torch.Tensor | None  #: B float32, the estimated horizontal field of view
    canonical_inverse_depth: torch.Tensor  #: B×S×S float32, the raw network output


def normalize_images(images: np.ndarray | Sequence[np.ndarray], device: torch.device | str = "cpu") -> torch.Tensor:
    """H×W×3 uint8 RGB image(s) of one size → B×3×H×W float32 in [−1, 1] on ``device``.

    Same arithmetic as the released transform: x / 255 (float32), then (x − 0.5) / 0.5.
    """
    batch = [images] if isinstance(images, np.ndarray) else list(images)
    if not batch:
        raise ValueError("no images given")
    shape = batch[0].shape
    for image in batch:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected H×W×3 uint8 RGB images, got shape {image.shape} dtype {image.dtype}")
        if image.shape != shape:
            raise ValueError(f"images of one batch must share a size, got {shape} and {image.shape}")
    stacked = torch.from_numpy(np.stack([np.ascontiguousarray(im.transpose(2, 0, 1)) for im in batch]))
    # As the released transform: to float and /255 on the CPU, then normalise on the device.
    x = stacked.to(torch.float32).div(255).to(device)
    return x.sub_(0.5).div_(0.5)


def autocast_context(device: torch.device, dtype: torch.dtype):
    """Autocast to ``dtype`` on ``device`` (a no-op context for float32)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _focal_list(f_px, batch: int) -> list[float | None]:
    """One focal (or None) per image, each a finite positive float when given."""
    if f_px is None:
        focals: list[float | None] = [None] * batch
    elif isinstance(f_px, (int, float, np.floating, np.integer)):
        focals = [float(f_px)] * batch
    else:
        if isinstance(f_px, torch.Tensor):
            f_px = f_px.detach().flatten().tolist()
        focals = [None if f is None else float(f) for f in f_px]
    if len(focals) != batch:
        raise ValueError(f"got {len(focals)} focal lengths for {batch} images")
    for f in focals:
        if f is not None and not (np.isfinite(f) and f > 0):
            raise ValueError(f"a given focal length must be a finite positive number of pixels, got {f}")
    return focals


def infer(
    model: DepthPro,
    images: np.ndarray | Sequence[np.ndarray] | torch.Tensor,
    f_px: float | Sequence[float | None] | torch.Tensor | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
) -> DepthProOutput:
    """Metric depth and focal length for a batch of same-size images (see module docstring).

    ``images``: one H×W×3 uint8 image, a sequence of them, or an already normalised float
    tensor (3×H×W or B×3×H×W, values in [−1, 1]). ``f_px``: None (use the estimate), one focal
    for all images, or one per image (None entries use the estimate). ``dtype`` float16/bfloat16
    runs the network under autocast; the depth arithmetic stays float32.
    """
    parameter = next(model.parameters())
    device = parameter.device
    if isinstance(images, torch.Tensor):
        x = images.unsqueeze(0) if images.ndim == 3 else images
        if x.ndim != 4 or x.shape[1] != 3 or not x.is_floating_point():
            raise ValueError(f"expected a float B×3×H×W tensor, got {tuple(x.shape)} {x.dtype}")
        x = x.to(device=device, dtype=torch.float32)
    else:
        x = normalize_images(images, device)
    batch, _, height, width = x.shape
    focals = _focal_list(f_px, batch)
    size = model.image_size

    with torch.inference_mode():
        resize = height != size or width != size
        if resize:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast_context(device, dtype):
            canonical_inverse_depth, fov_deg = model(x)
        del x
        canonical_inverse_depth = canonical_inverse_depth.float().contiguous()

        if fov_deg is None:
            if any(f is None for f in focals):
                raise ValueError("this Depth Pro configuration has no FoV head: a focal length must be given")
            estimated = None
            scale = torch.tensor([width / f for f in focals], dtype=torch.float32, device=device)
            scale = scale.reshape(batch, 1, 1, 1)
        else:
            estimated = 0.5 * width / torch.tan(0.5 * torch.deg2rad(fov_deg.to(torch.float)))
            scale = width / estimated
            for index, given in enumerate(focals):
                if given is not None:
                    scale[index] = width / given
        inverse_depth = canonical_inverse_depth * scale

        if resize:
            inverse_depth = F.interpolate(inverse_depth, size=(height, width), mode="bilinear", align_corners=False)
        depth = 1.0 / torch.clamp(inverse_depth, min=INVERSE_DEPTH_RANGE[0], max=INVERSE_DEPTH_RANGE[1])

    estimates = [None] * batch if estimated is None else [float(v) for v in estimated.flatten().tolist()]
    used = [given if given is not None else estimate for given, estimate in zip(focals, estimates, strict=True)]
    return DepthProOutput(
        depth=depth[:, 0],
        focal_px=used,
        focal_px_estimated=estimates,
        focal_source=[FOCAL_ESTIMATED if given is None else FOCAL_GIVEN for given in focals],
        fov_deg=None if fov_deg is None else fov_deg.float().flatten(),
        canonical_inverse_depth=canonical_inverse_depth[:, 0],
    )
