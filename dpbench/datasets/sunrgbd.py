"""SUN RGB-D (docs/formats.md §6): per-frame folders of the official tree + the toolbox split file.

A frame folder ``SUNRGBD/<sensor>/<subset>/.../<frame>/`` holds ``image/<name>.jpg``,
``depth/<name>.png`` (raw) and ``depth_bfx/<name>.png`` (refined) — 16-bit, bits rotated
right by 3, mm — and ``intrinsics.txt`` (3×3 K). The splits come from the toolbox's
``traintestSUNRGBD/allsplit.mat`` (paths starting with ``/n/fs/sun3d/data/SUNRGBD/``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset
from dpbench.errors import DatasetError
from dpbench.io.image import read_image
from dpbench.io.png16 import read_png16
from dpbench.io.sunrgbd import decode_depth, read_allsplit, read_intrinsics, relative_split_path
from dpbench.types import Sample

_SENSORS = ("kv1", "kv2", "realsense", "xtion")
_SPLIT_FIELD = {"test": "alltest", "train": "alltrain"}


def _data_dir(root: Path) -> Path | None:
    """The SUNRGBD data folder: ``root/SUNRGBD`` or ``root`` itself (holding the sensor folders)."""
    for candidate in (root / "SUNRGBD", root):
        if any((candidate / sensor).is_dir() for sensor in _SENSORS):
            return candidate
    return None


def _split_file(root: Path, relative: str) -> Path | None:
    for base in (root, root.parent):
        if (base / relative).is_file():
            return base / relative
    name = Path(relative).name
    return root / name if (root / name).is_file() else None


def _single_file(folder: Path, suffixes: tuple[str, ...]) -> Path | None:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes) if folder.is_dir() else []
    return files[0] if files else None


@register_dataset("sunrgbd")
class SunRGBD(DepthDataset):
    """SUN RGB-D frames of the toolbox's test split (5050), depth from ``depth_bfx`` by default."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise", *,
                 depth_folder: str | None = None, saturated: str | None = None, clamp_m: float | None = None):
        super().__init__(root, split, on_error, depth_folder=depth_folder, saturated=saturated, clamp_m=clamp_m)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        return _data_dir(Path(root)) is not None

    def _frame_ok(self, frame: Path, label: str) -> bool:
        problems = []
        if not frame.is_dir():
            problems.append(f"frame folder {frame} not found")
        else:
            if _single_file(frame / "image", (".jpg", ".jpeg", ".png")) is None:
                problems.append("no image/*.jpg")
            if _single_file(frame / self.options["depth_folder"], (".png",)) is None:
                problems.append(f"no {self.options['depth_folder']}/*.png")
            if not (frame / "intrinsics.txt").is_file():
                problems.append("no intrinsics.txt")
        if problems:
            self._skip_or_raise(label, "; ".join(problems))
        return not problems

    def _index(self) -> list[tuple[str, Path]]:
        data = _data_dir(self.root)
        if data is None:
            return []
        if self.split == "all":
            frames = []
            for folder, dirs, _ in os.walk(data):
                dirs.sort()
                path = Path(folder)
                if (path / "image").is_dir() and (path / "intrinsics.txt").is_file():
                    frames.append(path)
                    dirs.clear()
            items = [(p.relative_to(data).as_posix(), p) for p in sorted(frames)]
            return [(rel, p) for rel, p in items if self._frame_ok(p, rel)]
        relative = self.spec_value("split_file")
        split_path = _split_file(self.root, relative)
        if split_path is None:
            raise DatasetError(
                f"{self.name}: split file {relative} not found under {self.root} (or its parent); it ships "
                f"with the SUN RGB-D toolbox. Use split='all' to open every frame present."
            )
        entries = read_allsplit(split_path)[_SPLIT_FIELD[self.split]]
        items = []
        for entry in entries:
            rel = relative_split_path(entry)
            if self._frame_ok(data / rel, rel):
                items.append((rel, data / rel))
        return items

    def _item_id(self, item: tuple[str, Path]) -> str:
        return item[0]

    def _load(self, item: tuple[str, Path]) -> Sample:
        rel, frame = item
        image_path = _single_file(frame / "image", (".jpg", ".jpeg", ".png"))
        depth_path = _single_file(frame / self.options["depth_folder"], (".png",))
        if image_path is None or depth_path is None:
            raise DatasetError(f"{self.name}: {frame}: image or {self.options['depth_folder']} file missing")
        image = read_image(image_path)
        raw = read_png16(depth_path)
        clamp = float(self.options["clamp_m"])
        depth = decode_depth(raw, clamp_m=None)
        if self.options["saturated"] == "clamp":
            valid = None
            np.minimum(depth, np.float32(clamp), out=depth)
        else:
            valid = depth <= clamp
        K = read_intrinsics(frame / "intrinsics.txt")
        parts = rel.split("/")
        meta = {
            "scene": rel,
            "sensor": parts[0] if parts else "",
            "camera": parts[0] if parts else "",
            "image_path": image_path,
            "depth_path": depth_path,
            "calib_path": frame / "intrinsics.txt",
            "intrinsics": K.tolist(),
        }
        return self._make_sample(rel, image, depth, valid, float(K[0, 0]), meta, depth_path)
