"""EXIF focal length: read it from image files, turn it into pixels, and write it (tests, sample suite).

Depth Pro's rule (ml-depth-pro ``utils.load_rgb``, docs/formats.md P7): take the 35 mm-equivalent focal
length ``FocalLengthIn35mmFilm`` (tag 0xA405, also known to other tools as ``FocalLenIn35mmFilm``
and ``FocalLengthIn35mmFormat``) from the EXIF sub-IFD merged with IFD0 (IFD0 wins on a clash),
and convert it by the diagonal rule f_px = f35 · sqrt(W² + H²) / sqrt(36² + 24²), with W×H the
image size after the EXIF orientation. When only the physical ``FocalLength`` (mm, tag 0x920A)
is known, f_px = f_mm · W_long / sensor_long_mm needs the camera's sensor width, which EXIF does
not carry reliably: it is used only when a table of sensor widths is supplied (docs/formats.md §14.2).

Implausible values are not focal lengths: EXIF writers use 65535 (the SHORT maximum) and 0 as
"unknown", and a corrupt tag can hold anything; 65535 mm would become a ground-truth focal of
~600,000 px. A 35 mm-equivalent focal outside :data:`PLAUSIBLE_F35_MM` (4–5000 mm: wider than
any fisheye, longer than the longest superzoom's 3000 mm) or a physical focal outside
:data:`PLAUSIBLE_F_MM` (0.5–5000 mm) is dropped, kept in ``ExifFocal.implausible``, and named
in the exclusion reason when no other rule gives a focal.

Both rules are invariant to the orientation (the diagonal does not change under a rotation, and
the long side is matched with the sensor's long side), so the pixel focal is the same whether or
not a reader applies the orientation.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, TiffImagePlugin, UnidentifiedImageError

from dpbench.errors import DatasetError

log = logging.getLogger(__name__)

TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_ORIENTATION = 0x0112
TAG_IMAGE_WIDTH = 0x0100
TAG_IMAGE_LENGTH = 0x0101
TAG_EXIF_IFD = 0x8769
TAG_FOCAL_LENGTH = 0x920A
TAG_FOCAL_LENGTH_35MM = 0xA405

#: Orientations that swap width and height (rotations by ±90°, with or without a mirror).
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)

#: Plausible 35 mm-equivalent and physical focal lengths (mm), bounds included.
PLAUSIBLE_F35_MM = (4.0, 5000.0)
PLAUSIBLE_F_MM = (0.5, 5000.0)

#: Suffixes of the image files the focal datasets read by default (HEIF ones need pillow-heif).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
HEIF_SUFFIXES = (".heic", ".heif")

_heif_state: bool | None = None


def heif_available() -> bool:
    """Register ``pillow_heif`` with Pillow if it is installed; True when HEIC files can be read."""
    global _heif_state
    if _heif_state is None:
        try:
            import pillow_heif  # type: ignore[import-not-found]

            pillow_heif.register_heif_opener()
            _heif_state = True
        except ImportError:
            _heif_state = False
    return _heif_state


@dataclass(frozen=True)
class ExifFocal:
    """The focal-length facts of one image file.

    ``width``/``height`` are the pixel size after the EXIF orientation is applied (what
    :func:`dpbench.io.image.read_image` returns); ``f35_mm`` is the 35 mm-equivalent focal length,
    ``f_mm`` the physical one; any of them may be missing (None).
    """

    path: str
    width: int
    height: int
    orientation: int = 1
    f35_mm: float | None = None
    f_mm: float | None = None
    make: str | None = None
    model: str | None = None
    implausible: tuple[tuple[str, float], ...] = ()  # (tag name, value) dropped as implausible

    @property
    def camera(self) -> str | None:
        """'Make Model' without repeating the make when the model already starts with it."""
        return camera_name(self.make, self.model)


@dataclass(frozen=True)
class FocalFromExif:
    """Outcome of the ground-truth focal rule: a focal in pixels and its source, or the reason it has none."""

    focal_px: float | None
    source: str | None = None  # "35mm" or "mm+sensor_width"
    reason: str | None = None  # why there is no focal (an exclusion reason)


def _clean_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1", errors="replace")
    text = " ".join(str(value).replace("\x00", " ").split())
    return text or None


def _positive_number(value) -> float | None:
    """A focal tag value as a positive finite float (rationals, ints, 1-tuples), else None."""
    if isinstance(value, (tuple, list)):
        if len(value) == 2 and all(isinstance(v, int) for v in value):  # raw (num, den) rational
            value = value[0] / value[1] if value[1] else float("nan")
        elif len(value) >= 1:
            value = value[0]
        else:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def camera_name(make: str | None, model: str | None) -> str | None:
    """Human camera name from EXIF Make and Model ('Canon' + 'Canon EOS 5D' -> 'Canon EOS 5D')."""
    make, model = _clean_text(make), _clean_text(model)
    if make and model:
        return model if model.lower().startswith(make.lower()) else f"{make} {model}"
    return model or make


def _camera_key(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\x00", " ")).strip().lower()


def lookup_sensor_width(sensor_widths: Mapping[str, float] | None, make: str | None,
                        model: str | None) -> float | None:
    """Sensor width (mm, long side) of a camera from a table keyed by camera name.

    Keys are matched case-insensitively with collapsed white space, trying the Model alone, then
    'Make Model' (so both ``"NIKON D90"`` and ``"NIKON CORPORATION NIKON D90"`` can be keys).
    """
    if not sensor_widths:
        return None
    table = {_camera_key(k): float(v) for k, v in sensor_widths.items()}
    candidates = []
    model, make = _clean_text(model), _clean_text(make)
    if model:
        candidates.append(model)
    name = camera_name(make, model)
    if name:
        candidates.append(name)
    if make and model:
        candidates.append(f"{make} {model}")
    for candidate in candidates:
        width = table.get(_camera_key(candidate))
        if width is not None:
            return width
    return None


def _stored_size(image: Image.Image) -> tuple[int, int]:
    """Width and height of the pixel data as stored in the file (before the orientation)."""
    if image.format == "TIFF":  # recent Pillow reports TIFF sizes already oriented
        tags = getattr(image, "tag_v2", {})
        width, height = tags.get(TAG_IMAGE_WIDTH), tags.get(TAG_IMAGE_LENGTH)
        if isinstance(width, int) and isinstance(height, int):
            return width, height
    return image.size


def exif_tags(image: Image.Image) -> dict[int, object]:
    """EXIF tags of an open image as {tag id: value}: the EXIF sub-IFD merged with IFD0, IFD0 winning.

    This is the merge Depth Pro's ``extract_exif`` performs (it keys by tag name; the tags read
    here have one id per name, so keying by id gives the same result).
    """
    exif = image.getexif()
    merged: dict[int, object] = {}
    try:
        merged.update(exif.get_ifd(TAG_EXIF_IFD))
    except Exception as exc:  # a corrupt sub-IFD must not hide the IFD0 tags
        log.debug("could not read the EXIF sub-IFD: %s", exc)
    merged.update({k: v for k, v in exif.items() if k != TAG_EXIF_IFD})
    return merged


def read_exif_focal(path: str | os.PathLike) -> ExifFocal:
    """Read the focal-length facts of an image file without decoding its pixels.

    Raises DatasetError naming the file if it is missing or not an image Pillow can open.
    """
    path = Path(path)
    if path.suffix.lower() in HEIF_SUFFIXES:
        heif_available()
    if not path.exists():
        raise DatasetError(f"{path}: image file not found")
    try:
        with Image.open(path) as image:
            stored_w, stored_h = _stored_size(image)
            tags = exif_tags(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable image ({exc})") from exc
    orientation = tags.get(TAG_ORIENTATION, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    width, height = (stored_h, stored_w) if orientation in TRANSPOSING_ORIENTATIONS else (stored_w, stored_h)
    implausible: list[tuple[str, float]] = []
    f35 = _plausible("FocalLengthIn35mmFilm", _positive_number(tags.get(TAG_FOCAL_LENGTH_35MM)),
                     PLAUSIBLE_F35_MM, implausible)
    f_mm = _plausible("FocalLength", _positive_number(tags.get(TAG_FOCAL_LENGTH)), PLAUSIBLE_F_MM, implausible)
    return ExifFocal(
        path=str(path),
        width=int(width),
        height=int(height),
        orientation=int(orientation),
        f35_mm=f35,
        f_mm=f_mm,
        implausible=tuple(implausible),
        make=_clean_text(tags.get(TAG_MAKE)),
        model=_clean_text(tags.get(TAG_MODEL)),
    )


def _plausible(name: str, value: float | None, bounds: tuple[float, float],
               rejected: list[tuple[str, float]]) -> float | None:
    """``value`` when inside ``bounds`` (or None); else None, with (name, value) added to ``rejected``."""
    if value is None or bounds[0] <= value <= bounds[1]:
        return value
    rejected.append((name, value))
    return None


def _implausible_reason(implausible) -> str:
    parts = [
        f"{name} = {value:g} mm is outside the plausible "
        f"{'%g–%g' % (PLAUSIBLE_F35_MM if name == 'FocalLengthIn35mmFilm' else PLAUSIBLE_F_MM)} mm"
        for name, value in implausible
    ]
    return "implausible EXIF focal length: " + "; ".join(parts)


def focal_px_from_exif(exif: ExifFocal, sensor_widths: Mapping[str, float] | None = None,
                       width: int | None = None, height: int | None = None) -> FocalFromExif:
    """Ground-truth focal in pixels from EXIF facts (Depth Pro's rule, then the sensor-width fallback).

    1. ``f35_mm`` > 0: f_px = f35 · sqrt(W² + H²) / sqrt(36² + 24²) (the diagonal rule).
    2. else ``f_mm`` > 0 and the camera is in ``sensor_widths`` (mm, sensor long side):
       f_px = f_mm · max(W, H) / sensor_width_mm.
    3. otherwise no focal, with the reason (used as an exclusion reason by the focal datasets).

    ``width``/``height`` override the size recorded in ``exif`` (e.g. the decoded image's size).
    """
    from dpbench.metrics.focal import focal_from_35mm, focal_from_mm  # lazy: metrics sit above io

    width = int(width if width is not None else exif.width)
    height = int(height if height is not None else exif.height)
    implausible = list(exif.implausible)
    f35 = _plausible("FocalLengthIn35mmFilm", exif.f35_mm, PLAUSIBLE_F35_MM, implausible)
    f_mm = _plausible("FocalLength", exif.f_mm, PLAUSIBLE_F_MM, implausible)
    if f35 is not None:
        return FocalFromExif(float(focal_from_35mm(f35, width, height)), source="35mm")
    if f_mm is None:
        reason = _implausible_reason(implausible) if implausible else "no focal length in EXIF"
        return FocalFromExif(None, reason=reason)
    sensor_width = lookup_sensor_width(sensor_widths, exif.make, exif.model)
    if sensor_width is None:
        camera = exif.camera or "unknown camera"
        reason = f"only FocalLength (mm) and no sensor width for {camera!r}"
        if implausible:
            reason += f"; {_implausible_reason(implausible)}"
        return FocalFromExif(None, reason=reason)
    focal = float(focal_from_mm(f_mm, max(width, height), sensor_width))
    return FocalFromExif(focal, source="mm+sensor_width")


def make_exif(f35: float | None = None, f_mm: float | None = None, make: str | None = None,
              model: str | None = None, orientation: int | None = None) -> Image.Exif:
    """An EXIF block with the given focal fields, for writing test images and the sample suite.

    ``f35`` is stored as the integer SHORT the EXIF standard prescribes (rounded), ``f_mm`` as a
    rational; pass the result as ``exif=`` to Pillow's ``save`` (JPEG, PNG and WebP keep it).
    """
    exif = Image.Exif()
    if make is not None:
        exif[TAG_MAKE] = make
    if model is not None:
        exif[TAG_MODEL] = model
    if orientation is not None:
        if not 1 <= int(orientation) <= 8:
            raise ValueError(f"EXIF orientation must be 1..8, got {orientation}")
        exif[TAG_ORIENTATION] = int(orientation)
    if f35 is not None or f_mm is not None:
        sub = exif.get_ifd(TAG_EXIF_IFD)
        if f35 is not None:
            sub[TAG_FOCAL_LENGTH_35MM] = int(round(float(f35)))
        if f_mm is not None:
            sub[TAG_FOCAL_LENGTH] = TiffImagePlugin.IFDRational(float(f_mm))
    return exif
