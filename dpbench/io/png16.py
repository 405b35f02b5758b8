"""Single-channel PNGs: 16-bit sensor depth maps (and their depth scalings) and 8-bit masks.

Each dataset stores depth as uint16 with its own scale: KITTI value / 256 (m), NYUv2 exports
value / 1000 (mm → m), iBims-1 value · 50 / 65535 (m); 0 means "no depth" in all three.
SUN RGB-D adds a bit rotation (see :mod:`dpbench.io.sunrgbd`).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.image import declared_size


def _decode_unchanged(path: Path, what: str) -> np.ndarray:
    """Decode an image file with its bit depth and channels untouched; DatasetError naming it.

    The size the header declares is checked against the pixel limit before OpenCV decodes.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: {what} not found")
    declared_size(path, "PNG")
    buffer = np.fromfile(path, dtype=np.uint8)
    array = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if array is None:
        raise DatasetError(f"{path}: unreadable PNG (truncated or not an image)")
    return array


def read_png16(path: str | os.PathLike) -> np.ndarray:
    """Read a single-channel 16-bit PNG as an H×W uint16 array (values untouched)."""
    path = Path(path)
    array = _decode_unchanged(path, "16-bit PNG")
    if array.ndim != 2:
        raise DatasetError(f"{path}: expected a single-channel depth PNG, found shape {array.shape}")
    if array.dtype != np.uint16:
        raise DatasetError(f"{path}: expected a 16-bit PNG, found dtype {array.dtype}")
    return array


def write_png16(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an H×W uint16 array as a single-channel 16-bit PNG."""
    array = np.asarray(array)
    if array.ndim != 2 or array.dtype != np.uint16:
        raise ValueError(f"write_png16 expects an H×W uint16 array, got shape {array.shape} dtype {array.dtype}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(array))
    if not ok:
        raise ValueError(f"{path}: PNG encoding failed")
    path.write_bytes(encoded.tobytes())


def read_scaled_depth_png(path: str | os.PathLike, metres_per_unit: float) -> np.ndarray:
    """Depth in metres from a uint16 PNG: value · metres_per_unit (0 stays 0 = no depth)."""
    raw = read_png16(path)
    return (raw.astype(np.float64) * float(metres_per_unit)).astype(np.float32)


def write_scaled_depth_png(path: str | os.PathLike, depth_m: np.ndarray, metres_per_unit: float) -> np.ndarray:
    """Quantise depth (m) to round(depth / metres_per_unit) and write it; returns the uint16 written.

    Non-finite or non-positive depth is written as 0; values beyond 65535 units raise.
    """
    depth_m = np.asarray(depth_m, dtype=np.float64)
    usable = np.isfinite(depth_m) & (depth_m > 0)
    units = np.zeros(depth_m.shape, dtype=np.float64)
    units[usable] = np.round(depth_m[usable] / float(metres_per_unit))
    if units.max(initial=0) > 65535:
        raise ValueError(f"depth up to {depth_m[usable].max():.3f} m exceeds the 16-bit range at this scale")
    raw = units.astype(np.uint16)
    write_png16(path, raw)
    return raw


def read_grey_png(path: str | os.PathLike) -> np.ndarray:
    """Read a single-channel (8- or 16-bit) PNG such as a validity or class mask, values untouched.

    A 3-channel file whose channels are equal (a grey mask saved as RGB) is accepted too.
    """
    path = Path(path)
    array = _decode_unchanged(path, "mask PNG")
    if array.ndim == 3:
        if array.shape[2] == 4:
            array = array[..., :3]
        if not (np.array_equal(array[..., 0], array[..., 1]) and np.array_equal(array[..., 0], array[..., 2])):
            raise DatasetError(f"{path}: expected a single-channel mask, found {array.shape[2]} different channels")
        array = np.ascontiguousarray(array[..., 0])
    return array
