"""nuScenes: the relational JSON tables, LiDAR ``.pcd.bin`` files, and LiDAR → image projection.

Tables (``<dataroot>/v1.0-*/<table>.json``) are JSON arrays of records keyed by ``token``.
A LiDAR file is headerless little-endian float32, 5 values per point (x, y, z, intensity,
ring index) in the LiDAR frame, metres. The projection follows the devkit's
``map_pointcloud_to_image``: LiDAR → ego (LiDAR time) → global → ego (camera time) → camera,
quaternions w, x, y, z; depth is the camera-frame z; points with z ≤ ``min_dist`` or outside
1 < u < W − 1, 1 < v < H − 1 are dropped. Rasterising into a depth map (not in the devkit)
puts each point in the pixel given by the ``rounding`` rule, nearest point winning.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.limits import MAX_PIXELS_ENV, MAX_TABLE_BYTES, max_pixels, read_json

TABLES = ("scene", "sample", "sample_data", "calibrated_sensor", "ego_pose", "sensor")
ROUNDING_RULES = ("round", "floor")
POINT_DIMS = 5


def load_table(version_dir: str | os.PathLike, name: str) -> list[dict]:
    """Load ``<version_dir>/<name>.json`` (a JSON array of records, each with a ``token``)."""
    path = Path(version_dir) / f"{name}.json"
    records = read_json(path, "nuScenes table", limit=MAX_TABLE_BYTES)
    if not isinstance(records, list) or not all(isinstance(r, dict) and "token" in r for r in records):
        raise DatasetError(f"{path}: expected a JSON array of records with a 'token' field")
    return records


def write_table(version_dir: str | os.PathLike, name: str, records: Sequence[dict]) -> None:
    """Write a table as ``<version_dir>/<name>.json`` (indented like the official release)."""
    path = Path(version_dir) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(records), indent=0), encoding="utf-8")


def read_pcd_bin(path: str | os.PathLike) -> np.ndarray:
    """Read a LiDAR ``.pcd.bin`` as an N×4 float32 array (x, y, z, intensity; ring dropped)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: LiDAR file not found")
    size = path.stat().st_size
    if size % (4 * POINT_DIMS):
        raise DatasetError(
            f"{path}: LiDAR file size {size} is not a multiple of {4 * POINT_DIMS} bytes "
            f"({POINT_DIMS} float32 per point); truncated or not a .pcd.bin"
        )
    count = size // (4 * POINT_DIMS)
    if count > max_pixels():
        raise DatasetError(
            f"{path}: LiDAR file holds {count:,} points, over the limit of {max_pixels():,} "
            f"(a sweep has ~35,000; set ${MAX_PIXELS_ENV} to read larger files)"
        )
    if count == 0:
        return np.zeros((0, 4), dtype=np.float32)
    points = np.memmap(path, dtype="<f4", mode="r", shape=(count, POINT_DIMS))
    return np.array(points[:, :4], dtype=np.float32)


def write_pcd_bin(path: str | os.PathLike, points: np.ndarray) -> None:
    """Write N×5 (x, y, z, intensity, ring) or N×4 (ring written as 0) points as ``.pcd.bin``."""
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] not in (4, 5):
        raise ValueError(f"expected N×4 or N×5 points, got shape {points.shape}")
    if points.shape[1] == 4:
        points = np.hstack([points, np.zeros((len(points), 1), np.float32)])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.ascontiguousarray(points, dtype="<f4").tofile(handle)


def quaternion_to_matrix(quaternion: Sequence[float]) -> np.ndarray:
    """3×3 rotation matrix of a quaternion given as (w, x, y, z); normalised first."""
    w, x, y, z = (float(v) for v in quaternion)
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    if norm == 0 or not math.isfinite(norm):
        raise ValueError(f"invalid quaternion {tuple(quaternion)}")
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


@dataclass(frozen=True)
class Pose:
    """A rigid transform child → parent: p_parent = R(rotation) · p_child + translation."""

    rotation: tuple[float, float, float, float]  # w, x, y, z
    translation: tuple[float, float, float]

    @classmethod
    def from_record(cls, record: dict) -> Pose:
        """From a ``calibrated_sensor`` or ``ego_pose`` record."""
        return cls(tuple(float(v) for v in record["rotation"]), tuple(float(v) for v in record["translation"]))

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Map N×3 points from the child frame to the parent frame."""
        return points @ quaternion_to_matrix(self.rotation).T + np.asarray(self.translation)

    def apply_inverse(self, points: np.ndarray) -> np.ndarray:
        """Map N×3 points from the parent frame to the child frame: Rᵀ (p − t)."""
        return (points - np.asarray(self.translation)) @ quaternion_to_matrix(self.rotation)


def lidar_points_in_camera(points: np.ndarray, lidar_sensor: Pose, lidar_ego: Pose,
                           camera_ego: Pose, camera_sensor: Pose) -> np.ndarray:
    """N×3 LiDAR-frame points → camera frame via ego (LiDAR time), global, ego (camera time)."""
    xyz = np.asarray(points, dtype=np.float64)[:, :3]
    xyz = lidar_sensor.apply(xyz)
    xyz = lidar_ego.apply(xyz)
    xyz = camera_ego.apply_inverse(xyz)
    return camera_sensor.apply_inverse(xyz)


def rasterize_depth(points_camera: np.ndarray, intrinsics: np.ndarray, width: int, height: int,
                    min_dist: float = 1.0, rounding: str = "round") -> np.ndarray:
    """Sparse H×W float32 depth map (m, 0 = no point) from camera-frame points.

    Keeps z > ``min_dist`` and 1 < u < W − 1, 1 < v < H − 1 with (u, v) = (K·p)[:2] / z; the
    pixel is (floor(v + 0.5), floor(u + 0.5)) for ``rounding="round"`` (pixel centres at
    integer coordinates) or (floor(v), floor(u)) for ``"floor"``; the smallest depth wins.
    """
    if rounding not in ROUNDING_RULES:
        raise ValueError(f"rounding must be one of {ROUNDING_RULES}, got {rounding!r}")
    K = np.asarray(intrinsics, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"intrinsics must be 3×3, got {K.shape}")
    pts = np.asarray(points_camera, dtype=np.float64)
    z = pts[:, 2]
    ahead = z > float(min_dist)
    pts, z = pts[ahead], z[ahead]
    projected = pts @ K.T
    u = projected[:, 0] / projected[:, 2]
    v = projected[:, 1] / projected[:, 2]
    inside = (u > 1) & (u < width - 1) & (v > 1) & (v < height - 1)
    u, v, z = u[inside], v[inside], z[inside]
    offset = 0.5 if rounding == "round" else 0.0
    cols = np.floor(u + offset).astype(np.int64)
    rows = np.floor(v + offset).astype(np.int64)
    flat = rows * width + cols
    order = np.lexsort((z, flat))  # by pixel, then nearest first
    flat, z = flat[order], z[order]
    first = np.ones(len(flat), dtype=bool)
    first[1:] = flat[1:] != flat[:-1]
    depth = np.zeros(height * width, dtype=np.float32)
    depth[flat[first]] = z[first]
    return depth.reshape(height, width)
