"""One named array of an HDF5 file (the container of HyperSim's and Spring's ground truth)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from dpbench.errors import DatasetError


def read_hdf5_array(path: str | os.PathLike, key: str, what: str) -> np.ndarray:
    """The array stored under ``key``; DatasetError naming the file (and ``what`` it should be)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: {what} file not found")
    try:
        with h5py.File(path, "r") as handle:
            if key not in handle:
                raise DatasetError(f"{path}: no '{key}' dataset (found: {', '.join(handle.keys()) or 'none'})")
            return handle[key][()]
    except OSError as exc:
        raise DatasetError(f"{path}: unreadable HDF5 file ({exc})") from None


def write_hdf5_array(path: str | os.PathLike, key: str, array: np.ndarray) -> None:
    """Write ``array`` under ``key`` (gzip-compressed), creating the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset(key, data=array, compression="gzip")
