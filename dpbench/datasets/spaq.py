"""SPAQ (smartphone photography quality): 11,125 phone JPEGs, EXIF in the files or an annotation table.

The folder layout is UNCONFIRMED (FORMATS.md §14.4): it is protocol data in ``datasets/spaq.toml``
(split folders, suffixes, sensor widths) and every piece is overridable by keyword options of
:class:`~dpbench.datasets.exif_folder.ExifFolder`.
"""

from __future__ import annotations

from dpbench.datasets import register_dataset
from dpbench.datasets.exif_folder import ExifFolder


@register_dataset("spaq")
class SPAQ(ExifFolder):
    """SPAQ (smartphone photography quality): ground-truth focal from EXIF (Depth Pro's 35 mm rule) per photo."""

    layout = "<root>/TestImage/*.jpg (+ optional Annotations/EXIF table exported to CSV)"
    splits = ("TestImage",)
