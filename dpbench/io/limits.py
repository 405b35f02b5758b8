"""How much a reader may allocate for one file, checked before anything is decoded.

A file is hostile when what it declares (a PFM or ``.dpt`` header, a PNG's IHDR, an HDF5
dataset's shape, a ``.npy`` header) would make a reader allocate far more than the file holds:
a sparse file, a compressed stream of zeros or an HDF5 fill-value dataset of a few bytes can
declare gigabytes. Every reader asks this module before it decodes:

- **Pixels.** One decoded image, depth map, disparity map or prediction holds at most
  ``max_pixels()`` pixels: ``$DPBENCH_MAX_PIXELS`` if set, else 64 Mpx (64,000,000). The largest
  dataset images are far below (ETH3D DSLR 24 Mpx, Booster 12 Mpx, Spring's 2× disparity 8 Mpx).
  For arrays, a trailing axis of at most 4 values is counted as channels, not pixels; a LiDAR
  sweep holds at most as many points as a depth map holds pixels.
- **Bytes read whole.** A binary file read into memory at once (an encoded image, a ``.npz``)
  holds at most 8 bytes per allowed pixel plus 64 MiB; a calibration file (``calib.txt``, OpenCV
  XML, intrinsics: a few KB in every release) at most 4 MiB, since parsing text costs tens of
  times its size; other metadata (``meta.json``, ``focal.json``, ``splits.mat``) at most 64 MiB,
  COLMAP's ``images.txt`` 256 MiB; nuScenes' JSON tables, legitimately large, 4 GiB.
- **Parsed structure.** JSON and XML nested deeper than ``MAX_NESTING`` levels are refused
  (calibration files are 2–3 levels deep), so no parser recursion reaches Python's limit.

Violations are the caller's error class (``DatasetError`` for dataset files, ``ModelError`` for
prediction files) with a one-line message ``<path>: <problem>``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from dpbench.errors import DatasetError, DpbenchError

MAX_PIXELS_ENV = "DPBENCH_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 64_000_000
MAX_TEXT_BYTES = 64 << 20
MAX_CALIB_BYTES = 4 << 20
MAX_TABLE_BYTES = 4 << 30
MAX_NESTING = 64
_MAX_CHANNELS = 4


def max_pixels() -> int:
    """The pixel limit: ``$DPBENCH_MAX_PIXELS`` (a positive integer, read at each call) or 64 Mpx."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1 and value == int(value)):
        raise DpbenchError(f"${MAX_PIXELS_ENV}={text!r}: expected a positive whole number of pixels")
    return int(value)


def max_file_bytes() -> int:
    """Largest binary file a reader loads whole: 8 bytes per allowed pixel plus 64 MiB."""
    return 8 * max_pixels() + (64 << 20)


def pixel_count(shape) -> int:
    """Pixels of an array shape: the product of its axes, a trailing axis of ≤ 4 (channels) excepted."""
    dims = [int(n) for n in shape]
    if len(dims) >= 3 and dims[-1] <= _MAX_CHANNELS:
        dims = dims[:-1]
    return math.prod(dims)


def check_pixels(path, shape, what: str, error: type[Exception] = DatasetError) -> None:
    """Refuse a declared array ``shape`` beyond the pixel limit (or with a negative axis), before
    anything is allocated; the message names ``path`` and says how to raise the limit."""
    if any(int(n) < 0 for n in shape):
        raise error(f"{path}: {what} declares a negative size {tuple(shape)}")
    count = pixel_count(shape)
    limit = max_pixels()
    if count > limit:
        size = "x".join(str(int(n)) for n in shape)
        raise error(
            f"{path}: {what} declares {size} = {count:,} pixels, over the limit of {limit:,} "
            f"(set ${MAX_PIXELS_ENV} to read larger files)"
        )


def check_file_bytes(path, what: str, limit: int | None = None,
                     error: type[Exception] = DatasetError) -> int:
    """The size of ``path`` in bytes; ``error`` when it exceeds ``limit`` (default
    :func:`max_file_bytes`), so that reading it whole cannot exhaust memory."""
    path = Path(path)
    limit = max_file_bytes() if limit is None else limit
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    if size > limit:
        raise error(f"{path}: {what} of {size:,} bytes is larger than any such file can be ({limit:,} bytes)")
    return size


def read_bytes(path, what: str, limit: int = MAX_TEXT_BYTES, error: type[Exception] = DatasetError) -> bytes:
    """The content of a file read whole, after :func:`check_file_bytes`; missing → ``error``."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    check_file_bytes(path, what, limit, error)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None


def read_text(path, what: str, limit: int = MAX_TEXT_BYTES, error: type[Exception] = DatasetError,
              encoding: str = "utf-8", errors: str = "strict") -> str:
    """A text file read whole (size-checked); undecodable bytes → ``error`` unless ``errors`` says otherwise."""
    data = read_bytes(path, what, limit, error)
    try:
        return data.decode(encoding, errors)
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {what} is not {encoding} text ({exc.reason} at byte {exc.start})") from None


def _depth(value) -> int:
    """Nesting depth of parsed JSON, computed without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse_json(path, data: bytes | str, what: str, error: type[Exception] = DatasetError,
               invalid: str | None = None):
    """Parse JSON text of ``path``; invalid, undecodable or too deeply nested → ``error`` naming it
    (``invalid`` replaces the default problem text "not a valid JSON <what>")."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise error(f"{path}: {what} is nested too deeply (more than {MAX_NESTING} levels)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: {invalid or 'not a valid JSON ' + what} ({exc})") from None
    except MemoryError:
        raise error(f"{path}: {what} is too large to parse in the memory available") from None
    if _depth(value) > MAX_NESTING:
        raise error(f"{path}: {what} is nested more than {MAX_NESTING} levels deep")
    return value


def read_json(path, what: str, limit: int = MAX_TEXT_BYTES, error: type[Exception] = DatasetError,
              invalid: str | None = None):
    """A JSON file read whole (size-checked) and parsed by :func:`parse_json`."""
    return parse_json(path, read_bytes(path, what, limit, error), what, error, invalid)
