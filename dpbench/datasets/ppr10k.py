"""PPR10K (portrait photo retouching): ~11k portraits in groups, 8-bit renditions of the raws.

The folder layout is UNCONFIRMED (FORMATS.md §14.4): it is protocol data in ``datasets/ppr10k.toml``
(split folders, suffixes, sensor widths) and every piece is overridable by keyword options of
:class:`~dpbench.datasets.exif_folder.ExifFolder`.
"""

from __future__ import annotations

from dpbench.datasets import register_dataset
from dpbench.datasets.exif_folder import ExifFolder


@register_dataset("ppr10k")
class PPR10K(ExifFolder):
    """PPR10K (portrait photo retouching): ground-truth focal from EXIF (Depth Pro's 35 mm rule) per photo."""

    layout = "<root>/{train,val}/{target_a,target_b,target_c,source}/*.{jpg,tif}"
    splits = ("val", "train")
