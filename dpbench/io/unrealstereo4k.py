"""UnrealStereo4K camera files (docs/formats.md §16): ``Extrinsics{0,1}/<frame>.txt``.

Each file holds two whitespace-separated lines: the 3×3 intrinsic matrix K (row-major, 9
numbers, pixels at the 3840×2160 image resolution) and the 3×4 world-to-camera matrix [R | t]
(row-major, 12 numbers). The stereo baseline is the distance between the two camera centres
C = −Rᵀt, and depth = fx · baseline / disparity (``Disp0/<frame>.npy``, pixels).
"""

from __future__ import annotations

import os

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.limits import MAX_CALIB_BYTES, read_text


def read_camera(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(K 3×3, [R | t] 3×4) of an UnrealStereo4K ``Extrinsics*/<frame>.txt`` file, float64."""
    lines = [line for line in read_text(path, "UnrealStereo4K camera file", MAX_CALIB_BYTES).splitlines()
             if line.strip()]
    if len(lines) != 2:
        raise DatasetError(f"{path}: expected 2 lines (3x3 intrinsics, 3x4 extrinsics), found {len(lines)}")
    matrices = []
    for number, (line, count, shape) in enumerate(zip(lines, (9, 12), ((3, 3), (3, 4)), strict=True), start=1):
        try:
            values = [float(token) for token in line.split()]
        except ValueError:
            raise DatasetError(f"{path}: line {number} is not a list of numbers") from None
        if len(values) != count or not all(np.isfinite(values)):
            raise DatasetError(f"{path}: line {number} must hold {count} finite numbers, found {len(values)}")
        matrices.append(np.array(values, dtype=np.float64).reshape(shape))
    return matrices[0], matrices[1]


def camera_centre(world_to_camera: np.ndarray) -> np.ndarray:
    """The camera centre C = −Rᵀt of a 3×4 world-to-camera matrix [R | t]."""
    rotation, translation = world_to_camera[:, :3], world_to_camera[:, 3]
    return -rotation.T @ translation


def stereo_baseline(left: np.ndarray, right: np.ndarray) -> float:
    """Distance between the centres of two cameras given as 3×4 world-to-camera matrices."""
    return float(np.linalg.norm(camera_centre(right) - camera_centre(left)))


def write_camera(path: str | os.PathLike, intrinsics: np.ndarray, world_to_camera: np.ndarray) -> None:
    """Write a camera file in the UnrealStereo4K format (fixtures and tests)."""
    rows = [np.asarray(intrinsics, dtype=np.float64).ravel(), np.asarray(world_to_camera, dtype=np.float64).ravel()]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(" ".join(repr(float(v)) for v in row) for row in rows) + "\n")
