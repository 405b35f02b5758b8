"""SUN RGB-D: bit-rotated 16-bit depth PNGs, ``intrinsics.txt`` and the toolbox's ``allsplit.mat``.

Depth decoding (SUN RGB-D toolbox ``read3dPoints.m``): read the PNG as uint16, rotate the bits
right by 3 within 16 bits, ``(raw >> 3) | (raw << 13)``, divide by 1000 for metres, and clamp
values above 8 m to 8 m. 0 stays 0 (no depth). ``intrinsics.txt`` is a 3×3 K as 9 numbers,
row-major. ``allsplit.mat`` holds cell arrays ``alltrain`` and ``alltest`` of folder paths
starting with ``/n/fs/sun3d/data/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.io

from dpbench.errors import DatasetError
from dpbench.io.limits import MAX_CALIB_BYTES, read_text
from dpbench.io.matlab import read_mat
from dpbench.io.png16 import read_png16, write_png16

DEFAULT_CLAMP_M = 8.0
SPLIT_FIELDS = ("alltrain", "alltest")


def decode_depth(raw: np.ndarray, clamp_m: float | None = DEFAULT_CLAMP_M) -> np.ndarray:
    """Metres from raw uint16 values: rotate right by 3 bits, ÷1000, clamp to ``clamp_m``."""
    raw = np.asarray(raw)
    if raw.dtype != np.uint16:
        raise ValueError(f"decode_depth expects uint16 values, got dtype {raw.dtype}")
    rotated = (raw >> np.uint16(3)) | (raw << np.uint16(13))
    depth = rotated.astype(np.float32) / np.float32(1000.0)
    if clamp_m is not None:
        np.minimum(depth, np.float32(clamp_m), out=depth)
    return depth


def encode_depth(depth_m: np.ndarray) -> np.ndarray:
    """Raw uint16 values for depth (m): round to mm, rotate left by 3 bits (inverse of decode).

    Non-finite or non-positive depth becomes 0. Depths ≥ 8.1915 m do not fit the 13 bits the
    rotation preserves as multiples of 8 and raise, since the toolbox would decode them wrongly.
    """
    depth_m = np.asarray(depth_m, dtype=np.float64)
    usable = np.isfinite(depth_m) & (depth_m > 0)
    mm = np.zeros(depth_m.shape, dtype=np.int64)
    mm[usable] = np.round(depth_m[usable] * 1000.0)
    if mm.max(initial=0) >= 1 << 13:
        raise ValueError(f"SUN RGB-D depth PNGs hold at most 8191 mm, got {mm.max()} mm")
    mm = mm.astype(np.uint16)
    return (mm << np.uint16(3)) | (mm >> np.uint16(13))


def read_depth_png(path: str | os.PathLike, clamp_m: float | None = DEFAULT_CLAMP_M) -> np.ndarray:
    """Read a SUN RGB-D depth PNG (``depth/`` or ``depth_bfx/``) as H×W float32 metres."""
    return decode_depth(read_png16(path), clamp_m)


def write_depth_png(path: str | os.PathLike, depth_m: np.ndarray) -> np.ndarray:
    """Write depth (m) as a SUN RGB-D bit-rotated 16-bit PNG; returns the raw values written."""
    raw = encode_depth(depth_m)
    write_png16(path, raw)
    return raw


def read_intrinsics(path: str | os.PathLike) -> np.ndarray:
    """Read ``intrinsics.txt`` (9 numbers, row-major) as a 3×3 float64 K."""
    path = Path(path)
    text = read_text(path, "intrinsics.txt", MAX_CALIB_BYTES, encoding="ascii")
    try:
        values = [float(v) for v in text.split()]
    except ValueError:
        raise DatasetError(f"{path}: intrinsics.txt must hold 9 numbers (non-numeric text found)") from None
    if len(values) != 9:
        raise DatasetError(f"{path}: intrinsics.txt must hold 9 numbers (3×3 K), found {len(values)}")
    K = np.array(values, dtype=np.float64).reshape(3, 3)
    if not np.isfinite(K).all():
        raise DatasetError(f"{path}: intrinsics.txt holds a non-finite number: {values}")
    for name, value in (("fx (first number)", K[0, 0]), ("fy (fifth number)", K[1, 1])):
        if not value > 0:
            raise DatasetError(f"{path}: {name} must be positive, found {value}")
    return K


def write_intrinsics(path: str | os.PathLike, K: np.ndarray) -> None:
    """Write a 3×3 K as ``intrinsics.txt``: three lines of three numbers, exact to read back."""
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"intrinsics must be 3×3, got {K.shape}")
    lines = [" ".join(repr(float(v)) for v in row) for row in K]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def _cell_strings(path: Path, name: str, value) -> list[str]:
    array = np.asarray(value, dtype=object).reshape(-1)
    out = []
    for entry in array:
        while isinstance(entry, np.ndarray):
            if entry.size != 1:
                if entry.dtype.kind in "U":
                    entry = "".join(entry.reshape(-1).tolist())
                    break
                raise DatasetError(f"{path}: {name} must be a cell array of strings")
            entry = entry.reshape(-1)[0]
        if not isinstance(entry, str):
            raise DatasetError(f"{path}: {name} holds a {type(entry).__name__}, expected strings")
        out.append(entry)
    return out


def read_allsplit(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read ``allsplit.mat`` as ``{"alltrain": [...], "alltest": [...]}`` (paths as stored)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: allsplit.mat not found")
    data = read_mat(path, "SUN RGB-D allsplit.mat")
    missing = [name for name in SPLIT_FIELDS if name not in data]
    if missing:
        raise DatasetError(f"{path}: allsplit.mat lacks the field(s) {', '.join(missing)}")
    return {name: _cell_strings(path, name, data[name]) for name in SPLIT_FIELDS}


def write_allsplit(path: str | os.PathLike, alltrain: list[str], alltest: list[str]) -> None:
    """Write an ``allsplit.mat`` with 1×N cell arrays ``alltrain`` and ``alltest``."""
    def cell(items: list[str]) -> np.ndarray:
        array = np.empty((1, len(items)), dtype=object)
        for index, item in enumerate(items):
            array[0, index] = item
        return array

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {"alltrain": cell(alltrain), "alltest": cell(alltest)})


def relative_split_path(entry: str) -> str:
    """Strip the toolbox's absolute prefix: the part after ``SUNRGBD/`` (else the entry as is).

    '/n/fs/sun3d/data/SUNRGBD/kv2/kinect2data/000065_x/' → 'kv2/kinect2data/000065_x'.
    """
    entry = entry.strip().replace("\\", "/")
    marker = "SUNRGBD/"
    index = entry.find(marker)
    if index >= 0:
        entry = entry[index + len(marker) :]
    return entry.strip("/")
