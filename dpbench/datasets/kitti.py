"""KITTI raw + improved depth GT (docs/formats.md §11): Eigen test split, left colour camera image_02.

Images: ``<date>/<drive>_sync/image_02/data/<frame>.png``; GT: the annotated depth
``{train,val}/<drive>_sync/proj_depth/groundtruth/image_02/<frame>.png`` (uint16, m = v / 256,
0 = invalid); fx = ``P_rect_02[0, 0]`` of ``<date>/calib_cam_to_cam.txt``. The crop restricts
the valid mask to a box given as fractions of the GT size.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset
from dpbench.errors import DatasetError
from dpbench.io.image import read_image
from dpbench.io.kitti import METRES_PER_UNIT, read_p_rect
from dpbench.io.limits import read_text
from dpbench.io.png16 import read_scaled_depth_png
from dpbench.types import Sample

_GT_SUB = ("proj_depth", "groundtruth", "image_02")


def _annotated_dirs(root: Path) -> list[Path]:
    """The {train,val} folders of the annotated depth, under the root or data_depth_annotated/."""
    out = []
    for base in (root / "data_depth_annotated", root):
        out += [base / s for s in ("train", "val") if (base / s).is_dir()]
    return out


def parse_eigen_list(path: Path) -> list[tuple[str, str]]:
    """(drive folder 'date/date_drive_n_sync', 10-digit frame) pairs of an Eigen test list file.

    Accepts monodepth2's '<date>/<drive> <frame> l' lines and BTS/Marigold-style
    '<date>/<drive>/image_02/data/<frame>.png <gt or None> <focal>' lines.
    """
    entries = []
    for number, line in enumerate(read_text(path, "split file").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        first = parts[0]
        if first.endswith(".png"):
            pieces = first.split("/")
            if len(pieces) < 5:
                raise DatasetError(f"{path}: line {number}: cannot parse image path {first!r}")
            entries.append(("/".join(pieces[-5:-3]), Path(pieces[-1]).stem))
        elif len(parts) >= 2 and parts[1].isdigit():
            entries.append((first.strip("/"), f"{int(parts[1]):010d}"))
        else:
            raise DatasetError(f"{path}: line {number}: expected '<date>/<drive> <frame> l' or an image path")
    return entries


@register_dataset("kitti")
class KITTI(DepthDataset):
    """KITTI Eigen test frames with improved GT (652 of 697), fx from P_rect_02, Garg crop."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise", *,
                 crop: str | None = None, split_file: str | os.PathLike | None = None):
        self._split_file = Path(split_file) if split_file is not None else None
        self._calib: dict[str, float] = {}
        super().__init__(root, split, on_error, crop=crop)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        root = Path(root)
        return bool(_annotated_dirs(root)) and any(root.glob("*/calib_cam_to_cam.txt"))

    def _gt_path(self, drive: str, frame: str) -> Path | None:
        name = drive.split("/")[-1]
        for folder in _annotated_dirs(self.root):
            path = folder.joinpath(name, *_GT_SUB, f"{frame}.png")
            if path.is_file():
                return path
        return None

    def _eigen_list(self) -> Path:
        if self._split_file is not None:
            if not self._split_file.is_file():
                raise DatasetError(f"{self.name}: split file {self._split_file} not found")
            return self._split_file
        for name in self.spec_value("eigen_list_names"):
            if (self.root / name).is_file():
                return self.root / name
        raise DatasetError(
            f"{self.name}: the Eigen test list is not shipped with dpbench; put monodepth2's "
            f"splits/eigen/test_files.txt at {self.root / 'eigen_test_files.txt'} or pass split_file=... "
            f"(or use split='val' / 'all')"
        )

    def _index(self) -> list[tuple[str, str, Path]]:
        items = []
        if self.split == "eigen_test":
            for drive, frame in parse_eigen_list(self._eigen_list()):
                gt = self._gt_path(drive, frame)
                if gt is None:
                    # the Eigen list includes 45 frames the improved GT does not cover: a protocol exclusion
                    self.excluded.append((f"{drive}/{frame}", "no improved ground truth"))
                    continue
                items.append((drive, frame, gt))
        else:
            folders = [f for f in _annotated_dirs(self.root) if self.split == "all" or f.name == "val"]
            for folder in folders:
                for gt in sorted(folder.glob("*/proj_depth/groundtruth/image_02/*.png")):
                    drive_name = gt.parents[3].name
                    items.append((f"{drive_name[:10]}/{drive_name}", gt.stem, gt))
            items.sort(key=lambda item: (item[0], item[1]))
        present = []
        for drive, frame, gt in items:
            image = self.root / drive / "image_02" / "data" / f"{frame}.png"
            calib = self.root / drive.split("/")[0] / "calib_cam_to_cam.txt"
            missing = [str(p) for p in (image, calib) if not p.is_file()]
            if missing:
                self._skip_or_raise(f"{drive}/{frame}", f"missing {', '.join(missing)}")
                continue
            present.append((drive, frame, gt))
        return present

    def _item_id(self, item: tuple[str, str, Path]) -> str:
        return f"{item[0].split('/')[-1]}/{item[1]}"

    def _focal(self, date: str) -> float:
        if date not in self._calib:
            self._calib[date] = float(read_p_rect(self.root / date / "calib_cam_to_cam.txt", "02")[0, 0])
        return self._calib[date]

    def _load(self, item: tuple[str, str, Path]) -> Sample:
        drive, frame, gt = item
        image_path = self.root / drive / "image_02" / "data" / f"{frame}.png"
        image = read_image(image_path)
        depth = read_scaled_depth_png(gt, METRES_PER_UNIT)
        valid = None
        if self.options["crop"] != "none":
            top, bottom, left, right = self.spec[f"crop_{self.options['crop']}"]
            height, width = depth.shape
            valid = np.zeros(depth.shape, dtype=bool)
            valid[int(top * height):int(bottom * height), int(left * width):int(right * width)] = True
        date = drive.split("/")[0]
        meta = {
            "scene": drive.split("/")[-1],
            "frame": frame,
            "camera": "image_02",
            "image_path": image_path,
            "depth_path": gt,
            "calib_path": self.root / date / "calib_cam_to_cam.txt",
        }
        if depth.shape != image.shape[:2]:
            raise DatasetError(f"{self.name}: {gt}: ground truth is {depth.shape[1]}x{depth.shape[0]} "
                               f"but {image_path} is {image.shape[1]}x{image.shape[0]}")
        return self._make_sample(self._item_id(item), image, depth, valid, self._focal(date), meta, gt)
