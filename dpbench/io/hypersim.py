"""HyperSim HDF5 arrays (key ``"dataset"``) and the distance → planar depth conversion.

``frame.IIII.depth_meters.hdf5`` holds the Euclidean distance from the camera centre in
metres (NaN = no surface), not planar depth. Planar depth = distance · f / sqrt(x² + y² + f²)
with x = u − (W − 1)/2, y = v − (H − 1)/2 (pixel centres) and f the focal length in pixels
(886.81 px for the standard 1024×768, 60° horizontal FoV camera).
"""

from __future__ import annotations

import os

import numpy as np

from dpbench.io.hdf5 import read_hdf5_array, write_hdf5_array

DATASET_KEY = "dataset"


def read_hdf5(path: str | os.PathLike) -> np.ndarray:
    """Read the array stored under ``"dataset"`` in a HyperSim HDF5 file."""
    return read_hdf5_array(path, DATASET_KEY, "HyperSim HDF5")


def write_hdf5(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an array under ``"dataset"`` (float16 like the release, or any dtype given)."""
    write_hdf5_array(path, DATASET_KEY, np.asarray(array))


def distance_to_planar(distance: np.ndarray, focal_px: float) -> np.ndarray:
    """Planar z-depth from distance to the camera centre: d · f / sqrt(x² + y² + f²) (float32)."""
    distance = np.asarray(distance, dtype=np.float64)
    if distance.ndim != 2:
        raise ValueError(f"expected an H×W distance map, got shape {distance.shape}")
    height, width = distance.shape
    x = np.arange(width, dtype=np.float64) - (width - 1) / 2.0
    y = np.arange(height, dtype=np.float64) - (height - 1) / 2.0
    f = float(focal_px)
    scale = f / np.sqrt(x[None, :] ** 2 + y[:, None] ** 2 + f * f)
    return (distance * scale).astype(np.float32)


def planar_to_distance(depth: np.ndarray, focal_px: float) -> np.ndarray:
    """Inverse of :func:`distance_to_planar` (for writing test and sample data)."""
    depth = np.asarray(depth, dtype=np.float64)
    height, width = depth.shape
    x = np.arange(width, dtype=np.float64) - (width - 1) / 2.0
    y = np.arange(height, dtype=np.float64) - (height - 1) / 2.0
    f = float(focal_px)
    return (depth * np.sqrt(x[None, :] ** 2 + y[:, None] ** 2 + f * f) / f).astype(np.float32)
