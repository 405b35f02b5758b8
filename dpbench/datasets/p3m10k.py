"""P3M-10k (privacy-preserving portrait matting): P3M-500-P (face-blurred) and P3M-500-NP mattes."""

from __future__ import annotations

from dpbench.datasets import register_dataset
from dpbench.datasets._matting import MaskDataset


@register_dataset("p3m10k")
class P3M10k(MaskDataset):
    """P3M-10k in the archive layout or the authors' renamed one (docs/formats.md §13).

    - ``P3M-500-P``: ``validation/P3M-500-P/blurred_image/*.jpg`` + ``.../mask/*.png``
      (or ``validation1/blurred_image`` + ``validation1/mask``);
    - ``P3M-500-NP``: ``validation/P3M-500-NP/original_image/*.jpg`` + ``.../mask/*.png``
      (or ``validation2/original_image`` + ``validation2/mask``);
    - ``validation`` (default): both of them, 1000 images; ``train``: ``train/blurred_image`` + ``train/mask``.
    """

