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


#: Fields of ``ibims1_core_mat/<name>.mat`` (a 1×1 struct ``data``) the iBims metrics read.
ANNOTATION_FIELDS = ("edges", "calib", "mask_wall", "mask_table", "mask_floor",
                     "mask_wall_paras", "mask_table_paras", "mask_floor_paras")
#: The plane types of the official script, in its order.
PLANE_TYPES = ("wall", "table", "floor")


def read_annotations(path: str | os.PathLike, shape: tuple[int, int] | None = None) -> dict:
    """The iBims-1 annotations of one ``.mat`` file of the official layout (``data`` struct).

    Returns ``edges`` (H×W bool), ``calib`` (3×3 float64, MATLAB ``IntrinsicMatrix`` layout: fx at
    [0,0], fy at [1,1], cx at [2,0], cy at [2,1], 1-based pixels), and per plane type
    ``mask_<type>`` (H×W int64 labels) and ``mask_<type>_paras`` (n×7 float64, n = 0 when absent).
    DatasetError naming the file and the field when one is missing or malformed.
    """
    from scipy.io import loadmat

    path = Path(path)
    try:
        content = loadmat(path)
    except Exception as exc:  # scipy raises ValueError, OSError, MatReadError...
        raise DatasetError(f"{path}: not a readable MATLAB file ({type(exc).__name__}: {exc})") from None
    data = content.get("data")
    if data is None or getattr(data, "dtype", None) is None or data.dtype.names is None or data.size != 1:
        raise DatasetError(f"{path}: no 1×1 struct 'data' (the official iBims-1 .mat layout)")
    names = set(data.dtype.names)
    out: dict = {}
    for name in ANNOTATION_FIELDS:
        if name not in names:
            raise DatasetError(f"{path}: field 'data.{name}' is missing (needed by the iBims metrics)")
        value = np.asarray(data[name].flat[0])
        if name == "calib":
            try:
                value = value.astype(np.float64)
            except (TypeError, ValueError):
                value = np.empty(0)
            if value.shape != (3, 3) or not np.isfinite(value).all():
                raise DatasetError(f"{path}: field 'data.calib' must be a finite 3×3 matrix, got shape {value.shape}")
        elif name.endswith("_paras"):
            value = value.astype(np.float64) if value.size else np.zeros((0, 7))
            if value.ndim == 1 and value.size == 7:
                value = value[None, :]
            if value.ndim != 2 or value.shape[1] != 7:
                raise DatasetError(f"{path}: field 'data.{name}' must be n×7, got shape {value.shape}")
        else:
            if value.ndim != 2 or (shape is not None and value.shape != tuple(shape)):
                want = f"{shape[0]}×{shape[1]}" if shape is not None else "a 2-D map"
                raise DatasetError(f"{path}: field 'data.{name}' has shape {value.shape}, expected {want}")
            if not np.issubdtype(value.dtype, np.number) and value.dtype != np.bool_:
                raise DatasetError(f"{path}: field 'data.{name}' is not numeric ({value.dtype})")
            value = value != 0 if name == "edges" else value.astype(np.int64)
        out[name] = value
    for kind in PLANE_TYPES:
        labels, paras = out[f"mask_{kind}"], out[f"mask_{kind}_paras"]
        if labels.max(initial=0) > paras.shape[0]:
            raise DatasetError(f"{path}: field 'data.mask_{kind}' has label {int(labels.max())} but "
                               f"'data.mask_{kind}_paras' only {paras.shape[0]} row(s)")
    return out
