"""Input guards shared by the metrics: one place that turns bad input into a clear ``ValueError``.

Every metric takes numpy arrays (torch tensors are accepted and copied to the CPU). The guards
name the argument and the problem, e.g. ``"gt_mask: uint8 masks are ambiguous (0-1 or 0-255?);
pass mask / 255 as float, or a bool mask"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(x: Any, name: str) -> np.ndarray:
    """``x`` as a numpy array; torch tensors (anything with ``detach``/``cpu``/``numpy``) are copied
    to the CPU first, so the metrics never import torch."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except Exception as exc:  # e.g. ragged nested lists
        raise ValueError(f"{name}: cannot be read as an array ({exc})") from exc


def check_2d(x: np.ndarray, name: str) -> None:
    """Raise unless ``x`` is a 2-D (H×W) array."""
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D H×W array, got shape {x.shape}")


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise unless ``a`` and ``b`` have the same shape (resize the prediction to the GT first)."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}; they must match "
            f"(resize the prediction to the ground truth's resolution first)"
        )


def check_real(x: np.ndarray, name: str) -> None:
    """Raise unless ``x`` holds real numbers (float or integer; not bool, complex or objects)."""
    if x.dtype == np.bool_ or not (
        np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)
    ):
        raise ValueError(f"{name}: expected a real-valued (float or integer) array, got dtype {x.dtype}")


def check_finite(x: np.ndarray, name: str) -> None:
    """Raise unless every value of ``x`` is finite (no NaN, no ±inf)."""
    if not np.all(np.isfinite(x)):
        bad = int(x.size - np.count_nonzero(np.isfinite(x)))
        raise ValueError(f"{name}: contains {bad} non-finite value(s) (NaN or inf)")


def check_bool_mask(mask: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A boolean pixel mask of ``shape`` (e.g. ``valid``); other dtypes are refused, not guessed."""
    mask = to_numpy(mask, name)
    if mask.dtype != np.bool_:
        raise ValueError(
            f"{name}: expected a bool array, got dtype {mask.dtype} (convert explicitly, e.g. {name} > 0)"
        )
    if mask.shape != tuple(shape):
        raise ValueError(f"{name}: shape {mask.shape} does not match the depth maps' {tuple(shape)}")
    return mask


def check_alpha_mask(mask: np.ndarray, name: str) -> None:
    """Raise unless ``mask`` is a bool mask or a float alpha matte with values in [0, 1].

    A uint8 mask is refused on purpose: 0–255 mattes compared with ``alpha > 0.1`` would turn every
    non-zero pixel into foreground, so the caller must divide by 255 (or pass a bool mask).
    """
    if mask.dtype == np.bool_:
        return
    if mask.dtype == np.uint8:
        raise ValueError(
            f"{name}: uint8 masks are ambiguous (0–1 or 0–255?); pass mask / 255.0 as a float "
            f"alpha matte in [0, 1], or a bool mask"
        )
    if not np.issubdtype(mask.dtype, np.floating):
        raise ValueError(
            f"{name}: expected a bool mask or a float alpha matte in [0, 1], got dtype {mask.dtype}"
        )
    if mask.size == 0:
        return
    if np.isnan(mask).any():
        raise ValueError(f"{name}: contains NaN")
    low, high = float(mask.min()), float(mask.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name}: values must lie in [0, 1], got range [{low:g}, {high:g}] "
            f"(divide 8-bit mattes by 255)"
        )
