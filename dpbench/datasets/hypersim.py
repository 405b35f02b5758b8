"""HyperSim (docs/formats.md §8): tone-mapped JPEGs + ``depth_meters`` HDF5 (distance → planar depth).

Frames are listed by the ml-hypersim split CSV (``metadata_images_split_scene_v1.csv``, columns
``scene_name``, ``camera_name``, ``frame_id``, ``included_in_public_release``,
``split_partition_name``), looked up under the root; ``split="all"`` needs no CSV.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset
from dpbench.errors import DatasetError
from dpbench.io.hypersim import distance_to_planar, read_hdf5
from dpbench.io.image import read_image
from dpbench.types import Sample

_DEPTH_RE = re.compile(r"^frame\.(\d+)\.depth_meters\.hdf5$")
_COLUMNS = ("scene_name", "camera_name", "frame_id", "included_in_public_release", "split_partition_name")


def _files(root: Path, scene: str, camera: str, frame: int) -> dict[str, Path]:
    images = root / scene / "images"
    return {
        "image": images / f"scene_{camera}_final_preview" / f"frame.{frame:04d}.tonemap.jpg",
        "depth": images / f"scene_{camera}_geometry_hdf5" / f"frame.{frame:04d}.depth_meters.hdf5",
        "entity": images / f"scene_{camera}_geometry_hdf5" / f"frame.{frame:04d}.render_entity_id.hdf5",
    }


@register_dataset("hypersim")
class HyperSim(DepthDataset):
    """HyperSim frames of a split of the official CSV, planar depth from ``depth_meters``."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise", *,
                 invalid: str | None = None, split_file: str | os.PathLike | None = None):
        self._split_file = Path(split_file) if split_file is not None else None
        super().__init__(root, split, on_error, invalid=invalid)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        root = Path(root)
        return root.is_dir() and any((p / "images").is_dir() for p in root.glob("ai_*"))

    def _csv_path(self) -> Path:
        if self._split_file is not None:
            if not self._split_file.is_file():
                raise DatasetError(f"{self.name}: split file {self._split_file} not found")
            return self._split_file
        for relative in self.spec_value("split_file_locations"):
            if (self.root / relative).is_file():
                return self.root / relative
        raise DatasetError(
            f"{self.name}: split file {self.spec.get('split_file')} not found under {self.root}; copy it from "
            f"apple/ml-hypersim (evermotion_dataset/analysis/) or pass split_file=..., or use split='all'"
        )

    def _index(self) -> list[tuple[str, str, int]]:
        if self.split == "all":
            found = []
            for depth in sorted(self.root.glob("ai_*/images/scene_*_geometry_hdf5/frame.*.depth_meters.hdf5")):
                match = _DEPTH_RE.match(depth.name)
                camera = depth.parent.name[len("scene_"):-len("_geometry_hdf5")]
                if match:
                    found.append((depth.parents[2].name, camera, int(match.group(1))))
            candidates = sorted(found)
        else:
            path = self._csv_path()
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise DatasetError(f"{self.name}: {path}: missing column(s) {', '.join(missing)}")
                candidates = []
                for row in reader:
                    if row["split_partition_name"].strip() != self.split:
                        continue
                    if row["included_in_public_release"].strip().lower() not in ("true", "1"):
                        continue
                    try:
                        candidates.append((row["scene_name"].strip(), row["camera_name"].strip(), int(row["frame_id"])))
                    except ValueError:
                        raise DatasetError(f"{self.name}: {path}: bad frame_id {row['frame_id']!r}") from None
        items = []
        for scene, camera, frame in candidates:
            files = _files(self.root, scene, camera, frame)
            needed = ["image", "depth"] + (["entity"] if self.options["invalid"] == "nan+entity" else [])
            missing = [str(files[key]) for key in needed if not files[key].is_file()]
            if missing:
                self._skip_or_raise(f"{scene}/{camera}/{frame:04d}", f"missing {', '.join(missing)}")
                continue
            items.append((scene, camera, frame))
        return items

    def _item_id(self, item: tuple[str, str, int]) -> str:
        scene, camera, frame = item
        return f"{scene}/{camera}/{frame:04d}"

    def _load(self, item: tuple[str, str, int]) -> Sample:
        scene, camera, frame = item
        files = _files(self.root, scene, camera, frame)
        image = read_image(files["image"])
        distance = np.asarray(read_hdf5(files["depth"]), dtype=np.float32)
        if distance.ndim != 2:
            raise DatasetError(f"{self.name}: {files['depth']}: expected an H×W distance map, found {distance.shape}")
        focal = float(self.spec_value("focal_px")) * image.shape[1] / float(self.spec_value("focal_width"))
        depth = distance_to_planar(distance, focal) if distance.shape == image.shape[:2] else distance
        valid = None
        if self.options["invalid"] == "nan+entity":
            entity = np.asarray(read_hdf5(files["entity"]))
            if entity.shape != distance.shape:
                raise DatasetError(f"{self.name}: {files['entity']}: shape {entity.shape} != depth {distance.shape}")
            valid = entity != -1
        meta = {
            "scene": scene,
            "camera": camera,
            "frame": frame,
            "image_path": files["image"],
            "depth_path": files["depth"],
        }
        return self._make_sample(self._item_id(item), image, depth, valid, focal, meta, files["depth"])
