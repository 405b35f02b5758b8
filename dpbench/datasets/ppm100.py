"""PPM-100 (portrait matting benchmark, MODNet authors): 100 photos with 8-bit alpha mattes."""

from __future__ import annotations

from dpbench.datasets import register_dataset
from dpbench.datasets._matting import MaskDataset


@register_dataset("ppm100")
class PPM100(MaskDataset):
    """PPM-100 as released: ``<root>/image/<stem>.jpg`` with ``<root>/matte/<stem>.png`` (alpha 0-255).

    The repacks ``val/image`` + ``val/matte`` and ``image_train`` + ``matte_train`` are also
    recognised (docs/formats.md §13). There is a single split of 100 images, ``PPM-100`` (= ``all``).
    """

