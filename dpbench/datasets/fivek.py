"""MIT-Adobe FiveK: 5000 DSLR photos; a JPEG/TIFF rendition exported from the raw DNGs (EXIF kept).

The folder layout is UNCONFIRMED (FORMATS.md §14.4): it is protocol data in ``datasets/fivek.toml``
(split folders, suffixes, sensor widths) and every piece is overridable by keyword options of
:class:`~dpbench.datasets.exif_folder.ExifFolder`.
"""

from __future__ import annotations

from dpbench.datasets import register_dataset
from dpbench.datasets.exif_folder import ExifFolder


@register_dataset("fivek")
class FiveK(ExifFolder):
    """MIT-Adobe FiveK: ground-truth focal from EXIF (Depth Pro's 35 mm rule) per photo."""

    layout = "<root>/expert{A..E}/**/*.{jpg,tif} or <root>/input/**/*.jpg: one folder per rendition (DNGs are not read)"
    splits = ("expertC", "expertA", "expertB", "expertD", "expertE", "input")
