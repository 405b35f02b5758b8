"""Middlebury stereo (docs/formats.md §3): MiddEval3 training scenes and the 2014 "-perfect" scenes.

Each scene folder holds ``im0.png`` (left image), the left GT disparity (``disp0GT.pfm`` in
MiddEval3, ``disp0.pfm`` in 2014; PFM, +inf = unknown), ``calib.txt`` of that resolution and,
in MiddEval3, ``mask0nocc.png`` (255 = non-occluded, 128 = occluded, 0 = invalid).
Depth (m) = baseline_mm · f / (d + doffs) / 1000 with f = cam0[0, 0]. ``meta["intrinsics"]`` =
cam0's [fx, fy, cx, cy] (the calib.txt of the GT's resolution), used by the point clouds.
"""

from __future__ import annotations

import os
from pathlib import Path

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset
from dpbench.errors import DatasetError
from dpbench.io.image import read_image
from dpbench.io.middlebury import disparity_to_depth, read_calib
from dpbench.io.pfm import read_pfm
from dpbench.io.png16 import read_grey_png
from dpbench.types import Sample

_GT_NAMES = ("disp0GT.pfm", "disp0.pfm")
_PERFECT = "-perfect"


def _evaluation_dir(root: Path) -> Path:
    """The MiddEval3 folder: ``root`` or ``root/MiddEval3``."""
    nested = root / "MiddEval3"
    return nested if nested.is_dir() and not any(root.glob("training?")) else root


def _gt_file(scene: Path) -> Path | None:
    for name in _GT_NAMES:
        if (scene / name).is_file():
            return scene / name
    return None


@register_dataset("middlebury")
class Middlebury(DepthDataset):
    """Middlebury MiddEval3 training<F|H|Q> scenes (default) or 2014 full-size scenes."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise", *,
                 resolution: str | None = None, mask: str | None = None):
        super().__init__(root, split, on_error, resolution=resolution, mask=mask)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        root = Path(root)
        base = _evaluation_dir(root)
        return any(base.glob("training[FHQ]")) or any(root.glob(f"*{_PERFECT}"))

    def _scene_items(self, folder: Path, scenes: list[str] | None, prefix: str) -> list[tuple[str, Path]]:
        if scenes is None:
            scenes = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        items = []
        for scene in scenes:
            path = folder / scene
            required = ["im0.png", "calib.txt"] + (["mask0nocc.png"] if self.options["mask"] == "nocc" else [])
            missing = [name for name in required if not (path / name).is_file()]
            if _gt_file(path) is None:
                missing.append(" or ".join(_GT_NAMES))
            if missing:
                self._skip_or_raise(str(path), f"missing {', '.join(missing)} (expected layout: {self.layout})")
                continue
            items.append((prefix + scene, path))
        return items

    def _index(self) -> list[tuple[str, Path]]:
        base = _evaluation_dir(self.root)
        training = base / f"training{self.options['resolution']}"
        items: list[tuple[str, Path]] = []
        if self.split == "train":
            items += self._scene_items(training, list(self.spec.get("train_scenes", [])), "")
        if self.split == "all" and training.is_dir():
            items += self._scene_items(training, None, "")
        if self.split in ("2014", "all"):
            perfect = sorted(p.name for p in self.root.glob(f"*{_PERFECT}") if p.is_dir())
            items += self._scene_items(self.root, perfect, "2014/")
        return items

    def _item_id(self, item: tuple[str, Path]) -> str:
        return item[0]

    def _load(self, item: tuple[str, Path]) -> Sample:
        sample_id, scene = item
        image_path = scene / "im0.png"
        image = read_image(image_path)
        gt_path = _gt_file(scene)
        if gt_path is None:
            raise DatasetError(f"{self.name}: missing {' or '.join(_GT_NAMES)} in {scene}")
        disparity, _ = read_pfm(gt_path)
        if disparity.ndim != 2:
            raise DatasetError(f"{self.name}: {gt_path}: expected a 1-channel (Pf) disparity, found {disparity.shape}")
        calib = read_calib(scene / "calib.txt")
        height, width = image.shape[:2]
        if (calib.width is not None and calib.width != width) or (calib.height is not None and calib.height != height):
            raise DatasetError(
                f"{self.name}: {scene / 'calib.txt'}: calibration is for {calib.width}x{calib.height} "
                f"but {image_path} is {width}x{height} (calib.txt of another resolution?)"
            )
        if disparity.shape != (height, width):
            raise DatasetError(
                f"{self.name}: {gt_path}: disparity is {disparity.shape[1]}x{disparity.shape[0]} (WxH) "
                f"but {image_path} is {width}x{height}"
            )
        depth = disparity_to_depth(disparity, calib.focal_px, calib.baseline, calib.doffs)
        valid = None
        if self.options["mask"] == "nocc":
            mask = read_grey_png(scene / "mask0nocc.png")
            if mask.shape != (height, width):
                raise DatasetError(f"{self.name}: {scene / 'mask0nocc.png'}: mask size {mask.shape[::-1]} != image {width}x{height}")
            valid = mask == 255
        meta = {
            "scene": scene.name,
            "camera": "cam0",
            "release": "2014" if sample_id.startswith("2014/") else f"MiddEval3-{self.options['resolution']}",
            "image_path": image_path,
            "depth_path": gt_path,
            "calib_path": scene / "calib.txt",
            "baseline_mm": calib.baseline,
            "doffs": calib.doffs,
            "intrinsics": calib.intrinsics,  # cam0 [fx, fy, cx, cy]; calib.txt matches the GT size
        }
        return self._make_sample(sample_id, image, depth, valid, calib.focal_px, meta, gt_path)
