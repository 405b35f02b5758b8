"""Shared machinery of the depth dataset adapters: protocol choices, list files, Sample assembly.

Protocol choices (Sintel pass, Middlebury mask, Booster fx source, ...) are keyword options of
the adapters whose defaults and allowed values live in ``datasets/<name>.toml`` under
``[choices.<option>]`` (``default``, ``options``, ``status``, ``reason``). The options chosen
are recorded in ``ds.options``, copied into ``ds.spec["options"]`` and enter
``protocol_hash()``, since they change the numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from dpbench.datasets.base import Dataset, load_spec
from dpbench.errors import DatasetError
from dpbench.io.limits import read_text
from dpbench.resources import resource_dir
from dpbench.types import Sample


def resolve_choice(dataset: str, spec: dict, key: str, value: Any) -> Any:
    """``value`` if given (checked against ``[choices.<key>].options``), else the TOML default."""
    choice = spec.get("choices", {}).get(key)
    if not isinstance(choice, dict):
        if value is None:
            raise DatasetError(f"{dataset}: option {key!r} has no default in datasets/{dataset}.toml")
        return value
    if value is None:
        if "default" not in choice:
            raise DatasetError(f"{dataset}: datasets/{dataset}.toml [choices.{key}] has no 'default'")
        value = choice["default"]
    options = choice.get("options")
    if options is not None:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        bad = [v for v in values if v not in options]
        if bad or not values:
            raise DatasetError(f"{dataset}: {key}={value!r} is not one of {', '.join(map(repr, options))}"
                               + (" (or a list of them)" if isinstance(choice["default"], list) else ""))
        if isinstance(value, tuple):
            value = list(value)
    return value


def read_list_file(name: str) -> list[str]:
    """Non-empty lines (stripped of the line ending only) of ``datasets/<name>``."""
    path = resource_dir("datasets") / name
    if not path.is_file():
        raise DatasetError(f"dpbench data file not found: {path}")
    return [line.rstrip("\r") for line in read_text(path, "list file").split("\n") if line.strip()]


def natural_key(text: str) -> list:
    """Sort key that orders embedded numbers numerically ('im2' < 'im10')."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


class DepthDataset(Dataset):
    """A Dataset whose adapter options come from the spec file's ``[choices]``."""

    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise",
                 **choices: Any):
        spec = load_spec(self.name)
        self.options: dict[str, Any] = {
            key: resolve_choice(self.name, spec, key, value) for key, value in choices.items()
        }
        super().__init__(root, split=split, on_error=on_error)
        self.spec = {**self.spec, "options": dict(self.options)}

    def protocol_hash(self) -> str:
        """Hash of the spec, the split, the chosen options and the sample ids (payload keys as before)."""
        payload = json.dumps(
            {"name": self.name, "split": self.split, "protocol": self.spec,
             "options": self.options, "ids": self.ids},
            sort_keys=True, default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def _make_sample(self, sample_id: str, image: np.ndarray, depth: np.ndarray,
                     valid: np.ndarray | None, focal_px: float | None, meta: dict,
                     depth_path: Path | str) -> Sample:
        """Check sizes, fold non-finite/non-positive depth into ``valid`` (set to 0), build the Sample."""
        if depth.shape != image.shape[:2]:
            raise DatasetError(
                f"{self.name}: {depth_path}: ground truth is {depth.shape[1]}x{depth.shape[0]} (WxH) "
                f"but the image {meta.get('image_path', '')} is {image.shape[1]}x{image.shape[0]}"
            )
        usable = np.isfinite(depth) & (depth > 0)
        if valid is not None:
            if valid.shape != depth.shape:
                raise DatasetError(
                    f"{self.name}: validity mask for {depth_path} is {valid.shape[::-1]} (WxH), "
                    f"expected {depth.shape[::-1]}"
                )
            usable &= valid
        depth = np.where(usable, depth, np.float32(0.0)).astype(np.float32, copy=False)
        meta = {key: (str(value) if isinstance(value, Path) else value) for key, value in meta.items()}
        meta.setdefault("dataset", self.name)
        meta.setdefault("options", dict(self.options))
        return Sample(id=sample_id, image=image, depth=depth, valid=usable, focal_px=focal_px, meta=meta)
