"""NYU Depth v2 labeled set (docs/formats.md §10), Eigen split, from the official .mat or a PNG export.

Official: ``nyu_depth_v2_labeled.mat`` (HDF5) + ``splits.mat`` (1-based indices). PNG export
(e.g. Marigold's): ``<split>/<scene>/rgb_XXXX.png`` with ``depth_XXXX.png`` (raw, mm) and
``filled_XXXX.png`` (in-painted, mm). The Eigen crop restricts the valid mask, not the image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset
from dpbench.errors import DatasetError
from dpbench.io.image import read_image
from dpbench.io.nyu import NyuLabeled, read_splits
from dpbench.io.png16 import read_scaled_depth_png
from dpbench.types import Sample

_EXPORT_DEPTH = {"raw": "depth", "filled": "filled"}


@register_dataset("nyuv2")
class NYUv2(DepthDataset):
    """NYUv2 labeled frames of the Eigen split, Kinect intrinsics, Eigen crop on the valid mask."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise", *,
                 depth: str | None = None, crop: str | None = None):
        self._labeled: NyuLabeled | None = None
        super().__init__(root, split, on_error, depth=depth, crop=crop)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        root = Path(root)
        return (root / "nyu_depth_v2_labeled.mat").is_file() or any(root.glob("*/*/rgb_*.png"))

    def _index(self) -> list[tuple]:
        labeled = self.root / self.spec_value("labeled_file")
        if labeled.is_file():
            self._labeled = NyuLabeled(labeled)
            if self.split == "all":
                return [("mat", i) for i in range(1, self._labeled.count + 1)]
            indices = read_splits(self.root / self.spec_value("splits_file"))[self.split]
            items = []
            for index in indices:
                if not 1 <= index <= self._labeled.count:
                    self._skip_or_raise(str(index), f"split index outside 1..{self._labeled.count} of {labeled}")
                    continue
                items.append(("mat", index))
            return items
        folders = ["test", "train"] if self.split == "all" else [self.split]
        items = []
        for folder in folders:
            for rgb in sorted((self.root / folder).glob("*/rgb_*.png")):
                number = rgb.stem.split("_", 1)[1]
                depth_path = rgb.with_name(f"{_EXPORT_DEPTH[self.options['depth']]}_{number}.png")
                if not depth_path.is_file():
                    self._skip_or_raise(str(rgb), f"missing {depth_path}")
                    continue
                items.append(("png", folder, rgb.parent.name, number))
        return items

    def _item_id(self, item: tuple) -> str:
        if item[0] == "mat":
            return f"{item[1]:04d}"
        return f"{item[2]}/{item[3]}"

    def _load(self, item: tuple) -> Sample:
        if item[0] == "mat":
            assert self._labeled is not None
            image, depth = self._labeled.frame(item[1] - 1, depth=self.options["depth"])
            meta = {"scene": "", "index": item[1], "image_path": self._labeled.path, "depth_path": self._labeled.path}
            depth_path: Path = self._labeled.path
        else:
            _, folder, scene, number = item
            rgb = self.root / folder / scene / f"rgb_{number}.png"
            depth_path = rgb.with_name(f"{_EXPORT_DEPTH[self.options['depth']]}_{number}.png")
            image = read_image(rgb)
            depth = read_scaled_depth_png(depth_path, 1e-3)
            meta = {"scene": scene, "index": int(number), "image_path": rgb, "depth_path": depth_path}
        valid = None
        if self.options["crop"] == "eigen":
            top, bottom, left, right = self.spec["eigen_crop"]
            if image.shape[:2] != (480, 640):
                raise DatasetError(f"{self.name}: {meta['image_path']}: the Eigen crop needs 640x480 frames, "
                                   f"found {image.shape[1]}x{image.shape[0]}")
            valid = np.zeros(image.shape[:2], dtype=bool)
            valid[top:bottom, left:right] = True
        fx, fy, cx, cy = self.spec["intrinsics"]
        meta.update(camera="kinect", intrinsics=[fx, fy, cx, cy])
        return self._make_sample(self._item_id(item), image, depth, valid, float(fx), meta, depth_path)
