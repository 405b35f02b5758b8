"""MATLAB v5 ``.mat`` files (NYUv2's and SUN RGB-D's split lists), read with scipy after checks.

scipy's ``loadmat`` inflates each compressed variable whole and allocates arrays at the sizes
they declare, so a small file can declare gigabytes. Before it runs: the file is at most
:data:`~dpbench.io.limits.MAX_TEXT_BYTES`, its compressed variables inflate (counted in a
streaming pass, nothing kept) to at most :func:`~dpbench.io.limits.max_file_bytes`, and each
variable's declared shape fits the pixel limit. Any failure of the parser on a hostile file is
the caller's error class naming the file. (MATLAB v7.3 files are HDF5: see :mod:`dpbench.io.hdf5`.)
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import scipy.io

from dpbench.errors import DatasetError, DpbenchError
from dpbench.io.limits import MAX_TEXT_BYTES, check_file_bytes, check_pixels, max_file_bytes

_HEADER = 128
_MI_COMPRESSED = 15
_CHUNK = 1 << 20


def _check_inflated_size(path: Path, data: bytes, what: str, error: type[Exception]) -> None:
    """Refuse a v5 file whose compressed variables inflate beyond the byte limit."""
    if len(data) < _HEADER:
        raise error(f"{path}: {what} is not a MATLAB file ({len(data)} bytes, no 128-byte header)")
    order = {b"IM": "little", b"MI": "big"}.get(data[126:128])
    if order is None:
        return  # not v5 (v4 has no compression): scipy decides
    budget = max_file_bytes()
    position = _HEADER
    while position + 8 <= len(data):
        kind = int.from_bytes(data[position : position + 4], order)
        size = int.from_bytes(data[position + 4 : position + 8], order)
        start, position = position + 8, position + 8 + size
        if kind != _MI_COMPRESSED:
            position += -size % 8  # uncompressed elements are padded to 8 bytes
            continue
        inflater = zlib.decompressobj()
        pending = data[start : min(position, len(data))]
        while pending:
            try:
                budget -= len(inflater.decompress(pending, _CHUNK))
            except zlib.error:
                return  # scipy reports the corrupt stream
            if budget < 0:
                raise error(
                    f"{path}: {what} inflates to more than {max_file_bytes():,} bytes "
                    "(a decompression bomb, or not a split file)"
                )
            pending = inflater.unconsumed_tail


def read_mat(path: str | os.PathLike, what: str, error: type[Exception] = DatasetError) -> dict:
    """The variables of a MATLAB v4/v5 file as ``scipy.io.loadmat`` returns them (squeeze_me=False)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    check_file_bytes(path, what, MAX_TEXT_BYTES, error)
    try:
        data = path.read_bytes()
        _check_inflated_size(path, data, what, error)
        for name, shape, _kind in scipy.io.whosmat(str(path)):
            check_pixels(path, shape, f"variable '{name}' of {what}", error)
        return scipy.io.loadmat(str(path), squeeze_me=False)
    except DpbenchError:
        raise
    except MemoryError:
        raise error(f"{path}: {what} declares arrays too large for the memory available") from None
    except Exception as exc:  # scipy raises many types (MatReadError, ValueError, KeyError, ...) on bad input
        raise error(f"{path}: unreadable MATLAB file ({type(exc).__name__}: {exc})") from None
