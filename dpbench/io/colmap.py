"""COLMAP text models (ETH3D calibration): ``cameras.txt`` and ``images.txt``.

``cameras.txt``: ``#`` comment lines, then ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS...`` per camera.
``images.txt``: ``#`` comment lines, then two lines per image: ``IMAGE_ID QW QX QY QZ TX TY TZ
CAMERA_ID NAME`` (world→camera rotation as a w-first quaternion, and translation) and the
``POINTS2D`` triplets ``X Y POINT3D_ID`` — a line that may be **empty**, so only comment lines
are dropped before the lines are paired. Pixel coordinates put the image corner at 0.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.limits import MAX_TEXT_BYTES, check_pixels, read_bytes

#: Number of parameters of each COLMAP camera model (PARAMS order as COLMAP defines it).
MODEL_PARAMS = {
    "SIMPLE_PINHOLE": 3, "PINHOLE": 4, "SIMPLE_RADIAL": 4, "RADIAL": 5, "OPENCV": 8,
    "OPENCV_FISHEYE": 8, "FULL_OPENCV": 12, "FOV": 5, "SIMPLE_RADIAL_FISHEYE": 4,
    "RADIAL_FISHEYE": 5, "THIN_PRISM_FISHEYE": 12,
}
_MAX_BYTES = 4 * MAX_TEXT_BYTES  # images.txt lists every 2-D observation: tens of MB for ETH3D
_SINGLE_FOCAL = {"SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL", "SIMPLE_RADIAL_FISHEYE", "RADIAL_FISHEYE"}


@dataclass
class ColmapCamera:
    """One line of ``cameras.txt``."""

    camera_id: int
    model: str
    width: int
    height: int
    params: tuple[float, ...]

    @property
    def fx(self) -> float:
        """Horizontal focal length in pixels (the single f of one-focal models)."""
        return float(self.params[0])

    @property
    def fy(self) -> float:
        """Vertical focal length in pixels."""
        return float(self.params[0] if self.model in _SINGLE_FOCAL else self.params[1])

    @property
    def principal_point(self) -> tuple[float, float]:
        """(cx, cy) in COLMAP's pixel frame: the image corner is 0, pixel centres are at +0.5."""
        first = 1 if self.model in _SINGLE_FOCAL else 2
        return float(self.params[first]), float(self.params[first + 1])


@dataclass
class ColmapImage:
    """One image record (two lines) of ``images.txt``."""

    image_id: int
    qvec: tuple[float, float, float, float]  # w, x, y, z (world → camera)
    tvec: tuple[float, float, float]
    camera_id: int
    name: str
    points2d: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # x, y, point3d_id


