"""Reading and writing 8-bit RGB images, with the EXIF orientation applied on read.

Large 8-bit RGB/grey PNGs and JPEGs (Booster, ETH3D: 12–24 Mpx) are decoded by OpenCV straight
into a numpy array, which is ~1.5–2× faster than Pillow plus its array copy; the EXIF
orientation still comes from Pillow (header only) and is applied with the same transpositions.
PNG decoding is lossless, and both libraries decode JPEG with libjpeg-turbo's defaults, so the
pixels are identical (tested); every other mode or format, and any OpenCV failure, goes through
Pillow, which also produces the error messages.

No image is decoded before its header size is checked against dpbench's pixel limit
(:mod:`dpbench.io.limits`, 64 Mpx unless ``$DPBENCH_MAX_PIXELS`` says otherwise), and no encoded
file larger than :func:`~dpbench.io.limits.max_file_bytes` is read. Pillow's own bomb guard
(a warning above 89 Mpx, an error above 179 Mpx) stays in force too: the largest dataset images
(ETH3D 24 Mpx, Booster 12 Mpx) are far below both.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dpbench.errors import DatasetError
from dpbench.io.limits import check_file_bytes, check_pixels

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_HEADER_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError, EOFError)


#: EXIF Orientation value -> the numpy operation Pillow's ``exif_transpose`` performs.
_ORIENTATION_OPS = {
    2: lambda a: a[:, ::-1],  # FLIP_LEFT_RIGHT
    3: lambda a: a[::-1, ::-1],  # ROTATE_180
    4: lambda a: a[::-1],  # FLIP_TOP_BOTTOM
    5: lambda a: a.swapaxes(0, 1),  # TRANSPOSE
    6: lambda a: np.rot90(a, -1),  # ROTATE_270 (clockwise)
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),  # TRANSVERSE
    8: lambda a: np.rot90(a, 1),  # ROTATE_90 (counter-clockwise)
}


def declared_size(path: str | os.PathLike, what: str = "image",
                  error: type[Exception] = DatasetError) -> tuple[int, int]:
    """(width, height) an image file declares, read by Pillow from the header alone, after
    checking the file's byte size; ``error`` naming the file when it is unreadable or the size
    exceeds the pixel limit. Call it before handing a file to any decoder."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    check_file_bytes(path, what, error=error)
    with path.open("rb") as handle:
        head = handle.read(24)
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":  # checked here so the message is ours
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        check_pixels(path, (height, width), f"{what} header", error)
    try:
        with Image.open(path) as header:
            size = header.size
    except Image.DecompressionBombError as exc:
        raise error(f"{path}: {what} is too large to decode ({exc})") from None
    except _HEADER_ERRORS as exc:
        raise error(f"{path}: unreadable {what} ({exc})") from None
    check_pixels(path, (size[1], size[0]), f"{what} header", error)
    return size


