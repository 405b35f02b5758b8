"""ETH3D ground-truth depth: headerless little-endian float32, row-major, +inf = no GT.

The files are named like the images (``ground_truth_depth/dslr_images/DSC_XXXX.JPG``) but hold
raw floats: exactly H·W values of planar depth in metres, with H×W the size of the (distorted)
image they belong to, 4032×6048 for the DSLR images. Since the file has no header its shape
must come from the image (or the COLMAP camera); the reader memory-maps it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.limits import check_pixels

DSLR_SHAPE = (4032, 6048)  # H, W of the DSLR images as stored


def read_depth(path: str | os.PathLike, shape: tuple[int, int] = DSLR_SHAPE) -> np.ndarray:
    """Memory-map a raw ETH3D depth file as an H×W float32 array (read-only; +inf = no GT).

    ``shape`` is (H, W) of the image the depth belongs to; the file must hold exactly H·W
    float32 values.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: ETH3D depth file not found")
    height, width = (int(v) for v in shape)
    if height <= 0 or width <= 0:
        raise DatasetError(f"{path}: ETH3D depth shape must be positive, got {height}x{width}")
    check_pixels(path, (height, width), "ETH3D depth (the image size)")
    expected = height * width * 4
    size = path.stat().st_size
    if size != expected:
        raise DatasetError(
            f"{path}: ETH3D depth size mismatch: expected {height}x{width} float32 "
            f"({expected} bytes), file has {size} bytes"
        )
    return np.memmap(path, dtype="<f4", mode="r", shape=(height, width))


def write_depth(path: str | os.PathLike, depth: np.ndarray) -> None:
    """Write an H×W depth map (metres; +inf for no GT) as a raw little-endian float32 file."""
    depth = np.asarray(depth)
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"expected an H×W float array, got shape {depth.shape} dtype {depth.dtype}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.ascontiguousarray(depth, dtype="<f4").tofile(handle)
