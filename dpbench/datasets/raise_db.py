"""RAISE (raw image dataset): ~8k Nikon D40/D90/D7000 photos as TIFF/JPEG renditions of the NEF raws.

The folder layout is UNCONFIRMED (FORMATS.md §14.4): it is protocol data in ``datasets/raise.toml``
(split folders, suffixes, sensor widths) and every piece is overridable by keyword options of
:class:`~dpbench.datasets.exif_folder.ExifFolder`.
"""

from __future__ import annotations

from dpbench.datasets import register_dataset
from dpbench.datasets.exif_folder import ExifFolder


@register_dataset("raise")
class RAISE(ExifFolder):
    """RAISE (raw image dataset): ground-truth focal from EXIF (Depth Pro's 35 mm rule) per photo."""

    layout = "<root>/{TIF,tif,JPG,jpg,PNG,png}/**/* renditions (NEF raws are not read)"
    splits = ("default",)
