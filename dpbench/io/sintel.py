"""MPI-Sintel TAG files: ``.dpt`` depth maps and ``.cam`` cameras (little-endian throughout).

Both start with the float32 tag 202021.25 (the ASCII bytes "PIEH"). A ``.dpt`` then holds int32
width, int32 height and W·H float32 depths in metres, row-major. A ``.cam`` holds the 3×3
intrinsics M (9 float64, row-major) then the 3×4 world→camera extrinsics N (12 float64), so
that x = M·N·X; the file is exactly 172 bytes.

Sintel's stereo disparities are RGB PNGs decoded as 4·R + G/2⁶ + B/2¹⁴ (also here).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.limits import check_pixels

TAG_FLOAT = 202021.25
TAG_BYTES = np.array([TAG_FLOAT], dtype="<f4").tobytes()  # b"PIEH"
CAM_SIZE = 4 + 9 * 8 + 12 * 8
_MAX_SIDE = 1 << 16


def _check_tag(path: Path, head: bytes, kind: str) -> None:
    if len(head) < 4:
        raise DatasetError(f"{path}: truncated Sintel {kind} file ({len(head)} bytes, no tag)")
    if head[:4] != TAG_BYTES:
        found = float(np.frombuffer(head[:4], dtype="<f4")[0])
        raise DatasetError(
            f"{path}: not a Sintel {kind} file: expected tag {TAG_FLOAT} ({TAG_BYTES!r}), "
            f"found {found!r} ({head[:4]!r}); wrong file or wrong byte order"
        )


def read_dpt(path: str | os.PathLike) -> np.ndarray:
    """Read a Sintel ``.dpt`` depth map as H×W float32 metres (sky is a huge finite value)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: Sintel depth file not found")
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
    _check_tag(path, head, ".dpt")
    if len(head) < 12:
        raise DatasetError(f"{path}: truncated .dpt header ({len(head)} of 12 bytes)")
    width, height = (int(v) for v in np.frombuffer(head[4:12], dtype="<i4"))
    if not (0 < width < _MAX_SIDE and 0 < height < _MAX_SIDE):
        raise DatasetError(f"{path}: implausible .dpt size {width}x{height}")
    check_pixels(path, (height, width), ".dpt header")
    expected = 12 + width * height * 4
    if size != expected:
        raise DatasetError(
            f"{path}: .dpt size mismatch: header says {width}x{height} ({expected} bytes), "
            f"file has {size} bytes"
        )
    depth = np.fromfile(path, dtype="<f4", count=width * height, offset=12)
    return depth.reshape(height, width).astype(np.float32, copy=False)


def write_dpt(path: str | os.PathLike, depth: np.ndarray) -> None:
    """Write an H×W depth map (metres) as a Sintel ``.dpt`` file."""
    depth = np.asarray(depth)
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"write_dpt expects an H×W float array, got shape {depth.shape} dtype {depth.dtype}")
    height, width = depth.shape
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        TAG_BYTES
        + np.array([width, height], dtype="<i4").tobytes()
        + np.ascontiguousarray(depth, dtype="<f4").tobytes()
    )


def read_cam(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a Sintel ``.cam`` file as ``(M, N)``: 3×3 intrinsics and 3×4 world→camera, float64."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: Sintel camera file not found")
    size = path.stat().st_size
    with path.open("rb") as handle:
        data = handle.read(CAM_SIZE + 1)  # never more than one byte beyond a valid file
    _check_tag(path, data, ".cam")
    if size != CAM_SIZE:
        raise DatasetError(
            f"{path}: .cam size mismatch: expected {CAM_SIZE} bytes (tag + 9 + 12 float64), "
            f"found {size}"
        )
    values = np.frombuffer(data, dtype="<f8", offset=4)
    intrinsics, extrinsics = values[:9].reshape(3, 3).astype(np.float64), values[9:].reshape(3, 4).astype(np.float64)
    if not (np.isfinite(intrinsics).all() and np.isfinite(extrinsics).all()):
        raise DatasetError(f"{path}: .cam holds a non-finite value")
    if not (intrinsics[0, 0] > 0 and intrinsics[1, 1] > 0):
        raise DatasetError(
            f"{path}: .cam focal lengths M[0,0], M[1,1] must be positive, found "
            f"{intrinsics[0, 0]}, {intrinsics[1, 1]}"
        )
    return intrinsics, extrinsics


def write_cam(path: str | os.PathLike, intrinsics: np.ndarray, extrinsics: np.ndarray) -> None:
    """Write a 3×3 intrinsics M and a 3×4 world→camera N as a Sintel ``.cam`` file."""
    intrinsics = np.asarray(intrinsics, dtype=np.float64)
    extrinsics = np.asarray(extrinsics, dtype=np.float64)
    if intrinsics.shape != (3, 3) or extrinsics.shape != (3, 4):
        raise ValueError(
            f"write_cam expects M 3×3 and N 3×4, got {intrinsics.shape} and {extrinsics.shape}"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(TAG_BYTES + intrinsics.astype("<f8").tobytes() + extrinsics.astype("<f8").tobytes())


def decode_disparity_png(rgb: np.ndarray) -> np.ndarray:
    """Sintel stereo disparity from its RGB PNG encoding: 4·R + G/2⁶ + B/2¹⁴ (float32 pixels)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 array, got shape {rgb.shape} dtype {rgb.dtype}")
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return (4.0 * r + g / 64.0 + b / 16384.0).astype(np.float32)


def encode_disparity_png(disparity: np.ndarray) -> np.ndarray:
    """Inverse of :func:`decode_disparity_png` (disparity in [0, 1024), quantised to 2⁻¹⁴ px)."""
    disparity = np.asarray(disparity, dtype=np.float64)
    if np.any(~np.isfinite(disparity)) or disparity.min(initial=0) < 0 or disparity.max(initial=0) >= 1024:
        raise ValueError("Sintel disparity PNGs hold finite values in [0, 1024)")
    units = np.round(disparity * 16384.0).astype(np.int64)  # in 2^-14 px
    r = units >> 16
    g = (units >> 8) & 0xFF
    b = units & 0xFF
    return np.stack([r, g, b], axis=-1).astype(np.uint8)