def _data_lines(path: Path) -> list[str]:
    data = read_bytes(path, "COLMAP file", limit=_MAX_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a text COLMAP file") from None
    return [line.rstrip("\r") for line in text.split("\n") if not line.startswith("#")]


def read_cameras_txt(path: str | os.PathLike) -> dict[int, ColmapCamera]:
    """Read ``cameras.txt`` into {camera_id: ColmapCamera}; parameter counts are checked."""
    path = Path(path)
    cameras: dict[int, ColmapCamera] = {}
    for line in _data_lines(path):
        parts = line.split()
        if not parts:
            continue
        try:
            camera_id, model, width, height = int(parts[0]), parts[1], int(parts[2]), int(parts[3])
            params = tuple(float(v) for v in parts[4:])
        except (ValueError, IndexError):
            raise DatasetError(f"{path}: bad camera line (expected ID MODEL W H PARAMS...): {line!r}") from None
        expected = MODEL_PARAMS.get(model)
        if expected is not None and len(params) != expected:
            raise DatasetError(f"{path}: camera {camera_id}: model {model} needs {expected} parameters, found {len(params)}")
        if not params:
            raise DatasetError(f"{path}: camera {camera_id}: no parameters")
        if width <= 0 or height <= 0:
            raise DatasetError(f"{path}: camera {camera_id}: image size must be positive, found {width}x{height}")
        check_pixels(path, (height, width), f"camera {camera_id}")
        if not all(math.isfinite(v) for v in params):
            raise DatasetError(f"{path}: camera {camera_id}: non-finite parameter in {params}")
        focals = () if model not in MODEL_PARAMS else params[:1] if model in _SINGLE_FOCAL else params[:2]
        if not all(f > 0 for f in focals):
            raise DatasetError(f"{path}: camera {camera_id}: focal length must be positive, found {focals}")
        cameras[camera_id] = ColmapCamera(camera_id, model, width, height, params)
    return cameras


def read_images_txt(path: str | os.PathLike) -> dict[int, ColmapImage]:
    """Read ``images.txt`` into {image_id: ColmapImage}, keeping empty POINTS2D lines in pairing."""
    path = Path(path)
    lines = _data_lines(path)
    while lines and not lines[-1].strip():  # the file's trailing newline(s)
        lines.pop()
    if len(lines) % 2 == 1:  # the last image's (empty) points line was cut with the final newline
        lines.append("")
    images: dict[int, ColmapImage] = {}
    for index in range(0, len(lines), 2):
        head, points_line = lines[index], lines[index + 1]
        parts = head.split()
        if len(parts) < 10:
            raise DatasetError(f"{path}: bad image line (expected ID QW QX QY QZ TX TY TZ CAMERA_ID NAME): {head!r}")
        try:
            image_id = int(parts[0])
            qvec = tuple(float(v) for v in parts[1:5])
            tvec = tuple(float(v) for v in parts[5:8])
            camera_id = int(parts[8])
        except ValueError:
            raise DatasetError(f"{path}: bad image line: {head!r}") from None
        name = " ".join(parts[9:])
        try:
            values = np.array(points_line.split(), dtype=np.float64)
        except ValueError:
            raise DatasetError(f"{path}: image {image_id}: bad POINTS2D line") from None
        if values.size % 3:
            raise DatasetError(f"{path}: image {image_id}: POINTS2D must be X Y POINT3D_ID triplets")
        images[image_id] = ColmapImage(image_id, qvec, tvec, camera_id, name, values.reshape(-1, 3))
    return images


def _num(value: float) -> str:
    return repr(float(value))


def write_cameras_txt(path: str | os.PathLike, cameras: dict[int, ColmapCamera] | list[ColmapCamera]) -> None:
    """Write cameras in COLMAP's ``cameras.txt`` layout (3 comment lines, one line per camera)."""
    items = list(cameras.values()) if isinstance(cameras, dict) else list(cameras)
    lines = [
        "# Camera list with one line of data per camera:",
        "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]",
        f"# Number of cameras: {len(items)}",
    ]
    for cam in items:
        lines.append(" ".join([str(cam.camera_id), cam.model, str(cam.width), str(cam.height),
                               *(_num(v) for v in cam.params)]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_images_txt(path: str | os.PathLike, images: dict[int, ColmapImage] | list[ColmapImage]) -> None:
    """Write images in COLMAP's ``images.txt`` layout (4 comment lines, two lines per image)."""
    items = list(images.values()) if isinstance(images, dict) else list(images)
    lines = [
        "# Image list with two lines of data per image:",
        "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
        "#   POINTS2D[] as (X, Y, POINT3D_ID)",
        f"# Number of images: {len(items)}, mean observations per image: 0",
    ]
    for image in items:
        lines.append(" ".join([str(image.image_id), *(_num(v) for v in image.qvec),
                               *(_num(v) for v in image.tvec), str(image.camera_id), image.name]))
        points = np.asarray(image.points2d, dtype=np.float64).reshape(-1, 3)
        lines.append(" ".join(f"{_num(x)} {_num(y)} {int(pid)}" for x, y, pid in points))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
