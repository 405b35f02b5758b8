"""iBims-1 core set (docs/formats.md §9): 640×480 RGB, 16-bit depth (raw · 50 / 65535 m), masks, calib."""

from __future__ import annotations

import os
from pathlib import Path

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset
from dpbench.errors import DatasetError
from dpbench.io.ibims import METRES_PER_UNIT, read_annotations, read_calib
from dpbench.io.image import read_image
from dpbench.io.limits import read_text
from dpbench.io.png16 import read_grey_png, read_scaled_depth_png
from dpbench.types import Sample

_CORE = "ibims1_core_raw"
_IMAGE_LIST = "imagelist.txt"
_MAT = "ibims1_core_mat"


def _mat_path(core: Path, name: str) -> Path | None:
    """``ibims1_core_mat/<name>.mat`` beside the raw core folder (or inside the root), if present."""
    for folder in (core.parent / _MAT, core / _MAT):
        if (folder / f"{name}.mat").is_file():
            return folder / f"{name}.mat"
    return None


def _core_dir(root: Path) -> Path | None:
    for candidate in (root / _CORE, root):
        if (candidate / "rgb").is_dir() and (candidate / "depth").is_dir():
            return candidate
    return None


@register_dataset("ibims")
class IBims(DepthDataset):
    """iBims-1: 100 indoor images with laser-scan depth, invalid/transparent masks and intrinsics."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise", *,
                 masks: str | None = None):
        super().__init__(root, split, on_error, masks=masks)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        return _core_dir(Path(root)) is not None

    def _names(self, core: Path) -> list[str]:
        for folder in (core, core.parent, self.root):
            path = folder / _IMAGE_LIST
            if path.is_file():
                names = [line.strip() for line in read_text(path, "image list").splitlines() if line.strip()]
                return [Path(n).stem if n.endswith(".png") else n for n in names]
        return sorted(p.stem for p in (core / "rgb").glob("*.png"))

    def _index(self) -> list[tuple[Path, str]]:
        core = _core_dir(self.root)
        if core is None:
            return []
        masks = {"invalid+transparent": ["mask_invalid", "mask_transp"], "invalid": ["mask_invalid"], "none": []}
        needed = ["rgb", "depth", *masks[self.options["masks"]]]
        items = []
        for name in self._names(core):
            missing = [f"{folder}/{name}.png" for folder in needed if not (core / folder / f"{name}.png").is_file()]
            if not (core / "calib" / f"{name}.txt").is_file():
                missing.append(f"calib/{name}.txt")
            if missing:
                self._skip_or_raise(name, f"missing {', '.join(missing)} in {core}")
                continue
            items.append((core, name))
        return items

    def _item_id(self, item: tuple[Path, str]) -> str:
        return item[1]

    def _load(self, item: tuple[Path, str]) -> Sample:
        core, name = item
        image_path, depth_path = core / "rgb" / f"{name}.png", core / "depth" / f"{name}.png"
        image = read_image(image_path)
        depth = read_scaled_depth_png(depth_path, METRES_PER_UNIT)
        valid = None
        for folder in {"invalid+transparent": ("mask_invalid", "mask_transp"), "invalid": ("mask_invalid",),
                       "none": ()}[self.options["masks"]]:
            mask = read_grey_png(core / folder / f"{name}.png")
            if mask.shape != image.shape[:2]:
                raise DatasetError(f"{self.name}: {core / folder / f'{name}.png'}: mask is {mask.shape[1]}x{mask.shape[0]}, "
                                   f"image is {image.shape[1]}x{image.shape[0]}")
            valid = (mask > 0) if valid is None else valid & (mask > 0)
        fx, fy, cx, cy = read_calib(core / "calib" / f"{name}.txt")
        meta = {
            "scene": name,
            "camera": "ibims",
            "image_path": image_path,
            "depth_path": depth_path,
            "calib_path": core / "calib" / f"{name}.txt",
            "intrinsics": [fx, fy, cx, cy],
        }
        mat = _mat_path(core, name)
        if mat is not None:  # edge and plane annotations of the iBims metrics (task "ibims")
            meta["annotations_path"] = mat
            try:
                meta["ibims_annotations"] = read_annotations(mat, image.shape[:2])
            except DatasetError as exc:  # only the ibims task's row fails; depth/boundary rows stay
                meta["ibims_annotations_error"] = str(exc)
        return self._make_sample(name, image, depth, valid, fx, meta, depth_path)
