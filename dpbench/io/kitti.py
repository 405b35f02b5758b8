"""KITTI raw calibration files (``calib_cam_to_cam.txt``): ``key: v1 v2 ...`` lines.

The rectified projection of the left colour camera is ``P_rect_02`` (3×4); its [0, 0] entry is
the focal length in pixels of ``image_02``. Depth maps are uint16 PNGs, metres = value / 256
(see :mod:`dpbench.io.png16`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.limits import MAX_CALIB_BYTES, read_text

METRES_PER_UNIT = 1.0 / 256.0


def read_calib_file(path: str | os.PathLike) -> dict[str, np.ndarray | str]:
    """Read a KITTI calibration text file: numeric values as float64 arrays, others as text."""
    path = Path(path)
    text = read_text(path, "KITTI calibration file", MAX_CALIB_BYTES, encoding="ascii", errors="replace")
    out: dict[str, np.ndarray | str] = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        try:
            out[key.strip()] = np.array([float(v) for v in value.split()], dtype=np.float64)
        except ValueError:
            out[key.strip()] = value.strip()
    return out


def read_p_rect(path: str | os.PathLike, camera: str = "02") -> np.ndarray:
    """The 3×4 rectified projection matrix ``P_rect_<camera>`` of ``calib_cam_to_cam.txt``."""
    values = read_calib_file(path).get(f"P_rect_{camera}")
    if not isinstance(values, np.ndarray) or values.size != 12:
        raise DatasetError(f"{path}: calibration field P_rect_{camera} missing or not 12 numbers")
    if not np.isfinite(values).all():
        raise DatasetError(f"{path}: P_rect_{camera} holds a non-finite value: {values.tolist()}")
    if not values[0] > 0:
        raise DatasetError(f"{path}: P_rect_{camera}[0,0] (focal length, px) must be positive, found {values[0]}")
    return values.reshape(3, 4)


def write_calib_file(path: str | os.PathLike, entries: dict[str, np.ndarray | str]) -> None:
    """Write ``key: values`` lines (arrays flattened row-major, exact float text)."""
    lines = []
    for key, value in entries.items():
        if isinstance(value, str):
            lines.append(f"{key}: {value}")
        else:
            lines.append(f"{key}: " + " ".join(repr(float(v)) for v in np.asarray(value).reshape(-1)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
