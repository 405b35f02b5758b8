"""DIODE depth: ``<id>_depth.npy`` float32 metres (H×W×1) and ``<id>_depth_mask.npy`` (1 = valid)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.npy import load_npy


def _load(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(f"{path}: DIODE {what} file not found")
    return load_npy(path, f"DIODE {what}")


def read_depth(path: str | os.PathLike) -> np.ndarray:
    """Read ``_depth.npy`` as an H×W float32 depth map in metres (trailing axis of 1 squeezed)."""
    path = Path(path)
    array = _load(path, "depth")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise DatasetError(f"{path}: expected an H×W(×1) float depth map, found shape {array.shape} dtype {array.dtype}")
    return array.astype(np.float32, copy=False)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read ``_depth_mask.npy`` as an H×W bool validity mask (non-zero = valid)."""
    path = Path(path)
    array = _load(path, "mask")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim != 2:
        raise DatasetError(f"{path}: expected an H×W mask, found shape {array.shape}")
    return array != 0


def write_depth(path: str | os.PathLike, depth: np.ndarray) -> None:
    """Write an H×W depth map as DIODE's (H, W, 1) float32 ``_depth.npy``."""
    depth = np.asarray(depth, dtype=np.float32)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, depth[..., None] if depth.ndim == 2 else depth)


def write_mask(path: str | os.PathLike, valid: np.ndarray) -> None:
    """Write an H×W validity mask as DIODE's float32 ``_depth_mask.npy`` (1 = valid)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(valid).astype(np.float32))
