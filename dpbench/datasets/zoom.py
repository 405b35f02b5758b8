"""ZOOM / SR-RAW (Zoom to Learn): Sony a7R II sequences at several optical zooms, JPEGs with EXIF.

The folder layout is UNCONFIRMED (FORMATS.md §14.4): it is protocol data in ``datasets/zoom.toml``
(split folders, suffixes, sensor widths) and every piece is overridable by keyword options of
:class:`~dpbench.datasets.exif_folder.ExifFolder`.
"""

from __future__ import annotations

from dpbench.datasets import register_dataset
from dpbench.datasets.exif_folder import ExifFolder


@register_dataset("zoom")
class Zoom(ExifFolder):
    """ZOOM / SR-RAW (Zoom to Learn): ground-truth focal from EXIF (Depth Pro's 35 mm rule) per photo."""

    layout = "<root>/{train,test}/<sequence>/*.JPG (ARW raws are not read)"
    splits = ("test", "train")
