"""Named arrays of HDF5 files (HyperSim's and Spring's ground truth, NYUv2's .mat, predictions),
read so that a hostile file can neither read other files nor exhaust memory.

Before a dataset is read: every link on its path is followed only inside the file (an HDF5
external link, which opens another file, is refused; soft links are resolved by hand so they
cannot lead through one); the dataset must not keep its values outside the file (external raw
storage, a virtual dataset); its type must be numbers (bool, int, uint, float), not a compound,
string or reference type; and its declared shape must fit the pixel limit of
:mod:`dpbench.io.limits` — a fill-value dataset of a few bytes can declare gigabytes.
``DPBENCH_ALLOW_SYMLINKS=1`` (:mod:`dpbench.io.confine`) lets external links and storage through.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.confine import ALLOW_SYMLINKS_ENV, links_allowed
from dpbench.io.limits import check_pixels

_MAX_SOFT_LINKS = 16
_NUMERIC_KINDS = "biuf"
_OPEN_ERRORS = (OSError, RuntimeError, ValueError, TypeError, KeyError)


def lookup(handle: h5py.File, key: str, path, error: type[Exception] = DatasetError):
    """The group or dataset at ``key`` (None when absent), reached without leaving the file.

    An external link on the way is ``error`` unless links are allowed; soft links are followed
    (at most 16 of them, so a loop ends) by restarting the walk from their target path.
    """
    hops = 0
    target = key
    while True:
        node = handle
        walked = ""
        parts = [part for part in target.split("/") if part]
        restart = None
        for index, part in enumerate(parts):
            if not isinstance(node, h5py.Group):
                return None
            walked = f"{walked}/{part}"
            link = node.get(part, getlink=True)
            if link is None:
                return None
            if isinstance(link, h5py.ExternalLink):
                if not links_allowed():
                    raise error(
                        f"{path}: '{walked}' is an external link to {link.filename}:{link.path}; "
                        f"reading other files is refused (set ${ALLOW_SYMLINKS_ENV}=1 to follow it)"
                    )
            elif isinstance(link, h5py.SoftLink):
                rest = "/".join(parts[index + 1 :])
                base = link.path if link.path.startswith("/") else f"{walked.rsplit('/', 1)[0]}/{link.path}"
                restart = f"{base}/{rest}" if rest else base
                break
            try:
                node = node[part]
            except _OPEN_ERRORS as exc:
                raise error(f"{path}: cannot open '{walked}' ({exc})") from None
        if restart is None:
            return node
        hops += 1
        if hops > _MAX_SOFT_LINKS:
            raise error(f"{path}: '{key}' goes through more than {_MAX_SOFT_LINKS} soft links (a loop?)")
        target = restart


def checked_dataset(node, path, key: str, error: type[Exception] = DatasetError) -> h5py.Dataset:
    """``node`` as a dataset of numbers whose values live in this file; ``error`` otherwise."""
    if not isinstance(node, h5py.Dataset):
        found = "a group" if isinstance(node, h5py.Group) else type(node).__name__
        raise error(f"{path}: '{key}' is {found}, not a dataset")
    if not links_allowed():
        if node.external:
            files = ", ".join(str(entry[0]) for entry in node.external)
            raise error(
                f"{path}: '{key}' keeps its values in external file(s) {files}; reading other "
                f"files is refused (set ${ALLOW_SYMLINKS_ENV}=1 to allow it)"
            )
        if node.is_virtual:
            raise error(
                f"{path}: '{key}' is a virtual dataset mapping other files; reading other files "
                f"is refused (set ${ALLOW_SYMLINKS_ENV}=1 to allow it)"
            )
    if node.dtype.kind not in _NUMERIC_KINDS:
        raise error(f"{path}: '{key}' holds {node.dtype} values, expected numbers")
    if node.shape is None:
        raise error(f"{path}: '{key}' is an empty (null) dataset")
    return node


def read_dataset(node: h5py.Dataset, path, key: str, what: str,
                 error: type[Exception] = DatasetError) -> np.ndarray:
    """All values of a checked dataset, once its shape fits the pixel limit."""
    check_pixels(path, node.shape, f"'{key}' ({what})", error)
    try:
        return np.asarray(node[()])
    except _OPEN_ERRORS as exc:
        raise error(f"{path}: cannot read '{key}' ({exc})") from None


def read_hdf5_array(path: str | os.PathLike, key: str, what: str) -> np.ndarray:
    """The array stored under ``key``; DatasetError naming the file (and ``what`` it should be)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: {what} file not found")
    try:
        with h5py.File(path, "r") as handle:
            node = lookup(handle, key, path)
            if node is None:
                raise DatasetError(f"{path}: no '{key}' dataset (found: {', '.join(handle.keys()) or 'none'})")
            return read_dataset(checked_dataset(node, path, key), path, key, what)
    except DatasetError:
        raise
    except _OPEN_ERRORS as exc:
        raise DatasetError(f"{path}: unreadable HDF5 file ({exc})") from None


def write_hdf5_array(path: str | os.PathLike, key: str, array: np.ndarray) -> None:
    """Write ``array`` under ``key`` (gzip-compressed), creating the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset(key, data=array, compression="gzip")
