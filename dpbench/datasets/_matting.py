"""Shared machinery of the mask-based boundary datasets (AM-2k, P3M-10k, DIS-5k, PPM-100).

Each of these is a folder of photos next to a folder of ground-truth mattes or masks with the
same file stem (``<images>/<stem>.jpg`` ↔ ``<masks>/<stem>.png``). Which folders make up which
split is data, read from the spec file ``datasets/<name>.toml``::

    [splits.validation]
    layouts = [{ images = "validation/original", masks = "validation/mask" }]   # first present wins
    [splits.both]
    parts = ["P3M-500-P", "P3M-500-NP"]                                         # a union of splits

``split="all"`` is the union of every split whose folders are present. A sample carries the
photo and ``mask`` as float32 in [0, 1] (8-bit mattes / 255, 16-bit / 65535, 1-bit to 0/1), no
depth: the paper scores these sets with the mask-based boundary recall (docs/paper.md §3).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from dpbench.datasets.base import Dataset, load_spec
from dpbench.errors import DatasetError
from dpbench.io.image import declared_size, read_image
from dpbench.types import Sample

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


def read_mask(path: str | Path) -> np.ndarray:
    """Read a matte or mask image as H×W float32 in [0, 1].

    8-bit greyscale (or palette/RGB, converted to luminance) is divided by 255, 16-bit by 65535,
    1-bit masks become 0/1; a colour mask whose channels differ is read as luminance.
    Raises DatasetError naming the file if it is missing or unreadable.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: mask file not found")
    declared_size(path, "mask")  # the pixel limit, before any decoding
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode == "1":
                return np.asarray(image, dtype=bool).astype(np.float32)
            if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
                return (np.asarray(image, dtype=np.float64) / 65535.0).astype(np.float32)
            if mode == "I":
                array = np.asarray(image, dtype=np.float64)
                scale = 65535.0 if array.max(initial=0) > 255 else 255.0
                return np.clip(array / scale, 0.0, 1.0).astype(np.float32)
            if mode == "F":
                array = np.asarray(image, dtype=np.float32)
                if not np.isfinite(array).all():
                    raise DatasetError(f"{path}: float mask contains NaN or inf")
                return np.clip(array, 0.0, 1.0)
            if mode in ("LA", "La"):
                image = image.getchannel("L")
            elif mode != "L":
                image = image.convert("L")
            return np.asarray(image, dtype=np.float32) / np.float32(255.0)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable mask ({exc})") from exc


@dataclass(frozen=True)
class MaskItem:
    """One photo and its ground-truth mask."""

    id: str
    image: Path
    mask: Path
    part: str
    extra: dict = field(default_factory=dict, compare=False)


