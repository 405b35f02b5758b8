"""OpenCV FileStorage XML (Booster's ``calib_00-02.xml``): matrices and scalars, parsed by hand.

Layout (as ``cv2.FileStorage`` writes it): a root ``<opencv_storage>`` whose children are named
nodes. A matrix node has ``type_id="opencv-matrix"`` and children ``rows``, ``cols``, ``dt``
(element type: ``u`` uint8, ``c`` int8, ``w`` uint16, ``s`` int16, ``i`` int32, ``f`` float32,
``d`` float64, optionally prefixed by a channel count) and ``data`` (white-space separated
values, row-major). A scalar node holds plain text: an integer, a real or a string.

Hostile files are refused naming the file: larger than
:data:`~dpbench.io.limits.MAX_CALIB_BYTES`, nested deeper than
:data:`~dpbench.io.limits.MAX_NESTING` levels (calibration files have 2–3), entity bombs
(expat's amplification guard), negative or oversized matrix dimensions.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dpbench.errors import DatasetError
from dpbench.io.limits import MAX_CALIB_BYTES, MAX_NESTING, read_bytes

_DT_TO_DTYPE = {
    "u": np.uint8, "c": np.int8, "w": np.uint16, "s": np.int16,
    "i": np.int32, "f": np.float32, "d": np.float64, "h": np.float16,
}
_DTYPE_TO_DT = {np.dtype(v).str[1:]: k for k, v in _DT_TO_DTYPE.items()}
_DT_RE = re.compile(r"^\s*(\d*)\s*([ucwsifdh])\s*$")
_VALUES_PER_LINE = 4

OpenCVValue = np.ndarray | int | float | str | list | dict


def _parse_matrix(path: Path, node: ET.Element) -> np.ndarray:
    parts = {child.tag: (child.text or "").strip() for child in node}
    missing = [key for key in ("rows", "cols", "data") if key not in parts]
    if missing:
        raise DatasetError(f"{path}: matrix <{node.tag}> lacks <{'>, <'.join(missing)}>")
    try:
        rows, cols = int(parts["rows"]), int(parts["cols"])
    except ValueError:
        raise DatasetError(
            f"{path}: matrix <{node.tag}>: rows/cols must be integers, found "
            f"{parts['rows']!r}/{parts['cols']!r}"
        ) from None
    match = _DT_RE.match(parts.get("dt", "d"))
    if match is None:
        raise DatasetError(f"{path}: matrix <{node.tag}>: unknown element type dt={parts.get('dt')!r}")
    channels = int(match.group(1) or 1)
    dtype = np.dtype(_DT_TO_DTYPE[match.group(2)])
    try:
        values = [float(v) for v in parts["data"].split()]
    except ValueError:
        raise DatasetError(f"{path}: matrix <{node.tag}>: non-numeric value in <data>") from None
    if rows < 0 or cols < 0 or channels < 1:
        raise DatasetError(f"{path}: matrix <{node.tag}>: invalid size {rows}x{cols}x{channels}")
    expected = rows * cols * channels
    if len(values) != expected:
        raise DatasetError(
            f"{path}: matrix <{node.tag}>: expected {rows}x{cols}x{channels} = {expected} values, "
            f"found {len(values)}"
        )
    shape = (rows, cols) if channels == 1 else (rows, cols, channels)
    return np.array(values, dtype=np.float64).astype(dtype).reshape(shape)


def _parse_scalar(text: str) -> int | float | str:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def read_opencv_xml(path: str | os.PathLike) -> dict[str, OpenCVValue]:
    """Read every top-level node of an OpenCV FileStorage XML file.

    Matrices become numpy arrays of their ``dt`` type, numbers become int or float, other
    text stays a string; sequences become lists and maps dicts (not used by the datasets, but
    their presence must not make a calibration file unreadable).
    """
    path = Path(path)
    data = read_bytes(path, "OpenCV XML file", limit=MAX_CALIB_BYTES)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise DatasetError(f"{path}: not a readable XML file ({exc})") from None
    except RecursionError:
        raise DatasetError(f"{path}: XML nested too deeply") from None
    if root.tag != "opencv_storage":
        raise DatasetError(f"{path}: expected an <opencv_storage> root element, found <{root.tag}>")
    return {node.tag: _parse_node(path, node, 1) for node in root}


def _parse_node(path: Path, node: ET.Element, depth: int):
    """A matrix, a sequence (children named ``_``) as a list, a map as a dict, or a scalar."""
    if depth > MAX_NESTING:
        raise DatasetError(f"{path}: XML nested more than {MAX_NESTING} levels deep (at <{node.tag}>)")
    if node.get("type_id") == "opencv-matrix" or {c.tag for c in node} >= {"rows", "cols", "data"}:
        return _parse_matrix(path, node)
    if len(node) == 0:
        text = (node.text or "").strip()
        values = text.split()
        if len(values) > 1 and not (text.startswith('"') and text.endswith('"')):
            return [_parse_scalar(v) for v in values]  # an inline sequence such as "4112 3008"
        return _parse_scalar(text)
    if all(child.tag == "_" for child in node):
        return [_parse_node(path, child, depth + 1) for child in node]
    return {child.tag: _parse_node(path, child, depth + 1) for child in node}


def _format_value(value: float, dtype: np.dtype) -> str:
    """A number as OpenCV writes it: shortest exact text, integral reals ending in '.'."""
    if np.issubdtype(dtype, np.integer):
        return str(int(value))
    text = f"{float(value):.17g}" if dtype == np.float64 else f"{float(value):.9g}"
    if not any(ch in text for ch in ".enai"):
        text += "."
    return text


def _matrix_xml(name: str, array: np.ndarray) -> str:
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim not in (2, 3):
        raise ValueError(f"{name}: OpenCV matrices are 2-D (or 3-D with channels), got shape {array.shape}")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    key = array.dtype.str[1:]
    if key not in _DTYPE_TO_DT:
        array = array.astype(np.float64)
        key = "f8"
    dt = _DTYPE_TO_DT[key]
    if array.ndim == 3:
        dt = f"{array.shape[2]}{dt}"
    flat = [_format_value(v, array.dtype) for v in array.reshape(-1)]
    lines = [" ".join(flat[i : i + _VALUES_PER_LINE]) for i in range(0, len(flat), _VALUES_PER_LINE)]
    data = "\n    ".join(lines)
    return (
        f'<{name} type_id="opencv-matrix">\n  <rows>{array.shape[0]}</rows>\n'
        f"  <cols>{array.shape[1]}</cols>\n  <dt>{dt}</dt>\n  <data>\n    {data}</data></{name}>\n"
    )


def write_opencv_xml(path: str | os.PathLike, nodes: Mapping[str, OpenCVValue]) -> None:
    """Write named matrices (numpy arrays) and scalars (int, float, str) in OpenCV's XML layout.

    Float64 values are written with 17 significant digits, so they read back bit-exactly
    (with this reader or with ``cv2.FileStorage``).
    """
    parts = ['<?xml version="1.0"?>\n<opencv_storage>\n']
    for name, value in nodes.items():
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_\-]*$", name):
            raise ValueError(f"{name!r} is not a valid FileStorage node name")
        if isinstance(value, np.ndarray):
            parts.append(_matrix_xml(name, value))
        elif isinstance(value, (bool, np.bool_)):
            parts.append(f"<{name}>{int(value)}</{name}>\n")
        elif isinstance(value, (int, np.integer)):
            parts.append(f"<{name}>{int(value)}</{name}>\n")
        elif isinstance(value, (float, np.floating)):
            parts.append(f"<{name}>{_format_value(float(value), np.dtype(np.float64))}</{name}>\n")
        elif isinstance(value, str):
            if any(ch in value for ch in "<>&"):
                raise ValueError(f"{name}: string values must not contain <, > or &")
            text = f'"{value}"' if (not value or " " in value) else value
            parts.append(f"<{name}>{text}</{name}>\n")
        else:
            raise ValueError(f"{name}: cannot write a value of type {type(value).__name__}")
    parts.append("</opencv_storage>\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="ascii")
