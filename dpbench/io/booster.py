"""Booster (CVLAB Bologna) stereo ground truth: ``disp_00.npy`` and ``calib_00-02.xml``.

The disparity is a float32 H×W NumPy array of left disparities in pixels at full resolution,
0 meaning "no ground truth". The calibration (OpenCV FileStorage XML) holds ``mtxL``/``mtxR``
(3×3), ``proj_matL``/``proj_matR`` (3×4, rectified) and ``baselineLR`` in **millimetres**.
Depth (m) = fx · baseline_mm / disparity / 1000.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.npy import load_npy
from dpbench.io.opencv_xml import read_opencv_xml, write_opencv_xml

FX_SOURCES = ("proj_matL", "mtxL")


@dataclass
class BoosterCalib:
    """The parts of ``calib_00-02.xml`` a depth evaluation needs (matrices float64, baseline mm)."""

    mtxL: np.ndarray | None
    proj_matL: np.ndarray | None
    proj_matR: np.ndarray | None
    baseline_mm: float
    baseline_source: str  # "baselineLR" or "proj_matR" (−proj_matR[0,3] / proj_matR[0,0])
    path: str = "Booster calibration"  # the file read, named in errors

    def focal_px(self, source: str = "proj_matL") -> float:
        """Horizontal focal length in px from ``proj_matL[0,0]`` (rectified) or ``mtxL[0,0]``."""
        if source not in FX_SOURCES:
            raise ValueError(f"fx source must be one of {FX_SOURCES}, got {source!r}")
        matrix = self.proj_matL if source == "proj_matL" else self.mtxL
        if matrix is None:
            raise DatasetError(f"{self.path}: no {source} matrix (needed for fx)")
        focal = float(matrix[0, 0])
        if not (math.isfinite(focal) and focal > 0):
            raise DatasetError(f"{self.path}: {source}[0,0] (focal length, px) must be positive, found {focal}")
        return focal

    def intrinsics(self, source: str = "proj_matL") -> list[float]:
        """``[fx, fy, cx, cy]`` (px, OpenCV's 0-based pixel centres) of the matrix ``focal_px``
        reads, so that the principal point belongs to the same (rectified or raw) camera."""
        fx = self.focal_px(source)
        matrix = self.proj_matL if source == "proj_matL" else self.mtxL
        fy, cx, cy = float(matrix[1, 1]), float(matrix[0, 2]), float(matrix[1, 2])
        if not fy > 0:
            raise DatasetError(f"{self.path}: {source}[1,1] (focal length, px) must be positive, found {fy}")
        return [fx, fy, cx, cy]


def _matrix(path: Path, nodes: dict, name: str, shape: tuple[int, int]) -> np.ndarray | None:
    value = nodes.get(name)
    if value is None:
        return None
    if not isinstance(value, np.ndarray) or value.shape != shape:
        found = value.shape if isinstance(value, np.ndarray) else type(value).__name__
        raise DatasetError(f"{path}: {name} must be a {shape[0]}x{shape[1]} matrix, found {found}")
    return value.astype(np.float64)


def read_booster_calib(path: str | os.PathLike) -> BoosterCalib:
    """Read ``calib_00-02.xml``; without ``baselineLR`` the baseline is −proj_matR[0,3]/proj_matR[0,0]."""
    path = Path(path)
    nodes = read_opencv_xml(path)
    mtx_l = _matrix(path, nodes, "mtxL", (3, 3))
    proj_l = _matrix(path, nodes, "proj_matL", (3, 4))
    proj_r = _matrix(path, nodes, "proj_matR", (3, 4))
    if mtx_l is None and proj_l is None:
        raise DatasetError(f"{path}: calibration field(s) missing: neither proj_matL nor mtxL (needed for fx)")
    baseline = nodes.get("baselineLR")
    if baseline is not None:
        if isinstance(baseline, np.ndarray) and baseline.size == 1:
            baseline = float(baseline.reshape(-1)[0])
        if not isinstance(baseline, (int, float)):
            raise DatasetError(f"{path}: baselineLR must be a number (mm), found {baseline!r}")
        baseline_mm, source = float(baseline), "baselineLR"
    elif proj_r is not None and proj_r[0, 0] != 0:
        baseline_mm, source = float(-proj_r[0, 3] / proj_r[0, 0]), "proj_matR"
    else:
        raise DatasetError(f"{path}: calibration field(s) missing: baselineLR (and no proj_matR to derive it)")
    if not (baseline_mm > 0 and math.isfinite(baseline_mm)):
        raise DatasetError(f"{path}: baseline must be a positive number of mm, found {baseline_mm}")
    for name, matrix in (("mtxL", mtx_l), ("proj_matL", proj_l), ("proj_matR", proj_r)):
        if matrix is None:
            continue
        if not np.isfinite(matrix).all():
            raise DatasetError(f"{path}: {name} holds a non-finite value: {matrix.tolist()}")
    return BoosterCalib(mtx_l, proj_l, proj_r, baseline_mm, source, path=str(path))


def write_booster_calib(path: str | os.PathLike, mtxL: np.ndarray, proj_matL: np.ndarray,
                        proj_matR: np.ndarray, baseline_mm: float | None,
                        mtxR: np.ndarray | None = None) -> None:
    """Write a ``calib_00-02.xml`` in OpenCV's layout (``baseline_mm=None`` omits baselineLR)."""
    nodes: dict = {"mtxL": np.asarray(mtxL, dtype=np.float64)}
    if mtxR is not None:
        nodes["mtxR"] = np.asarray(mtxR, dtype=np.float64)
    nodes["proj_matL"] = np.asarray(proj_matL, dtype=np.float64)
    nodes["proj_matR"] = np.asarray(proj_matR, dtype=np.float64)
    if baseline_mm is not None:
        nodes["baselineLR"] = float(baseline_mm)
    write_opencv_xml(path, nodes)


def read_booster_disparity(path: str | os.PathLike) -> np.ndarray:
    """Read ``disp_XX.npy`` (memory-mapped) as an H×W float32 disparity in pixels (0 = no GT)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: Booster disparity file not found")
    array = load_npy(path, "Booster disparity", mmap=True)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim != 2:
        raise DatasetError(f"{path}: disparity must be a 2-D H×W array, found shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise DatasetError(f"{path}: disparity must be floating point, found dtype {array.dtype}")
    return array


def write_booster_disparity(path: str | os.PathLike, disparity: np.ndarray) -> None:
    """Write an H×W disparity map (px, 0 = no GT) as a float32 ``.npy`` file."""
    disparity = np.asarray(disparity)
    if disparity.ndim != 2:
        raise ValueError(f"expected an H×W disparity, got shape {disparity.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.save(handle, np.ascontiguousarray(disparity, dtype=np.float32), allow_pickle=False)


def disparity_to_depth(disparity: np.ndarray, focal_px: float, baseline_mm: float) -> np.ndarray:
    """Depth in metres: fx · baseline_mm / d / 1000 where d > 0 and finite, else 0 (no GT)."""
    disparity = np.asarray(disparity)
    usable = np.isfinite(disparity) & (disparity > 0)
    depth = np.zeros(disparity.shape, dtype=np.float32)
    np.divide(np.float32(focal_px * baseline_mm / 1000.0), disparity, out=depth, where=usable,
              dtype=np.float32)
    return depth
