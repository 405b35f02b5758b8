"""Spring train set (docs/formats.md §7): 1920×1080 frames, disparity at 3840×2160, baseline 0.065 m.

Depth (m) = fx · baseline / disparity on the disparity subsampled [::2, ::2]; fx from the
frame's row of ``cam_data/intrinsics.txt``. Non-finite or non-positive disparity and, by
default, sky pixels (``maps/skymap_<camera>``) are invalid.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset
from dpbench.errors import DatasetError
from dpbench.io.image import read_image
from dpbench.io.png16 import read_grey_png
from dpbench.io.spring import read_dsp5, read_intrinsics
from dpbench.types import Sample


def _train_dir(root: Path) -> Path | None:
    for candidate in (root / "train", root / "spring" / "train", root):
        if candidate.is_dir() and any((scene / "cam_data").is_dir() for scene in candidate.iterdir()):
            return candidate
    return None


@register_dataset("spring")
class Spring(DepthDataset):
    """Spring train frames (left camera by default) with depth from the 2× disparity GT."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise", *,
                 camera: str | None = None, sky: str | None = None):
        self._intrinsics: dict[Path, np.ndarray] = {}
        super().__init__(root, split, on_error, camera=camera, sky=sky)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        return _train_dir(Path(root)) is not None

    def _paths(self, scene: Path, frame: int) -> dict[str, Path]:
        cam = self.options["camera"]
        return {
            "image": scene / f"frame_{cam}" / f"frame_{cam}_{frame:04d}.png",
            "disparity": scene / f"disp1_{cam}" / f"disp1_{cam}_{frame:04d}.dsp5",
            "intrinsics": scene / "cam_data" / "intrinsics.txt",
            "sky": scene / "maps" / f"skymap_{cam}" / f"skymap_{cam}_{frame:04d}.png",
        }

    def _index(self) -> list[tuple[Path, int]]:
        train = _train_dir(self.root)
        if train is None:
            return []
        cam = self.options["camera"]
        items = []
        for scene in sorted(p for p in train.iterdir() if p.is_dir()):
            for disparity in sorted((scene / f"disp1_{cam}").glob(f"disp1_{cam}_*.dsp5")):
                try:
                    frame = int(disparity.stem.rsplit("_", 1)[1])
                except ValueError:
                    self._skip_or_raise(str(disparity), "file name does not end in a frame number")
                    continue
                paths = self._paths(scene, frame)
                needed = ["image", "intrinsics"] + (["sky"] if self.options["sky"] == "mask" else [])
                missing = [str(paths[key]) for key in needed if not paths[key].is_file()]
                if missing:
                    self._skip_or_raise(f"{scene.name}/{frame:04d}", f"missing {', '.join(missing)}")
                    continue
                items.append((scene, frame))
        return items

    def _item_id(self, item: tuple[Path, int]) -> str:
        return f"{item[0].name}/{item[1]:04d}"

    def _load(self, item: tuple[Path, int]) -> Sample:
        scene, frame = item
        paths = self._paths(scene, frame)
        image = read_image(paths["image"])
        height, width = image.shape[:2]
        disparity = read_dsp5(paths["disparity"])
        if disparity.shape != (2 * height, 2 * width):
            raise DatasetError(
                f"{self.name}: {paths['disparity']}: disparity is {disparity.shape[1]}x{disparity.shape[0]} (WxH), "
                f"expected twice the image's {width}x{height}"
            )
        disparity = disparity[::2, ::2]
        if paths["intrinsics"] not in self._intrinsics:
            self._intrinsics[paths["intrinsics"]] = read_intrinsics(paths["intrinsics"])
        table = self._intrinsics[paths["intrinsics"]]
        if not 1 <= frame <= len(table):
            raise DatasetError(f"{self.name}: {paths['intrinsics']}: no row for frame {frame} ({len(table)} rows)")
        fx = float(table[frame - 1, 0])
        usable = np.isfinite(disparity) & (disparity > 0)
        depth = np.zeros(disparity.shape, dtype=np.float32)
        np.divide(fx * float(self.spec_value("baseline_m")), disparity, out=depth, where=usable)
        valid = None
        if self.options["sky"] == "mask":
            sky = read_grey_png(paths["sky"])
            if sky.shape == (2 * height, 2 * width):
                sky = sky[::2, ::2]
            if sky.shape != (height, width):
                raise DatasetError(f"{self.name}: {paths['sky']}: sky map is {sky.shape[1]}x{sky.shape[0]}, "
                                   f"expected {width}x{height}")
            valid = sky == 0
        meta = {
            "scene": scene.name,
            "frame": frame,
            "camera": self.options["camera"],
            "image_path": paths["image"],
            "depth_path": paths["disparity"],
            "calib_path": paths["intrinsics"],
            "intrinsics": table[frame - 1].tolist(),
        }
        return self._make_sample(self._item_id(item), image, depth, valid, fx, meta, paths["disparity"])
