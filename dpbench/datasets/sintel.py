"""MPI Sintel training set with depth (docs/formats.md §5): rendered images, .dpt depth, .cam cameras.

Images come from MPI-Sintel-complete (``training/<pass>/<scene>/frame_XXXX.png``), depth and
cameras from the depth archive (``training/depth/<scene>/frame_XXXX.dpt``,
``training/camdata_left/<scene>/frame_XXXX.cam``). Both archives may be unpacked into the same
root (their ``training/`` folders merge) or side by side as sub-folders of the root.
Depth is metric planar z; the sky is a huge finite value that the protocol's 80 m cap removes.
"""

from __future__ import annotations

import os
from pathlib import Path

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset
from dpbench.errors import DatasetError
from dpbench.io.image import read_image
from dpbench.io.sintel import read_cam, read_dpt
from dpbench.types import Sample


def _find(root: Path, relative: str) -> Path | None:
    """``root/relative`` or ``root/<sub>/relative`` for one level of sub-folders (sorted)."""
    if (root / relative).is_dir():
        return root / relative
    for sub in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if (sub / relative).is_dir():
            return sub / relative
    return None


@register_dataset("sintel")
class Sintel(DepthDataset):
    """MPI Sintel training frames (final pass by default) with metric depth and intrinsics."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise", *,
                 pass_name: str | None = None):
        super().__init__(root, split, on_error, pass_name=pass_name)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        root = Path(root)
        return _find(root, "training/depth") is not None

    def _index(self) -> list[tuple[str, str, dict[str, Path]]]:
        depth_dir = _find(self.root, "training/depth")
        if depth_dir is None:
            return []
        pass_name = self.options["pass_name"]
        image_dir = _find(self.root, f"training/{pass_name}")
        cam_dir = _find(self.root, "training/camdata_left")
        items = []
        for scene in sorted(p.name for p in depth_dir.iterdir() if p.is_dir()):
            for depth_path in sorted((depth_dir / scene).glob("frame_*.dpt")):
                frame = depth_path.stem
                paths = {
                    "depth": depth_path,
                    "image": (image_dir or self.root / "training" / pass_name) / scene / f"{frame}.png",
                    "cam": (cam_dir or self.root / "training" / "camdata_left") / scene / f"{frame}.cam",
                }
                missing = [str(p) for key, p in paths.items() if key != "depth" and not p.is_file()]
                if missing:
                    self._skip_or_raise(f"{scene}/{frame}", f"missing {', '.join(missing)}")
                    continue
                items.append((scene, frame, paths))
        return items

    def _item_id(self, item: tuple[str, str, dict[str, Path]]) -> str:
        return f"{item[0]}/{item[1]}"

    def _load(self, item: tuple[str, str, dict[str, Path]]) -> Sample:
        scene, frame, paths = item
        image = read_image(paths["image"])
        depth = read_dpt(paths["depth"])
        intrinsics, _ = read_cam(paths["cam"])
        focal = float(intrinsics[0, 0])
        if not focal > 0:
            raise DatasetError(f"{self.name}: {paths['cam']}: focal length M[0,0] must be positive, found {focal}")
        meta = {
            "scene": scene,
            "frame": int(frame.split("_")[-1]),
            "camera": "left",
            "pass": self.options["pass_name"],
            "image_path": paths["image"],
            "depth_path": paths["depth"],
            "calib_path": paths["cam"],
            "intrinsics": intrinsics.tolist(),
        }
        return self._make_sample(self._item_id(item), image, depth, None, focal, meta, paths["depth"])