def _open_loaded(path: str | os.PathLike) -> Image.Image:
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: image file not found")
    declared_size(path, "image")
    try:
        image = Image.open(path)
        image.load()
    except (*_HEADER_ERRORS, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{path}: unreadable image ({exc})") from exc
    return image


def exif_orientation_of(image: Image.Image) -> int:
    """The EXIF Orientation value (1–8) of an opened Pillow image; 1 when absent or invalid."""
    try:
        value = int(image.getexif().get(0x0112, 1))
    except (TypeError, ValueError, OSError, SyntaxError):
        return 1
    return value if value in range(1, 9) else 1


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Transform an array stored in the file's pixel frame exactly as the image's EXIF
    orientation transforms the image (so depth maps stay aligned with ``read_image``)."""
    op = _ORIENTATION_OPS.get(int(orientation))
    return array if op is None else np.ascontiguousarray(op(array))


def orientation_swaps_axes(orientation: int) -> bool:
    """True when the EXIF orientation turns the image by 90° (width and height swap, fx↔fy)."""
    return int(orientation) in (5, 6, 7, 8)


def orient_intrinsics(fx: float, fy: float, cx: float, cy: float, orientation: int,
                      stored_hw: tuple[int, int]) -> list[float]:
    """``[fx, fy, cx, cy]`` of a camera after the EXIF ``orientation`` transform that
    :func:`apply_orientation` applies to its H×W (``stored_hw``) pixels; 0-based pixel centres."""
    h, w = stored_hw
    x_max, y_max = w - 1.0, h - 1.0
    moved = {
        2: (x_max - cx, cy), 3: (x_max - cx, y_max - cy), 4: (cx, y_max - cy),
        5: (cy, cx), 6: (y_max - cy, cx), 7: (y_max - cy, x_max - cx), 8: (cy, x_max - cx),
    }
    new_cx, new_cy = moved.get(int(orientation), (cx, cy))
    if orientation_swaps_axes(orientation):
        fx, fy = fy, fx
    return [float(fx), float(fy), float(new_cx), float(new_cy)]


def open_oriented(path: str | os.PathLike) -> Image.Image:
    """Open an image with Pillow and apply its EXIF orientation (all eight values)."""
    image = _open_loaded(path)
    if exif_orientation_of(image) == 1:
        return image
    return ImageOps.exif_transpose(image)


def _png_exif_orientation(buffer: np.ndarray) -> int:
    """EXIF orientation from a PNG's ``eXIf`` chunk, found by walking the chunk headers (Pillow
    would decode the whole image to reach a chunk placed after the pixel data); 1 if absent."""
    data = buffer.tobytes() if buffer.size < 1 << 16 else memoryview(buffer)
    position = 8
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = bytes(data[position + 4 : position + 8])
        if kind == b"eXIf":
            exif = Image.Exif()
            try:
                exif.load(bytes(data[position + 8 : position + 8 + length]))
                value = int(exif.get(0x0112, 1))
            except (ValueError, TypeError, OSError, SyntaxError):
                return 1
            return value if value in range(1, 9) else 1
        if kind == b"IEND":
            break
        position += 12 + length
    return 1


def _decode_with_opencv(path: Path, header: Image.Image) -> tuple[np.ndarray, int] | None:
    """(H×W×3 RGB as stored, EXIF orientation) decoded by OpenCV, or None when the fast path does
    not apply (not an 8-bit RGB/grey PNG or JPEG) or OpenCV cannot decode the file."""
    if header.format not in ("PNG", "JPEG") or header.mode not in ("RGB", "L"):
        return None
    buffer = np.fromfile(path, dtype=np.uint8)
    if header.format == "PNG":
        if buffer.size < 25 or buffer[24] != 8:  # IHDR bit depth
            return None
        orientation = _png_exif_orientation(buffer)
        if "exif" in header.info or "Raw profile type exif" in header.info:
            orientation = exif_orientation_of(header)  # EXIF already parsed at open time
    else:
        orientation = exif_orientation_of(header)  # JPEG APP1, read at open time
    array = cv2.imdecode(buffer, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if array is None or array.shape != (header.height, header.width, 3):
        return None
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB), orientation


def read_image_oriented(path: str | os.PathLike) -> tuple[np.ndarray, int, tuple[int, int]]:
    """Read an image as H×W×3 uint8 RGB with EXIF orientation applied, and also return the
    orientation value and the (H, W) of the pixels as stored in the file."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: image file not found")
    declared_size(path, "image")
    try:
        with Image.open(path) as header:
            stored_hw = (header.height, header.width)
            fast = _decode_with_opencv(path, header)
    except (*_HEADER_ERRORS, Image.DecompressionBombError) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{path}: unreadable image ({exc})") from exc
    if fast is not None:
        array, orientation = fast
        return apply_orientation(array, orientation), orientation, stored_hw
    image = _open_loaded(path)
    orientation = exif_orientation_of(image)
    if orientation != 1:
        image = ImageOps.exif_transpose(image)
    return to_rgb8(image, path), orientation, stored_hw


def to_rgb8(image: Image.Image, path: str | os.PathLike = "<image>") -> np.ndarray:
    """Convert a Pillow image to H×W×3 uint8 RGB (grey copied to 3 channels, alpha dropped).

    16-bit images are scaled to 8 bits by keeping the high byte.
    """
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.uint32)
        if array.max(initial=0) > 255:
            array = array >> 8
        array = np.clip(array, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(array[..., None], 3, axis=2))
    if image.mode != "RGB":
        image = image.convert("RGB")
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3:
        raise DatasetError(f"{path}: could not convert to RGB (mode {image.mode}, shape {array.shape})")
    return np.ascontiguousarray(array)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as H×W×3 uint8 RGB with the EXIF orientation applied."""
    return read_image_oriented(path)[0]


def write_image(path: str | os.PathLike, rgb: np.ndarray, exif: Image.Exif | bytes | None = None,
                quality: int = 95) -> None:
    """Write an H×W×3 uint8 RGB array as PNG or JPEG (by suffix), optionally with EXIF."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"write_image expects H×W×3 uint8, got shape {rgb.shape} dtype {rgb.dtype}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict = {}
    if exif is not None:
        kwargs["exif"] = exif
    if path.suffix.lower() in (".jpg", ".jpeg"):
        kwargs.update(quality=quality, subsampling=0)
    Image.fromarray(rgb).save(path, **kwargs)
