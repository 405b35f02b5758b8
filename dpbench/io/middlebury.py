"""Middlebury stereo ``calib.txt`` (MiddEval3, 2014, 2021) and the disparity → depth rule.

``calib.txt`` holds ``key=value`` lines: ``cam0=[f 0 cx; 0 f cy; 0 0 1]`` and ``cam1=[...]``
(MATLAB matrix syntax), ``doffs`` (cx1 − cx0, px), ``baseline`` (mm), ``width``, ``height``,
``ndisp``, ``isint``, ``vmin``, ``vmax`` and, in some releases, ``dyavg``/``dymax``.
Depth in mm is Z = baseline · f / (d + doffs) with f = cam0[0, 0] (pixels).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.limits import MAX_CALIB_BYTES, check_pixels, read_bytes

_REQUIRED = ("cam0", "doffs", "baseline")
_INT_KEYS = ("width", "height", "ndisp", "isint")
_FLOAT_KEYS = ("doffs", "baseline", "vmin", "vmax", "dyavg", "dymax")


@dataclass
class MiddleburyCalib:
    """The fields of a Middlebury ``calib.txt``; ``extra`` keeps any other keys verbatim."""

    cam0: np.ndarray
    cam1: np.ndarray | None
    doffs: float
    baseline: float
    width: int | None = None
    height: int | None = None
    ndisp: int | None = None
    isint: int | None = None
    vmin: float | None = None
    vmax: float | None = None
    dyavg: float | None = None
    dymax: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def focal_px(self) -> float:
        """Focal length of the left camera in pixels (cam0[0, 0])."""
        return float(self.cam0[0, 0])

    @property
    def intrinsics(self) -> list[float]:
        """``[fx, fy, cx, cy]`` of the left camera (cam0), in pixels of this calib's resolution."""
        return [float(self.cam0[0, 0]), float(self.cam0[1, 1]), float(self.cam0[0, 2]), float(self.cam0[1, 2])]


def _parse_matrix(path: Path, key: str, text: str) -> np.ndarray:
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        raise DatasetError(f"{path}: {key} must be a matrix like [f 0 cx; 0 f cy; 0 0 1], found {text!r}")
    rows = [row.split() for row in body[1:-1].split(";")]
    try:
        matrix = np.array([[float(v) for v in row] for row in rows], dtype=np.float64)
    except ValueError:
        raise DatasetError(f"{path}: {key}: non-numeric entry in {text!r}") from None
    if matrix.shape != (3, 3):
        raise DatasetError(f"{path}: {key} must be 3×3, found shape {matrix.shape} in {text!r}")
    return matrix


