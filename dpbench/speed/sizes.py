"""Input sizes of a speed run: named presets (``vga``, ``hd``, ``4k``...) or ``WxH``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dpbench.errors import DpbenchError

#: Named sizes as (width, height). ``4k`` is UHD 3840×2160; the paper's Table 5 "4K" column
#: used 4032×3024 photos (12 MP), available as ``4k-paper``.
SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "vga": (640, 480),
    "hd": (1920, 1080),
    "4k": (3840, 2160),
    "4k-paper": (4032, 3024),
}
DEFAULT_SIZES = "vga,hd,4k"
#: Larger sides are refused (a typo such as 19200x1080 would otherwise allocate gigabytes).
MAX_SIDE = 16384


class SizeError(DpbenchError, ValueError):
    """A size string is neither a preset nor ``WxH`` with sensible numbers."""


@dataclass(frozen=True)
class InputSize:
    """One measured input size; ``label`` is the row's ``sample_id`` (``vga`` or ``800x600``)."""

    label: str
    width: int
    height: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def __str__(self) -> str:
        return f"{self.label} ({self.width}×{self.height})"


def parse_size(text: str) -> InputSize:
    """One size: a preset name (case-insensitive) or ``WxH`` (``×`` accepted)."""
    token = text.strip().lower()
    if token in SIZE_PRESETS:
        width, height = SIZE_PRESETS[token]
        return InputSize(token, width, height)
    match = re.fullmatch(r"(\d+)\s*[x×]\s*(\d+)", token)
    if not match:
        raise SizeError(f"unknown size {text.strip()!r}: use {', '.join(SIZE_PRESETS)} or WxH (e.g. 800x600)")
    width, height = int(match.group(1)), int(match.group(2))
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise SizeError(f"size {text.strip()!r}: width and height must be between 1 and {MAX_SIDE}")
    return InputSize(f"{width}x{height}", width, height)


def parse_sizes(text: str | list[str] | tuple[str, ...]) -> list[InputSize]:
    """Comma-separated sizes (or a list of them), duplicates dropped, order kept."""
    parts = text.split(",") if isinstance(text, str) else [p for item in text for p in item.split(",")]
    sizes: list[InputSize] = []
    for part in parts:
        if not part.strip():
            continue
        size = parse_size(part)
        if size.label not in {s.label for s in sizes}:
            sizes.append(size)
    if not sizes:
        raise SizeError("no size given: use e.g. --sizes vga,hd,4k")
    return sizes


__all__ = ["DEFAULT_SIZES", "MAX_SIDE", "SIZE_PRESETS", "InputSize", "SizeError", "parse_size", "parse_sizes"]
