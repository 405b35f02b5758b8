"""Spring (Stuttgart) stereo ground truth: ``.dsp5`` disparity (HDF5) and ``intrinsics.txt``.

A ``.dsp5`` file stores float disparity (px) under the HDF5 key ``"disparity"`` at **twice**
the image resolution (3840×2160 for 1920×1080 images); take every second pixel ([::2, ::2])
to get image resolution. ``cam_data/intrinsics.txt`` holds one row ``fx fy cx cy`` per frame
(row index = frame − 1), at image resolution. Depth (m) = fx · baseline / disparity with the
Spring baseline of 0.065 m.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.hdf5 import read_hdf5_array, write_hdf5_array
from dpbench.io.limits import MAX_CALIB_BYTES, read_text

DISPARITY_KEY = "disparity"


def read_dsp5(path: str | os.PathLike) -> np.ndarray:
    """Read a Spring ``.dsp5`` file as a float32 disparity map at its stored (2×) resolution."""
    array = read_hdf5_array(path, DISPARITY_KEY, "Spring disparity")
    if array.ndim != 2:
        raise DatasetError(f"{path}: disparity must be 2-D, found shape {array.shape}")
    return np.asarray(array, dtype=np.float32)


def write_dsp5(path: str | os.PathLike, disparity: np.ndarray) -> None:
    """Write a disparity map (already at the 2× GT resolution) as a ``.dsp5`` HDF5 file."""
    disparity = np.asarray(disparity)
    if disparity.ndim != 2:
        raise ValueError(f"expected a 2-D disparity, got shape {disparity.shape}")
    write_hdf5_array(path, DISPARITY_KEY, disparity.astype(np.float32))


def read_intrinsics(path: str | os.PathLike) -> np.ndarray:
    """Read ``cam_data/intrinsics.txt`` as an N×4 float64 array of (fx, fy, cx, cy) per frame."""
    path = Path(path)
    text = read_text(path, "Spring intrinsics.txt", MAX_CALIB_BYTES, encoding="ascii", errors="replace")
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.replace(",", " ").split()]
        except ValueError:
            raise DatasetError(f"{path}: line {number}: non-numeric intrinsics {line!r}") from None
        if len(values) != 4:
            raise DatasetError(f"{path}: line {number}: expected 4 values (fx fy cx cy), found {len(values)}")
        if not all(math.isfinite(v) for v in values):
            raise DatasetError(f"{path}: line {number}: non-finite intrinsics {line!r}")
        if not (values[0] > 0 and values[1] > 0):
            raise DatasetError(f"{path}: line {number}: fx and fy must be positive, found {values[0]} {values[1]}")
        rows.append(values)
    if not rows:
        raise DatasetError(f"{path}: no intrinsics rows")
    return np.array(rows, dtype=np.float64)


def write_intrinsics(path: str | os.PathLike, intrinsics: np.ndarray) -> None:
    """Write an N×4 (fx, fy, cx, cy) array as ``intrinsics.txt``, one frame per line."""
    intrinsics = np.asarray(intrinsics, dtype=np.float64)
    if intrinsics.ndim != 2 or intrinsics.shape[1] != 4:
        raise ValueError(f"expected N×4 intrinsics, got {intrinsics.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(" ".join(repr(float(v)) for v in row) + "\n" for row in intrinsics))
