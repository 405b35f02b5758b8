"""Focal-length datasets: folders of photos whose EXIF gives the ground-truth focal length.

``exif_folder`` takes any folder (searched recursively) of JPEG/PNG/TIFF/WebP images (HEIC/HEIF
when ``pillow-heif`` is installed). The ground-truth focal in pixels follows Depth Pro's rule
(:func:`dpbench.io.exif.focal_px_from_exif`): the 35 mm-equivalent focal by the diagonal rule;
else the physical focal length with a sensor width, only if the camera is in a sensor-width
table given as data (``[sensor_width_mm]`` in the spec file, or the ``sensor_widths``
option); else the image is excluded and counted in ``excluded`` with the reason.

The named sets (``fivek``, ``dddp``, ``spaq``, ``ppr10k``, ``raise``, ``zoom``) have no code:
each is a spec file ``datasets/<name>.toml`` with ``adapter = "exif_folder"``, which the
registry turns into this adapter reading that file: which sub-folders make up each split
(``[splits.<name>] dirs``), the file suffixes, the sensor-width table and, where the EXIF lives
in an annotation table rather than in the files (SPAQ), a ``[focal_table]`` description. All of
that is UNCONFIRMED (docs/formats.md §14.4) and overridable by keyword options. Another such set
is one more spec file.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dpbench.datasets import register_dataset
from dpbench.datasets.base import Dataset, load_spec
from dpbench.errors import DatasetError
from dpbench.io.exif import (
    HEIF_SUFFIXES,
    IMAGE_SUFFIXES,
    ExifFocal,
    FocalFromExif,
    camera_name,
    focal_px_from_exif,
    heif_available,
    read_exif_focal,
)
from dpbench.io.image import read_image
from dpbench.types import Sample

log = logging.getLogger(__name__)

DEFAULT_SUFFIXES = IMAGE_SUFFIXES


@dataclass(frozen=True)
class FocalItem:
    """One photo with its EXIF facts and the focal decided at indexing time."""

    id: str
    path: Path
    exif: ExifFocal
    focal: FocalFromExif


@dataclass(frozen=True)
class FocalTableSpec:
    """Where a sidecar table of EXIF values lives and which columns hold what (None = absent).

    With ``strict`` a named column missing from the table is an error; otherwise it is ignored
    (used for the default column names ``file, focal_35mm, focal_mm, make, model``).
    """

    path: Path
    file_column: str = "file"
    f35_column: str | None = "focal_35mm"
    f_mm_column: str | None = "focal_mm"
    make_column: str | None = "make"
    model_column: str | None = "model"
    strict: bool = False


def read_focal_table(spec: FocalTableSpec) -> dict[str, dict]:
    """Read a CSV/XLSX table of per-image EXIF values into {file name: {f35_mm, f_mm, make, model}}.

    Rows are keyed by the file name as written in the table and by its base name, so a table may
    list bare names or relative paths. Raises DatasetError naming the file or a missing column.
    """
    import pandas as pd

    path = spec.path
    if not path.is_file():
        raise DatasetError(f"{path}: focal table not found")
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            frame = pd.read_excel(path)
        else:
            frame = pd.read_csv(path)
    except ImportError as exc:
        raise DatasetError(f"{path}: reading this table needs an extra package ({exc}); "
                           "export it to CSV or install openpyxl") from exc
    except Exception as exc:
        raise DatasetError(f"{path}: unreadable focal table ({exc})") from exc
    columns = {"f35_mm": spec.f35_column, "f_mm": spec.f_mm_column, "make": spec.make_column,
               "model": spec.model_column}
    if spec.file_column not in frame.columns:
        raise DatasetError(f"{path}: column {spec.file_column!r} not found; columns are {list(frame.columns)}")
    for key, column in list(columns.items()):
        if column is not None and column not in frame.columns:
            if spec.strict:
                raise DatasetError(f"{path}: column {column!r} not found; columns are {list(frame.columns)}")
            columns[key] = None
    table: dict[str, dict] = {}
    for _, row in frame.iterrows():
        name = str(row[spec.file_column]).strip()
        values = {}
        for key, column in columns.items():
            if column is None:
                continue
            value = row[column]
            if key in ("f35_mm", "f_mm"):
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    number = math.nan
                values[key] = number if math.isfinite(number) and number > 0 else None
            else:
                values[key] = None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        table[name] = values
        table.setdefault(name.replace("\\", "/").rsplit("/", 1)[-1], values)
    return table


@register_dataset("exif_folder")
class ExifFolder(Dataset):
    """Any folder of photos with the focal length in their EXIF (see the module docstring).

    Keyword options (defaults from the spec file):
    ``sensor_widths`` {camera: sensor width in mm} merged over ``[sensor_width_mm]``;
    ``dirs`` sub-folders to scan instead of the split's; ``suffixes`` file suffixes;
    ``focal_table`` a CSV/XLSX of per-image EXIF values (with ``[focal_table]`` column names).
    """


    def __init__(self, root, split=None, on_error="raise", *,
                 sensor_widths: Mapping[str, float] | None = None,
                 dirs: list[str] | None = None,
                 suffixes: list[str] | None = None,
                 focal_table: str | os.PathLike | None = None):
        self._option_sensor_widths = dict(sensor_widths or {})
        self._option_dirs = list(dirs) if dirs is not None else None
        self._option_suffixes = suffixes
        self._option_focal_table = Path(focal_table) if focal_table is not None else None
        super().__init__(root, split=split, on_error=on_error)
        # Options change the evaluation set or the GT focals: record them (they enter protocol_hash()).
        options = {"sensor_widths": self._option_sensor_widths, "dirs": self._option_dirs,
                   "suffixes": self._option_suffixes,
                   "focal_table": str(self._option_focal_table) if self._option_focal_table else None}
        self.spec = {**self.spec, "options": {k: v for k, v in options.items() if v}}

    # -- spec-driven settings --------------------------------------------------------------
    @property
    def sensor_widths(self) -> dict[str, float]:
        """The camera -> sensor width (mm) table in use: the spec, then the option's entries."""
        table = {str(k): float(v) for k, v in self.spec.get("sensor_width_mm", {}).items()}
        table.update({str(k): float(v) for k, v in self._option_sensor_widths.items()})
        return table

    @property
    def suffixes(self) -> tuple[str, ...]:
        chosen = self._option_suffixes or self.spec.get("suffixes") or DEFAULT_SUFFIXES
        chosen = tuple(s.lower() if s.startswith(".") else f".{s.lower()}" for s in chosen)
        if heif_available():
            chosen += tuple(s for s in HEIF_SUFFIXES if s not in chosen)
        else:
            chosen = tuple(s for s in chosen if s not in HEIF_SUFFIXES)
        return chosen

    def _split_dirs(self) -> list[Path]:
        """Folders to scan (recursively) for the current split."""
        if self._option_dirs is not None:
            return [self.root / d for d in self._option_dirs]
        if self.split == "all":
            return [self.root]
        table = self.spec.get("splits", {})
        if self.split not in table:
            known = ", ".join([*table, "all"])
            raise DatasetError(f"{self.name}: unknown split {self.split!r}; choose one of {known}")
        candidates = [self.root / d for d in table[self.split].get("dirs", [])]
        present = [c for c in candidates if c.is_dir()]
        if not present:
            raise DatasetError(
                f"{self.name}: split {self.split!r} not found: none of "
                f"{', '.join(str(c) for c in candidates)} exists (expected layout: {self.layout}); "
                "pass dirs=[...] or split='all' to scan the whole root"
            )
        return present[:1] if table[self.split].get("first_only", True) else present

    def _focal_table_spec(self) -> FocalTableSpec | None:
        """The sidecar table to read: the ``focal_table`` option, else the first of the spec's ``[focal_table] paths`` present."""
        declared = self.spec.get("focal_table", {})
        if self._option_focal_table is not None:
            path = self._option_focal_table
            if not path.is_absolute() and not path.exists():
                path = self.root / path
            if not path.is_file():
                raise DatasetError(f"{self.name}: focal table {path} not found")
        else:
            path = next((self.root / p for p in declared.get("paths", []) if (self.root / p).is_file()), None)
            if path is None:
                return None
        if not declared:
            return FocalTableSpec(path=path)
        return FocalTableSpec(
            path=path,
            file_column=declared["file_column"],
            f35_column=declared.get("f35_column"),
            f_mm_column=declared.get("f_mm_column"),
            make_column=declared.get("make_column"),
            model_column=declared.get("model_column"),
            strict=True,
        )

    # -- indexing ----------------------------------------------------------------------------
    def _files(self) -> list[Path]:
        suffixes = self.suffixes
        files: set[Path] = set()
        for folder in self._split_dirs():
            for dirpath, dirnames, filenames in os.walk(folder):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for filename in filenames:
                    if filename.startswith(".") or Path(filename).suffix.lower() not in suffixes:
                        continue
                    files.add(Path(dirpath) / filename)
        return sorted(files, key=lambda p: p.relative_to(self.root).as_posix())

    def _item_id(self, item: FocalItem) -> str:
        return item.id

    def _index(self) -> list[FocalItem]:
        spec = self._focal_table_spec()
        table = read_focal_table(spec) if spec is not None else {}
        sensor_widths = self.sensor_widths
        items: list[FocalItem] = []
        for path in self._files():
            item_id = path.relative_to(self.root).as_posix()
            try:
                exif = read_exif_focal(path)
            except DatasetError as exc:
                self._skip_or_raise(str(path), str(exc).removeprefix(f"{path}: "))
                continue
            extra = table.get(item_id) or table.get(path.name)
            if extra:
                exif = dataclasses.replace(
                    exif,
                    f35_mm=exif.f35_mm if exif.f35_mm is not None else extra.get("f35_mm"),
                    f_mm=exif.f_mm if exif.f_mm is not None else extra.get("f_mm"),
                    make=exif.make or extra.get("make"),
                    model=exif.model or extra.get("model"),
                )
            focal = focal_px_from_exif(exif, sensor_widths)
            if focal.focal_px is None:
                self.excluded.append((item_id, focal.reason or "no focal length"))
                continue
            items.append(FocalItem(item_id, path, exif, focal))
        if self.excluded:
            log.info("%s: %d of %d images excluded: %s", self.name, len(self.excluded),
                     len(self.excluded) + len(items), self.exclusion_summary())
        if not items and self.excluded:
            raise DatasetError(
                f"{self.name}: none of the {len(self.excluded)} images under {self.root} has a usable "
                f"focal length: {self.exclusion_summary()}"
            )
        return items

    # -- loading -----------------------------------------------------------------------------
    def _load(self, item: FocalItem) -> Sample:
        image = read_image(item.path)
        height, width = image.shape[:2]
        if (width, height) != (item.exif.width, item.exif.height):
            log.debug("%s: %s decodes to %dx%d, EXIF header said %dx%d", self.name, item.path,
                      width, height, item.exif.width, item.exif.height)
        focal = focal_px_from_exif(item.exif, self.sensor_widths, width=width, height=height)
        meta = {
            "path": str(item.path),
            "focal_source": focal.source,
            "f35_mm": item.exif.f35_mm,
            "f_mm": item.exif.f_mm,
            "camera": camera_name(item.exif.make, item.exif.model),
            "orientation": item.exif.orientation,
        }
        return Sample(id=item.id, image=image, focal_px=focal.focal_px, meta=meta)

    @classmethod
    def is_present(cls, root) -> bool:
        root = Path(root)
        if not root.is_dir():
            return False
        splits = load_spec(cls.name).get("splits", {})
        if splits:
            return any((root / d).is_dir() for spec in splits.values() for d in spec.get("dirs", []))
        suffixes = DEFAULT_SUFFIXES
        return any(p.suffix.lower() in suffixes for p in root.iterdir() if p.is_file())
