"""DPDD / DDDP (dual-pixel defocus deblurring, Abuolaim & Brown 2020): Canon EOS 5D Mark IV photos.

The folder layout is UNCONFIRMED (FORMATS.md §14.4): it is protocol data in ``datasets/dddp.toml``
(split folders, suffixes, sensor widths) and every piece is overridable by keyword options of
:class:`~dpbench.datasets.exif_folder.ExifFolder`.
"""

from __future__ import annotations

from dpbench.datasets import register_dataset
from dpbench.datasets.exif_folder import ExifFolder


@register_dataset("dddp")
class DDDP(ExifFolder):
    """DPDD / DDDP (dual-pixel defocus deblurring, Abuolaim & Brown 2020): ground-truth focal from EXIF (Depth Pro's 35 mm rule) per photo."""

    layout = "<root>/dd_dp_dataset_png/{train,val,test}_c/{source,target}/*.png (EXIF or a focal table needed)"
    splits = ("test", "val", "train")