class MaskDataset(Dataset):
    """Base of the mask datasets: folders of photos with same-stem mask PNGs (module docstring)."""

    mask_suffix = ".png"

    # -- spec helpers --------------------------------------------------------------------
    def _split_table(self) -> dict:
        splits = self.spec.get("splits", {})
        if not isinstance(splits, dict):
            raise DatasetError(f"{self.name}: protocol 'splits' must be a table")
        return splits

    def _parts_of(self, split: str) -> list[str]:
        """The leaf splits (those with folder layouts) that make up ``split``."""
        table = self._split_table()
        if split == "all":
            return [name for name, spec in table.items() if "layouts" in spec]
        spec = table.get(split)
        if spec is None:
            raise DatasetError(f"{self.name}: split {split!r} is not described in datasets/{self.name}.toml")
        if "parts" in spec:
            parts: list[str] = []
            for part in spec["parts"]:
                parts.extend(p for p in self._parts_of(part) if p not in parts)
            return parts
        return [split]

    def _base_dir(self) -> Path:
        """The folder the layouts are relative to (the dataset root unless a subclass says otherwise)."""
        return self.root

    def _find_layout(self, part: str) -> tuple[Path, Path] | None:
        """The (images, masks) folders of ``part``: the first layout whose image folder exists."""
        base = self._base_dir()
        for layout in self._split_table()[part].get("layouts", []):
            images, masks = base / layout["images"], base / layout["masks"]
            if images.is_dir():
                return images, masks
        return None

    def _expected_folders(self, part: str) -> str:
        base = self._base_dir()
        return " or ".join(
            f"{base / lay['images']} (+ {lay['masks']})" for lay in self._split_table()[part].get("layouts", [])
        )

    # -- indexing ------------------------------------------------------------------------
    def _item_id(self, item: MaskItem) -> str:
        return item.id

    def _make_id(self, part: str, stem: str) -> str:
        return f"{part}/{stem}"

    def _photos(self, folder: Path) -> Iterable[Path]:
        """The photos of one folder, sorted by name (deterministic order)."""
        return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix in PHOTO_SUFFIXES),
                      key=lambda p: p.name)

    def _index(self) -> list[MaskItem]:
        parts = self._parts_of(self.split)
        items: list[MaskItem] = []
        seen_folders: set[Path] = set()
        for part in parts:
            found = self._find_layout(part)
            if found is None:
                if self.split != "all":
                    raise DatasetError(
                        f"{self.name}: split {part!r} not found; expected {self._expected_folders(part)}"
                    )
                continue
            images, masks = found
            if images.resolve() in seen_folders:
                continue
            seen_folders.add(images.resolve())
            if not masks.is_dir():
                raise DatasetError(
                    f"{self.name}: mask folder {masks} is missing (photos found in {images}); "
                    f"expected layout: {self.layout}"
                )
            items.extend(self._pair(part, images, masks))
        self._warn_on_count(parts, len(items))
        return items

    def _pair(self, part: str, images: Path, masks: Path) -> list[MaskItem]:
        items = []
        for photo in self._photos(images):
            mask = masks / f"{photo.stem}{self.mask_suffix}"
            if not mask.is_file():
                self._skip_or_raise(str(photo), f"missing mask {mask}")
                continue
            items.append(MaskItem(self._make_id(part, photo.stem), photo, mask, part))
        return items

    def _warn_on_count(self, parts: list[str], count: int) -> None:
        if self.split == "all":
            return
        table = self._split_table()
        spec = table.get(self.split, {})
        expected = spec.get("expected")
        if expected is None and len(parts) > 1:
            counts = [table[p].get("expected") for p in parts]
            expected = sum(counts) if all(c is not None for c in counts) else None
        if expected is not None and count != expected:
            log.info("%s: split %r has %d samples under %s (the official release has %d)",
                        self.name, self.split, count, self.root, expected)

    # -- loading -------------------------------------------------------------------------
    def _load(self, item: MaskItem) -> Sample:
        image = read_image(item.image)
        mask = read_mask(item.mask)
        if mask.shape != image.shape[:2]:
            hint = ""
            if mask.shape == image.shape[1::-1]:
                hint = " (the transposed size: check the photo's EXIF orientation)"
            raise DatasetError(
                f"{self.name}: mask {item.mask} is {mask.shape[1]}×{mask.shape[0]} (W×H) but its image "
                f"{item.image} is {image.shape[1]}×{image.shape[0]}{hint}"
            )
        meta = {"image_path": str(item.image), "mask_path": str(item.mask), "part": item.part, **item.extra}
        return Sample(id=item.id, image=image, mask=mask, meta=meta)

    @classmethod
    def _present_by_layouts(cls, root: Path, base: Path | None = None) -> bool:
        base = base or root
        for spec in load_spec(cls.name).get("splits", {}).values():
            for layout in spec.get("layouts", []):
                if (base / layout["images"]).is_dir() and (base / layout["masks"]).is_dir():
                    return True
        return False

    @classmethod
    def is_present(cls, root) -> bool:
        return cls._present_by_layouts(Path(root))
