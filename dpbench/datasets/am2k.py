"""AM-2k (animal matting, GFM authors): photos with 8-bit alpha mattes, scored by boundary recall."""

from __future__ import annotations

from dpbench.datasets import register_dataset
from dpbench.datasets._matting import MaskDataset


@register_dataset("am2k")
class AM2k(MaskDataset):
    """AM-2k as unpacked from the official release; the default split is ``validation`` (200 images).

    Layout (docs/formats.md §13): ``<root>/validation/original/<stem>.jpg`` with the alpha matte
    ``<root>/validation/mask/<stem>.png`` (0-255); ``train/original`` + ``train/mask`` likewise.
    """

