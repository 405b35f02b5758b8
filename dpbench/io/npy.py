"""NumPy ``.npy`` and ``.npz`` files (DIODE, Booster, predictions) read with their headers checked first.

``np.load`` allocates whatever shape a header declares, and turns a ``.npz`` saved under a
``.npy`` name into an archive object rather than an error. Here a file must be what its name says,
its dtype must be numbers (bool, int, uint, float; no objects, no pickles, no structured types),
its declared shape must fit the pixel limit (:mod:`dpbench.io.limits`) — for a ``.npz`` all its
arrays together — and a ``.npy`` must hold the bytes its header declares. Every failure is the
caller's error class naming the file.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError, DpbenchError
from dpbench.io.limits import check_file_bytes, check_pixels, max_pixels, pixel_count

_NUMERIC_KINDS = "biuf"
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_MEMBERS = 64
_READ_ERRORS = (ValueError, OSError, EOFError, TypeError, KeyError, zipfile.BadZipFile,
                NotImplementedError, RuntimeError)


def _header(handle, path, what: str, error: type[Exception]) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the header at the handle's position; ``error`` if it is not a numeric array."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except _READ_ERRORS as exc:
        raise error(f"{path}: {what} is not a readable .npy array ({exc})") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise error(f"{path}: {what} holds {dtype} values, expected numbers")
    return tuple(int(n) for n in shape), dtype


def load_npy(path: str | os.PathLike, what: str, error: type[Exception] = DatasetError,
             mmap: bool = False) -> np.ndarray:
    """The array of a ``.npy`` file (memory-mapped read-only when ``mmap``), headers checked first."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    size = path.stat().st_size
    with path.open("rb") as handle:
        if handle.read(4) == _ZIP_MAGIC:
            raise error(f"{path}: {what} is a .npz archive (zip), not a .npy array")
        handle.seek(0)
        shape, dtype = _header(handle, path, what, error)
        offset = handle.tell()
    check_pixels(path, shape, what, error)
    needed = math.prod(shape) * dtype.itemsize
    if size - offset < needed:
        raise error(
            f"{path}: truncated {what}: the header declares {shape} {dtype} ({needed:,} bytes), "
            f"the file holds {size - offset:,} after the header"
        )
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise error(f"{path}: unreadable .npy {what} ({exc})") from None


def load_npz(path: str | os.PathLike, what: str, error: type[Exception] = DatasetError) -> dict[str, np.ndarray]:
    """All arrays of a ``.npz`` file by name, each header checked before it is inflated."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    check_file_bytes(path, what, error=error)
    budget = max_pixels()
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) > _MAX_MEMBERS:
                raise error(f"{path}: {what} holds {len(members)} members, more than {_MAX_MEMBERS}")
            for member in members:
                name = member.filename[:-4] if member.filename.endswith(".npy") else member.filename
                with archive.open(member) as handle:
                    shape, _ = _header(handle, path, f"{what} member {member.filename!r}", error)
                budget -= pixel_count(shape)
                if budget < 0:
                    check_pixels(path, (max_pixels() - budget,), f"{what} (all arrays together)", error)
                with archive.open(member) as handle:
                    arrays[name] = np.lib.format.read_array(handle, allow_pickle=False)
    except DpbenchError:
        raise
    except (*_READ_ERRORS, zipfile.LargeZipFile) as exc:
        raise error(f"{path}: unreadable .npz {what} ({exc})") from None
    return arrays
