"""DIODE validation set (docs/formats.md §12): 1024×768 RGB, float32 depth .npy and validity mask."""

from __future__ import annotations

import os
from pathlib import Path

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset
from dpbench.io.diode import read_depth, read_mask
from dpbench.io.image import read_image
from dpbench.types import Sample

_SPLIT_FOLDERS = {
    "val": [("val", "indoors"), ("val", "outdoors")],
    "val_indoors": [("val", "indoors")],
    "val_outdoors": [("val", "outdoors")],
    "all": [("val", "indoors"), ("val", "outdoors"), ("train", "indoors"), ("train", "outdoors")],
}


@register_dataset("diode")
class DIODE(DepthDataset):
    """DIODE val scans (indoors and outdoors) with fixed devkit intrinsics."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise"):
        super().__init__(root, split, on_error)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        root = Path(root)
        return any((root / part / kind).is_dir() for part in ("val", "train") for kind in ("indoors", "outdoors"))

    def _index(self) -> list[tuple[str, Path]]:
        items = []
        for part, kind in _SPLIT_FOLDERS[self.split]:
            base = self.root / part / kind
            for image in sorted(base.glob("scene_*/scan_*/*.png")):
                depth = image.with_name(f"{image.stem}_depth.npy")
                mask = image.with_name(f"{image.stem}_depth_mask.npy")
                missing = [str(p) for p in (depth, mask) if not p.is_file()]
                if missing:
                    self._skip_or_raise(str(image), f"missing {', '.join(missing)}")
                    continue
                items.append((f"{part}/{kind}", image))
        return items

    def _item_id(self, item: tuple[str, Path]) -> str:
        group, image = item
        relative = image.relative_to(self.root / group).with_suffix("")
        prefix = group.split("/")[1] if group.startswith("val/") else group
        return f"{prefix}/{relative.as_posix()}"

    def _load(self, item: tuple[str, Path]) -> Sample:
        group, image_path = item
        image = read_image(image_path)
        depth_path = image_path.with_name(f"{image_path.stem}_depth.npy")
        mask_path = image_path.with_name(f"{image_path.stem}_depth_mask.npy")
        depth = read_depth(depth_path)
        valid = read_mask(mask_path)
        fx, fy, cx, cy = self.spec["intrinsics"]
        meta = {
            "scene": image_path.parent.parent.name,
            "scan": image_path.parent.name,
            "environment": group.split("/")[1],
            "camera": "diode",
            "image_path": image_path,
            "depth_path": depth_path,
            "mask_path": mask_path,
            "intrinsics": [fx, fy, cx, cy],
        }
        return self._make_sample(self._item_id(item), image, depth, valid, float(fx), meta, depth_path)
