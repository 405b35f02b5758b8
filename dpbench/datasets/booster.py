"""Booster "balanced" training set (docs/formats.md §1): left images, one GT disparity per scene.

Each ``camera_00/im<N>.png`` (one per illumination) is a sample; all of a scene's samples share
``disp_00.npy`` (left disparity, px, 0 = no GT), ``mask_00.png`` (non-zero = valid) and
``calib_00-02.xml``. Depth (m) = fx · baselineLR_mm / disparity / 1000. ``meta["intrinsics"]``
= [fx, fy, cx, cy] of the same calibration matrix (``fx_source``), used by the point clouds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset, natural_key
from dpbench.errors import DatasetError
from dpbench.io.booster import disparity_to_depth, read_booster_calib, read_booster_disparity
from dpbench.io.image import read_image
from dpbench.io.png16 import read_grey_png
from dpbench.types import Sample

_CAMERA = "camera_00"
_DISPARITY = "disp_00.npy"
_MASK = "mask_00.png"
_CALIB = "calib_00-02.xml"


def _balanced_dir(root: Path) -> Path | None:
    """The ``balanced`` folder: <root>/train/balanced, <root>/balanced, or root itself."""
    for candidate in (root / "train" / "balanced", root / "balanced", root):
        if candidate.is_dir() and any((scene / _CAMERA).is_dir() for scene in candidate.iterdir()):
            return candidate
    return None


@register_dataset("booster")
class Booster(DepthDataset):
    """Booster train/balanced: ``camera_00`` images with depth from ``disp_00.npy`` + calibration."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise", *,
                 fx_source: str | None = None, mask: str | None = None):
        super().__init__(root, split, on_error, fx_source=fx_source, mask=mask)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        root = Path(root)
        return root.is_dir() and _balanced_dir(root) is not None

    def _index(self) -> list[tuple[Path, Path]]:
        balanced = _balanced_dir(self.root)
        if balanced is None:
            return []
        items = []
        for scene in sorted((p for p in balanced.iterdir() if (p / _CAMERA).is_dir()), key=lambda p: p.name):
            images = sorted((scene / _CAMERA).glob("im*.png"), key=lambda p: natural_key(p.name))
            missing = [name for name in (_DISPARITY, _CALIB) if not (scene / name).is_file()]
            if self.options["mask"] != "none" and not (scene / _MASK).is_file():
                missing.append(_MASK)
            if missing:
                for image in images:
                    self._skip_or_raise(str(image), f"missing {', '.join(missing)} in {scene}")
                continue
            items += [(scene, image) for image in images]
        return items

    def _item_id(self, item: tuple[Path, Path]) -> str:
        scene, image = item
        return f"{scene.name}/{image.stem}"

    def _load(self, item: tuple[Path, Path]) -> Sample:
        scene, image_path = item
        image = read_image(image_path)
        disparity = read_booster_disparity(scene / _DISPARITY)
        if disparity.shape != image.shape[:2]:
            raise DatasetError(
                f"{self.name}: {scene / _DISPARITY}: disparity is {disparity.shape[1]}x{disparity.shape[0]} "
                f"(WxH) but {image_path} is {image.shape[1]}x{image.shape[0]}"
            )
        calib = read_booster_calib(scene / _CALIB)
        intrinsics = calib.intrinsics(self.options["fx_source"])  # a DatasetError naming the file
        focal = intrinsics[0]
        depth = disparity_to_depth(disparity, focal, calib.baseline_mm)
        valid = None
        if self.options["mask"] != "none":
            mask = read_grey_png(scene / _MASK)
            if mask.shape != image.shape[:2]:
                raise DatasetError(
                    f"{self.name}: {scene / _MASK}: mask is {mask.shape[1]}x{mask.shape[0]} (WxH) "
                    f"but the image is {image.shape[1]}x{image.shape[0]}"
                )
            valid = mask != 0 if self.options["mask"] == "nonzero" else mask == np.iinfo(mask.dtype).max
        meta = {
            "scene": scene.name,
            "camera": _CAMERA,
            "illumination": image_path.stem,
            "image_path": image_path,
            "depth_path": scene / _DISPARITY,
            "calib_path": scene / _CALIB,
            "baseline_mm": calib.baseline_mm,
            "baseline_source": calib.baseline_source,
            "intrinsics": intrinsics,  # [fx, fy, cx, cy] of the GT (= image) resolution
        }
        return self._make_sample(self._item_id(item), image, depth, valid, focal, meta, scene / _DISPARITY)
