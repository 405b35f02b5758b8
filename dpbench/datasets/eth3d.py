"""ETH3D high-res multi-view DSLR training scenes (docs/formats.md §2): distorted JPEGs + raw GT depth.

``ground_truth_depth/dslr_images/DSC_XXXX.JPG`` is not a JPEG but H·W raw float32 depths
(+inf = no GT) aligned with the *distorted* ``images/dslr_images/DSC_XXXX.JPG``. The depth is
memory-mapped with the shape of the stored image and receives the same EXIF orientation
transform as the image, so both orientations of the 4032×6048 array are handled.
``meta["intrinsics"]`` = [fx, fy, cx, cy] of the COLMAP camera the focal comes from, moved from
COLMAP's corner-origin pixel frame to 0-based pixel centres (cx − 0.5) and through the EXIF
orientation (none with ``focal_source = "exif"``).
"""

from __future__ import annotations

import os
from pathlib import Path

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset
from dpbench.errors import DatasetError
from dpbench.io.colmap import ColmapCamera, read_cameras_txt, read_images_txt
from dpbench.io.eth3d import read_depth
from dpbench.io.image import apply_orientation, orient_intrinsics, read_image_oriented
from dpbench.types import Sample

_DEPTH_DIR = "ground_truth_depth/dslr_images"
_IMAGE_DIR = "images/dslr_images"
_CALIB = {"calibration": "dslr_calibration_jpg", "undistorted": "dslr_calibration_undistorted"}


@register_dataset("eth3d")
class ETH3D(DepthDataset):
    """ETH3D DSLR training images (distorted JPEGs) with laser-scan GT depth."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise", *,
                 focal_source: str | None = None):
        self._calibrations: dict[tuple[str, str], dict[str, ColmapCamera]] = {}
        super().__init__(root, split, on_error, focal_source=focal_source)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        root = Path(root)
        return root.is_dir() and any((scene / _DEPTH_DIR).is_dir() for scene in root.iterdir())

    def _index(self) -> list[tuple[str, Path, Path]]:
        if self.split == "train":
            scenes = list(self.spec.get("train_scenes", []))
        else:
            scenes = sorted(p.name for p in self.root.iterdir() if (p / _DEPTH_DIR).is_dir())
        calib_dir = _CALIB.get(self.options["focal_source"])
        items = []
        for scene in scenes:
            depth_dir = self.root / scene / _DEPTH_DIR
            if not depth_dir.is_dir():
                self._skip_or_raise(scene, f"scene folder {depth_dir} not found")
                continue
            if calib_dir is not None:
                missing = [n for n in ("cameras.txt", "images.txt") if not (self.root / scene / calib_dir / n).is_file()]
                if missing:
                    self._skip_or_raise(scene, f"missing {calib_dir}/{' and '.join(missing)} in {self.root / scene}")
                    continue
            for depth_path in sorted(p for p in depth_dir.iterdir() if p.is_file()):
                image_path = self.root / scene / _IMAGE_DIR / depth_path.name
                if not image_path.is_file():
                    self._skip_or_raise(f"{scene}/{depth_path.name}", f"missing image {image_path}")
                    continue
                items.append((scene, image_path, depth_path))
        return items

    def _item_id(self, item: tuple[str, Path, Path]) -> str:
        return f"{item[0]}/{item[1].stem}"

    def _camera_of(self, scene: str, kind: str, image_name: str) -> ColmapCamera:
        """The COLMAP camera of an image in ``<scene>/<calib folder>`` (files parsed once)."""
        key = (scene, kind)
        if key not in self._calibrations:
            folder = self.root / scene / _CALIB[kind]
            cameras = read_cameras_txt(folder / "cameras.txt")
            by_name = {}
            for image in read_images_txt(folder / "images.txt").values():
                if image.camera_id not in cameras:
                    raise DatasetError(f"{self.name}: {folder / 'images.txt'}: image {image.name} uses "
                                       f"camera {image.camera_id}, absent from cameras.txt")
                by_name[Path(image.name).name] = cameras[image.camera_id]
            self._calibrations[key] = by_name
        camera = self._calibrations[key].get(image_name)
        if camera is None:
            raise DatasetError(f"{self.name}: {self.root / scene / _CALIB[kind] / 'images.txt'}: "
                               f"no entry for image {image_name}")
        return camera

    def _intrinsics(self, scene: str, image_path: Path, orientation: int,
                    stored_hw: tuple[int, int]) -> tuple[float, list[float] | None]:
        """(focal px, [fx, fy, cx, cy] or None) of the shown (EXIF-oriented) image, 0-based pixel
        centres; EXIF focal lengths come without a principal point (None)."""
        source = self.options["focal_source"]
        height, width = stored_hw
        if source == "exif":
            from dpbench.io.exif import focal_px_from_exif, read_exif_focal

            result = focal_px_from_exif(read_exif_focal(image_path), self.spec.get("sensor_width_mm"))
            if result.focal_px is None:
                raise DatasetError(f"{self.name}: {image_path}: no EXIF focal length ({result.reason})")
            return result.focal_px, None
        camera = self._camera_of(scene, source, image_path.name)
        cx, cy = camera.principal_point
        if source == "calibration":
            if (camera.width, camera.height) != (width, height):
                raise DatasetError(
                    f"{self.name}: {self.root / scene / _CALIB[source] / 'cameras.txt'}: camera "
                    f"{camera.camera_id} is {camera.width}x{camera.height} but {image_path} is {width}x{height}"
                )
            stored = [camera.fx, camera.fy, cx - 0.5, cy - 0.5]
        else:  # undistorted pinhole camera, rescaled to the distorted image's size
            sx, sy = width / camera.width, height / camera.height
            stored = [camera.fx * sx, camera.fy * sy, cx * sx - 0.5, cy * sy - 0.5]
        intrinsics = orient_intrinsics(*stored, orientation, stored_hw)
        return intrinsics[0], intrinsics

    def _load(self, item: tuple[str, Path, Path]) -> Sample:
        scene, image_path, depth_path = item
        image, orientation, stored_hw = read_image_oriented(image_path)
        depth = apply_orientation(read_depth(depth_path, stored_hw), orientation)
        focal, intrinsics = self._intrinsics(scene, image_path, orientation, stored_hw)
        meta = {
            "scene": scene,
            "camera": "dslr",
            "image_path": image_path,
            "depth_path": depth_path,
            "exif_orientation": orientation,
            "focal_source": self.options["focal_source"],
        }
        if intrinsics is not None:
            meta["intrinsics"] = intrinsics  # the GT has the image's size: no rescaling
        return self._make_sample(self._item_id(item), image, depth, None, focal, meta, depth_path)