def read_calib(path: str | os.PathLike) -> MiddleburyCalib:
    """Parse a Middlebury ``calib.txt``; a missing cam0, doffs or baseline is a DatasetError."""
    path = Path(path)
    data = read_bytes(path, "Middlebury calib.txt", limit=MAX_CALIB_BYTES)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a text calib.txt (non-ASCII bytes)") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise DatasetError(f"{path}: line {number}: expected key=value, found {line!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        values[key] = value
    missing = [key for key in _REQUIRED if key not in values]
    if missing:
        raise DatasetError(f"{path}: calibration field(s) missing: {', '.join(missing)}")
    parsed: dict = {"extra": {}}
    for key, value in values.items():
        if key in ("cam0", "cam1"):
            parsed[key] = _parse_matrix(path, key, value)
            continue
        if key not in _INT_KEYS and key not in _FLOAT_KEYS:
            parsed["extra"][key] = value
            continue
        try:
            number = float(value)
        except ValueError:
            raise DatasetError(f"{path}: {key}: expected a number, found {value!r}") from None
        if key in _INT_KEYS:
            if not (math.isfinite(number) and number == int(number)):
                raise DatasetError(f"{path}: {key}: expected a whole number, found {value!r}")
            parsed[key] = int(number)
        else:
            if not math.isfinite(number):
                raise DatasetError(f"{path}: {key}: expected a finite number, found {value!r}")
            parsed[key] = number
    calib = MiddleburyCalib(cam1=parsed.pop("cam1", None), **parsed)
    _check_plausible(path, calib)
    return calib


def _check_plausible(path: Path, calib: MiddleburyCalib) -> None:
    """Refuse calibration values no stereo rig can have: they would turn into finite, wrong depth.

    cam0/cam1 entries must be finite with a positive focal length; the baseline (mm) positive;
    doffs (cx1 − cx0, px) zero or positive (the right principal point never lies left of the
    left one in Middlebury's rectified pairs; 0 = identical principal points); width, height and
    ndisp positive, width·height within the pixel limit.
    """
    for key in ("cam0", "cam1"):
        matrix = getattr(calib, key)
        if matrix is None:
            continue
        if not np.isfinite(matrix).all():
            raise DatasetError(f"{path}: {key}: non-finite entry in {matrix.tolist()}")
        if not matrix[0, 0] > 0:
            raise DatasetError(f"{path}: {key} focal length must be positive, found {matrix[0, 0]}")
    if not calib.baseline > 0:
        raise DatasetError(f"{path}: baseline must be a positive number of mm, found {calib.baseline}")
    if not calib.doffs >= 0:
        raise DatasetError(f"{path}: doffs must be zero or a positive number of pixels, found {calib.doffs}")
    for key in ("width", "height", "ndisp"):
        value = getattr(calib, key)
        if value is not None and value <= 0:
            raise DatasetError(f"{path}: {key} must be positive, found {value}")
    if calib.width is not None and calib.height is not None:
        check_pixels(path, (calib.height, calib.width), "the calibrated image size (height x width)")


def _number(value: float) -> str:
    """Shortest text that parses back to exactly ``value`` (integers without a decimal point)."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _matrix(matrix: np.ndarray) -> str:
    return "[" + "; ".join(" ".join(_number(v) for v in row) for row in np.asarray(matrix)) + "]"


def write_calib(path: str | os.PathLike, calib: MiddleburyCalib) -> None:
    """Write ``calib`` as a Middlebury ``calib.txt`` (fields in the official order)."""
    cam0 = np.asarray(calib.cam0, dtype=np.float64)
    if cam0.shape != (3, 3):
        raise ValueError(f"cam0 must be 3×3, got {cam0.shape}")
    lines = [f"cam0={_matrix(cam0)}"]
    if calib.cam1 is not None:
        lines.append(f"cam1={_matrix(np.asarray(calib.cam1, dtype=np.float64))}")
    lines += [f"doffs={_number(calib.doffs)}", f"baseline={_number(calib.baseline)}"]
    for key in ("width", "height", "ndisp", "isint", "vmin", "vmax", "dyavg", "dymax"):
        value = getattr(calib, key)
        if value is not None:
            lines.append(f"{key}={_number(value)}")
    lines += [f"{key}={value}" for key, value in calib.extra.items()]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def disparity_to_depth(disparity: np.ndarray, focal_px: float, baseline_mm: float,
                       doffs: float = 0.0) -> np.ndarray:
    """Metric depth (m) from disparity (px): Z = baseline_mm · f / (d + doffs) / 1000.

    Pixels without a usable disparity (non-finite, or d + doffs ≤ 0) get depth 0, the
    "no ground truth" value that ``Sample.valid_mask`` drops. Computed in float64, returned
    as float32.
    """
    disparity = np.asarray(disparity, dtype=np.float64)
    denominator = disparity + float(doffs)
    usable = np.isfinite(denominator) & (denominator > 0)
    depth = np.zeros(disparity.shape, dtype=np.float64)
    np.divide(float(baseline_mm) * float(focal_px) / 1000.0, denominator, out=depth, where=usable)
    return depth.astype(np.float32)


def depth_to_disparity(depth_m: np.ndarray, focal_px: float, baseline_mm: float,
                       doffs: float = 0.0) -> np.ndarray:
    """Inverse of :func:`disparity_to_depth`: d = baseline_mm · f / (1000 · Z) − doffs.

    Pixels with non-finite or non-positive depth get +inf, Middlebury's "unknown" value.
    """
    depth_m = np.asarray(depth_m, dtype=np.float64)
    usable = np.isfinite(depth_m) & (depth_m > 0)
    disparity = np.full(depth_m.shape, np.inf, dtype=np.float64)
    np.divide(float(baseline_mm) * float(focal_px) / 1000.0, depth_m, out=disparity, where=usable)
    disparity[usable] -= float(doffs)
    return disparity.astype(np.float32)

