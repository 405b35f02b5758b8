"""iBims-1 (``ibims1_core_raw``): depth PNGs and per-image calibration text.

Depth is a uint16 PNG with metres = value · 50 / 65535 (0 = missing). ``calib/<name>.txt``
holds ``fx,fy,cx,cy`` (comma-separated; the exact official layout is unconfirmed, so white
space and a 3×3 K written as 9 numbers are accepted too).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.limits import MAX_CALIB_BYTES, read_text

METRES_PER_UNIT = 50.0 / 65535.0


def read_calib(path: str | os.PathLike) -> tuple[float, float, float, float]:
    """Read ``calib/<name>.txt`` as (fx, fy, cx, cy) in pixels."""
    path = Path(path)
    text = read_text(path, "iBims calibration file", MAX_CALIB_BYTES, encoding="ascii", errors="replace")
    text = text.replace(",", " ").replace(";", " ")
    try:
        values = [float(v) for v in text.split()]
    except ValueError:
        raise DatasetError(f"{path}: calibration must hold numbers (fx,fy,cx,cy), found {text.strip()[:60]!r}") from None
    if len(values) == 4:
        fx, fy, cx, cy = values
    elif len(values) == 9:
        fx, fy, cx, cy = values[0], values[4], values[2], values[5]
    else:
        raise DatasetError(f"{path}: expected 4 values (fx,fy,cx,cy) or a 3×3 K, found {len(values)} numbers")
    if not all(math.isfinite(v) for v in (fx, fy, cx, cy)):
        raise DatasetError(f"{path}: calibration holds a non-finite value: {fx}, {fy}, {cx}, {cy}")
    if not (fx > 0 and fy > 0):
        raise DatasetError(f"{path}: fx and fy must be positive, found {fx}, {fy}")
    return fx, fy, cx, cy


def write_calib(path: str | os.PathLike, fx: float, fy: float, cx: float, cy: float) -> None:
    """Write ``fx,fy,cx,cy`` on one line (exact float text)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(",".join(repr(float(v)) for v in (fx, fy, cx, cy)) + "\n", encoding="ascii")


def depth_to_raw(depth_m: np.ndarray) -> np.ndarray:
    """uint16 values for depth in metres: round(depth · 65535 / 50); invalid → 0."""
    depth_m = np.asarray(depth_m, dtype=np.float64)
    usable = np.isfinite(depth_m) & (depth_m > 0)
    raw = np.zeros(depth_m.shape, dtype=np.float64)
    raw[usable] = np.round(depth_m[usable] / METRES_PER_UNIT)
    if raw.max(initial=0) > 65535:
        raise ValueError("iBims depth PNGs hold at most 50 m")
    return raw.astype(np.uint16)
