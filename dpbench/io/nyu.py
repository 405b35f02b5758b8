"""NYU Depth v2 labeled set: ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 = HDF5) and ``splits.mat``.

In HDF5 order (MATLAB is column-major) ``images`` is (N, 3, W, H) uint8, ``depths`` (in-painted,
dense) and ``rawDepths`` (0 = missing) are (N, W, H) float32 metres; transpose each frame to
H×W(×3). ``splits.mat`` holds ``trainNdxs`` (795) and ``testNdxs`` (654), **1-based** indices
into the labeled set (interleaved: never "the first 795").
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from dpbench.errors import DatasetError
from dpbench.io.hdf5 import checked_dataset, lookup, read_dataset
from dpbench.io.limits import check_pixels
from dpbench.io.matlab import read_mat

DEPTH_KEYS = {"filled": "depths", "raw": "rawDepths"}
SPLIT_KEYS = {"train": "trainNdxs", "test": "testNdxs"}
_MAX_INDEX = 1 << 31
_H5_ERRORS = (OSError, RuntimeError, ValueError, TypeError, KeyError)


class NyuLabeled:
    """Random access to the frames of ``nyu_depth_v2_labeled.mat`` (opened lazily with h5py)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: NYUv2 labeled .mat not found")
        try:
            with h5py.File(self.path, "r") as handle:
                nodes = {key: lookup(handle, key, self.path) for key in ("images", *DEPTH_KEYS.values())}
                missing = [key for key, node in nodes.items() if node is None]
                if missing:
                    raise DatasetError(f"{self.path}: missing dataset(s) {', '.join(missing)}")
                images = checked_dataset(nodes["images"], self.path, "images")
                if images.ndim != 4 or images.shape[1] != 3:
                    raise DatasetError(f"{self.path}: 'images' must be (N, 3, W, H), found {images.shape}")
                self.count = int(images.shape[0])
                self.size_wh = (int(images.shape[2]), int(images.shape[3]))
                check_pixels(self.path, self.size_wh, "each frame of 'images'")
                for key in DEPTH_KEYS.values():
                    depth = checked_dataset(nodes[key], self.path, key)
                    if depth.shape != (self.count, *self.size_wh):
                        raise DatasetError(
                            f"{self.path}: '{key}' shape {depth.shape} does not match images "
                            f"{(self.count, *self.size_wh)}"
                        )
        except DatasetError:
            raise
        except _H5_ERRORS as exc:
            raise DatasetError(f"{self.path}: not an HDF5 (MATLAB v7.3) file ({exc})") from None

    def frame(self, index: int, depth: str = "raw") -> tuple[np.ndarray, np.ndarray]:
        """(H×W×3 uint8 RGB, H×W float32 depth in m) of 0-based frame ``index``."""
        if depth not in DEPTH_KEYS:
            raise ValueError(f"depth must be one of {tuple(DEPTH_KEYS)}, got {depth!r}")
        if not 0 <= index < self.count:
            raise DatasetError(f"{self.path}: frame index {index} out of range (0..{self.count - 1})")
        key = DEPTH_KEYS[depth]
        try:
            with h5py.File(self.path, "r") as handle:
                images = checked_dataset(lookup(handle, "images", self.path), self.path, "images")
                depths = checked_dataset(lookup(handle, key, self.path), self.path, key)
                image = np.ascontiguousarray(images[index].transpose(2, 1, 0), dtype=np.uint8)
                depth_map = np.ascontiguousarray(depths[index].T, dtype=np.float32)
        except DatasetError:
            raise
        except _H5_ERRORS as exc:
            raise DatasetError(f"{self.path}: cannot read frame {index} ({exc})") from None
        return image, depth_map


def write_labeled(path: str | os.PathLike, images: np.ndarray, depths: np.ndarray,
                  raw_depths: np.ndarray) -> None:
    """Write N×H×W×3 images and N×H×W depth maps in the labeled .mat's HDF5 layout."""
    images = np.asarray(images, dtype=np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as handle:
        handle.create_dataset("images", data=images.transpose(0, 3, 2, 1))
        handle.create_dataset("depths", data=np.asarray(depths, np.float32).transpose(0, 2, 1))
        handle.create_dataset("rawDepths", data=np.asarray(raw_depths, np.float32).transpose(0, 2, 1))


def _split_indices(path: Path, key: str, values) -> list[int]:
    """1-based frame indices from a split array; anything but whole numbers ≥ 1 is a DatasetError."""
    try:
        array = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: '{key}' must hold frame numbers, found {np.asarray(values).dtype}") from None
    bad = ~np.isfinite(array) | (array < 1) | (array > _MAX_INDEX) | (array != np.round(array))
    if bad.any():
        raise DatasetError(
            f"{path}: '{key}' holds {float(array[bad][0])!r} at position {int(np.argmax(bad))}, "
            "not a whole 1-based frame index"
        )
    return [int(v) for v in array]


def read_splits(path: str | os.PathLike) -> dict[str, list[int]]:
    """Read ``splits.mat`` as {"train": [...], "test": [...]} of **1-based** frame indices."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: NYUv2 splits.mat not found")
    if h5py.is_hdf5(path):  # MATLAB v7.3
        try:
            with h5py.File(path, "r") as handle:
                data = {}
                for key in SPLIT_KEYS.values():
                    node = lookup(handle, key, path)
                    if node is not None:
                        data[key] = read_dataset(checked_dataset(node, path, key), path, key, "split")
        except DatasetError:
            raise
        except _H5_ERRORS as exc:
            raise DatasetError(f"{path}: unreadable splits file ({exc})") from None
    else:
        data = read_mat(path, "NYUv2 splits file")
    out = {}
    for split, key in SPLIT_KEYS.items():
        if key not in data:
            raise DatasetError(f"{path}: splits.mat lacks '{key}'")
        out[split] = _split_indices(path, key, data[key])
    return out


def write_splits(path: str | os.PathLike, train: list[int], test: list[int]) -> None:
    """Write a ``splits.mat`` with column vectors ``trainNdxs`` and ``testNdxs`` (1-based)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {
        "trainNdxs": np.asarray(train, dtype=np.float64).reshape(-1, 1),
        "testNdxs": np.asarray(test, dtype=np.float64).reshape(-1, 1),
    })
