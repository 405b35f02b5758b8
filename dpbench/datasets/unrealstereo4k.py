"""UnrealStereo4K (Tosi et al., CVPR 2021; docs/formats.md §16): 3840×2160 stereo renders with
disparity GT, the data of the paper's resolution upper bound (Table 7, docs/paper.md §11).

Official layout, one folder per scene: ``<scene>/Image0/<frame>.png`` (left image, RGBA),
``<scene>/Disp0/<frame>.npy`` (left disparity, px, float), ``<scene>/Extrinsics{0,1}/<frame>.txt``
(K and world-to-camera [R | t] of the left and right camera). Depth = fx · baseline / disparity,
with fx = K[0, 0] of the left camera and the baseline the distance between the two camera
centres of that frame; non-positive or non-finite disparity is invalid.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset, natural_key, read_list_file
from dpbench.errors import DatasetError
from dpbench.io.image import read_image
from dpbench.io.npy import load_npy
from dpbench.io.unrealstereo4k import read_camera, stereo_baseline
from dpbench.types import Sample

_FOLDERS = ("Image0", "Disp0", "Extrinsics0", "Extrinsics1")


def _scenes_dir(root: Path) -> Path | None:
    """The folder holding the scene folders: ``root`` or ``root/UnrealStereo4K``."""
    for candidate in (root, root / "UnrealStereo4K"):
        if candidate.is_dir() and any((scene / "Disp0").is_dir() for scene in candidate.iterdir()):
            return candidate
    return None


@register_dataset("unrealstereo4k")
class UnrealStereo4K(DepthDataset):
    """UnrealStereo4K left frames (SMD-Nets test list by default) with metric depth from disparity."""

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        return _scenes_dir(Path(root)) is not None

    def _paths(self, scene: Path, frame: str) -> dict[str, Path]:
        return {
            "image": scene / "Image0" / f"{frame}.png",
            "disparity": scene / "Disp0" / f"{frame}.npy",
            "left_camera": scene / "Extrinsics0" / f"{frame}.txt",
            "right_camera": scene / "Extrinsics1" / f"{frame}.txt",
        }

    def _index(self) -> list[tuple[Path, str]]:
        scenes = _scenes_dir(self.root)
        if scenes is None:
            return []
        if self.split == "all":
            wanted = [f"{scene.name}/{disp.stem}"
                      for scene in sorted(p for p in scenes.iterdir() if (p / "Disp0").is_dir())
                      for disp in sorted((scene / "Disp0").glob("*.npy"), key=lambda p: natural_key(p.stem))]
        else:
            wanted = read_list_file(self.spec["splits"][self.split]["list_file"])
        items = []
        for frame_id in wanted:
            scene_name, _, frame = frame_id.partition("/")
            paths = self._paths(scenes / scene_name, frame)
            missing = [str(path) for path in paths.values() if not path.is_file()]
            if missing:
                self._skip_or_raise(frame_id, f"missing {', '.join(missing)}")
                continue
            items.append((scenes / scene_name, frame))
        return items

    def _item_id(self, item: tuple[Path, str]) -> str:
        return f"{item[0].name}/{item[1]}"

    def _load(self, item: tuple[Path, str]) -> Sample:
        scene, frame = item
        paths = self._paths(scene, frame)
        image = read_image(paths["image"])
        disparity = load_npy(paths["disparity"], "UnrealStereo4K disparity").astype(np.float32)
        if disparity.ndim == 3 and disparity.shape[-1] == 1:
            disparity = disparity[..., 0]
        if disparity.ndim != 2:
            raise DatasetError(f"{self.name}: {paths['disparity']}: disparity must be 2-D, found shape "
                               f"{disparity.shape}")
        intrinsics, left = read_camera(paths["left_camera"])
        _, right = read_camera(paths["right_camera"])
        fx = float(intrinsics[0, 0])
        baseline = stereo_baseline(left, right) * float(self.spec_value("translation_unit_m"))
        if not (fx > 0 and baseline > 0):
            raise DatasetError(f"{self.name}: {paths['left_camera']}, {paths['right_camera']}: focal "
                               f"({fx}) and baseline ({baseline} m) must be positive")
        usable = np.isfinite(disparity) & (disparity > 0)
        depth = np.zeros(disparity.shape, dtype=np.float32)
        np.divide(np.float32(fx * baseline), disparity, out=depth, where=usable)
        meta = {
            "scene": scene.name,
            "frame": frame,
            "camera": "left",
            "image_path": paths["image"],
            "depth_path": paths["disparity"],
            "calib_path": paths["left_camera"],
            "baseline_m": baseline,
            "intrinsics": intrinsics.tolist(),
        }
        return self._make_sample(self._item_id(item), image, depth, usable, fx, meta, paths["disparity"])
