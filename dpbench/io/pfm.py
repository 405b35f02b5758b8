"""PFM (Portable Float Map): the float32 image format of Middlebury disparities.

Layout: three ASCII header fields separated by white space — ``Pf`` (1 channel) or ``PF``
(3 channels), ``W H``, and a scale whose *sign* gives the byte order (negative = little-endian,
positive = big-endian) — each header line ending in a newline, then W·H(·3) float32 values,
interleaved per pixel, **bottom row first**. The reader returns rows top-first.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.limits import check_pixels

_MAGIC_CHANNELS = {b"Pf": 1, b"PF": 3}
_MAX_HEADER = 256  # bytes; real headers are ~20


def _parse_header(path: Path, head: bytes) -> tuple[int, int, int, float, int]:
    """Return (channels, width, height, signed scale, payload offset) from the first bytes."""
    tokens: list[bytes] = []
    pos = 0
    while len(tokens) < 4:
        while pos < len(head) and head[pos : pos + 1].isspace():
            pos += 1
        start = pos
        while pos < len(head) and not head[pos : pos + 1].isspace():
            pos += 1
        if start == pos:
            raise DatasetError(f"{path}: truncated PFM header (expected 'Pf|PF', 'W H', scale)")
        tokens.append(head[start:pos])
    if pos >= len(head):
        raise DatasetError(f"{path}: truncated PFM header: no newline after the scale")
    # exactly one line ending ends the header ("\n", or "\r\n" from some writers); the payload
    # may itself start with bytes that look like white space, so nothing more is skipped
    offset = pos + (2 if head[pos : pos + 2] == b"\r\n" else 1)
    magic, w_tok, h_tok, s_tok = tokens
    if magic not in _MAGIC_CHANNELS:
        raise DatasetError(f"{path}: not a PFM file: expected magic 'Pf' or 'PF', found {magic[:8]!r}")
    try:
        width, height = int(w_tok), int(h_tok)
    except ValueError:
        raise DatasetError(f"{path}: bad PFM size line: expected 'W H', found {w_tok!r} {h_tok!r}") from None
    if width <= 0 or height <= 0:
        raise DatasetError(f"{path}: bad PFM size {width}x{height}: must be positive")
    try:
        scale = float(s_tok)
    except ValueError:
        raise DatasetError(f"{path}: bad PFM scale: expected a number, found {s_tok!r}") from None
    if scale == 0 or not math.isfinite(scale):
        raise DatasetError(f"{path}: bad PFM scale {scale}: must be non-zero and finite")
    return _MAGIC_CHANNELS[magic], width, height, scale, offset


def read_pfm(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """Read a PFM file as ``(array, scale)``.

    ``array`` is native-endian float32, H×W for ``Pf`` or H×W×3 for ``PF``, top row first.
    ``scale`` is the magnitude of the header's scale (its sign only encodes the byte order);
    it is returned, not applied, as Middlebury and the peer readers do.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: PFM file not found")
    with path.open("rb") as handle:
        head = handle.read(_MAX_HEADER)
    channels, width, height, scale, offset = _parse_header(path, head)
    check_pixels(path, (height, width, channels), "PFM header")
    count = width * height * channels
    available = path.stat().st_size - offset
    if available < count * 4 or available - count * 4 >= 4:
        raise DatasetError(
            f"{path}: PFM payload size mismatch: header says {width}x{height}x{channels} float32 "
            f"({count * 4} bytes), file holds {available} bytes after the header"
        )
    dtype = np.dtype("<f4") if scale < 0 else np.dtype(">f4")
    data = np.fromfile(path, dtype=dtype, count=count, offset=offset)
    shape = (height, width) if channels == 1 else (height, width, 3)
    array = data.reshape(shape)[::-1]
    return np.ascontiguousarray(array, dtype=np.float32), abs(scale)


def write_pfm(path: str | os.PathLike, array: np.ndarray, scale: float = 1.0,
              little_endian: bool = True) -> None:
    """Write an H×W (``Pf``) or H×W×3 (``PF``) float array as PFM, bottom row first.

    The header scale is ``-scale`` for little-endian data and ``+scale`` for big-endian.
    """
    array = np.asarray(array)
    if array.ndim == 2:
        magic = "Pf"
    elif array.ndim == 3 and array.shape[2] == 3:
        magic = "PF"
    else:
        raise ValueError(f"write_pfm expects an H×W or H×W×3 array, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"write_pfm expects a floating-point array, got dtype {array.dtype}")
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"write_pfm: scale must be a positive finite number, got {scale}")
    height, width = array.shape[:2]
    dtype = np.dtype("<f4") if little_endian else np.dtype(">f4")
    signed = -float(scale) if little_endian else float(scale)
    header = f"{magic}\n{width} {height}\n{signed!r}\n".encode("ascii")
    payload = np.ascontiguousarray(array[::-1], dtype=dtype).tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + payload)
