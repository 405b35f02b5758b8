"""DIS-5k (dichotomous image segmentation): binary masks, by default the paper's 200-image list."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from dpbench.datasets import register_dataset
from dpbench.datasets._matting import MaskDataset, MaskItem
from dpbench.errors import DatasetError
from dpbench.io.limits import read_text
from dpbench.resources import resource_dir


def read_sample_list(path: str | os.PathLike) -> list[str]:
    """Entries of a sample list: one per line, kept whole (names hold '#' and spaces); blank lines skipped."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: sample list not found")
    text = read_text(path, "sample list")
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def gt_path_of(entry: str) -> str:
    """The ground-truth path of a DIS list entry: ``/im/`` -> ``/gt/`` and ``.jpg`` -> ``.png``."""
    head, sep, tail = entry.rpartition("/im/")
    if not sep:
        raise ValueError(f"not an 'im/' path: {entry!r}")
    stem = tail[: -len(".jpg")] if tail.lower().endswith(".jpg") else tail.rsplit(".", 1)[0]
    return f"{head}/gt/{stem}.png"


@register_dataset("dis5k")
class DIS5k(MaskDataset):
    """DIS-5k as released: ``DIS5K/DIS-{TR,VD,TE1,TE2,TE3,TE4}/im/*.jpg`` with ``gt/*.png`` (0/255).

    ``root`` may be the ``DIS5K`` folder itself or its parent. The default split ``paper200`` is
    Depth Pro's list ``datasets/dis5k_sample_list.txt`` (entries ``DIS5K/<split>/im/<name>.jpg``);
    ``DIS-TR``, ``DIS-VD``, ``DIS-TE1``..``DIS-TE4``, ``test`` (TE1-TE4) and ``all`` are the full
    folders. Keyword option ``sample_list`` replaces the shipped list with another file.
    """


    def __init__(self, root, split=None, on_error="raise", *, sample_list: str | os.PathLike | None = None):
        self._sample_list_override = Path(sample_list) if sample_list is not None else None
        super().__init__(root, split=split, on_error=on_error)
        if self._sample_list_override is not None:  # another list is another protocol: record it
            digest = hashlib.sha256(self._sample_list_override.read_bytes()).hexdigest()
            self.spec = {**self.spec, "options": {"sample_list": str(self._sample_list_override),
                                                          "sample_list_sha256": digest}}

    def _base_dir(self) -> Path:
        nested = self.root / "DIS5K"
        return nested if nested.is_dir() else self.root

    @property
    def sample_list_path(self) -> Path:
        if self._sample_list_override is not None:
            return self._sample_list_override
        return resource_dir("datasets") / self._split_table()["paper200"]["list"]

    def _index(self) -> list[MaskItem]:
        spec = self._split_table().get(self.split, {})
        if "list" not in spec:
            return super()._index()
        list_path = self.sample_list_path
        base = self._base_dir()
        items = []
        for number, entry in enumerate(read_sample_list(list_path), start=1):
            parts = entry.split("/")
            if len(parts) < 4 or parts[0] != "DIS5K" or parts[2] != "im":
                raise DatasetError(f"{list_path}: line {number}: expected 'DIS5K/<split>/im/<name>.jpg', got {entry!r}")
            split = parts[1]
            relative = entry[len("DIS5K/"):]
            image = base / relative
            mask = base / gt_path_of(relative)
            if not image.is_file():
                self._skip_or_raise(str(image), f"image of sample list entry {number} not found ({list_path})")
                continue
            if not mask.is_file():
                self._skip_or_raise(str(image), f"missing mask {mask}")
                continue
            items.append(MaskItem(self._make_id(split, image.stem), image, mask, split))
        self._warn_on_count([self.split], len(items))
        return items

    @classmethod
    def is_present(cls, root) -> bool:
        root = Path(root)
        base = root / "DIS5K" if (root / "DIS5K").is_dir() else root
        return cls._present_by_layouts(root, base)
