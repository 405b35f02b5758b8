"""A prediction map on its way to a task: resampled to the GT size, made depth-like.

Step 3 of the order of operations (``docs/ARCHITECTURE.md``): a prediction of another size is
resampled to the GT size (``Protocol.resize``), bilinearly with half-pixel centres; a prediction
already at the GT size is never touched. Tasks that read depth-ordered maps (boundaries, alignment)
turn relative disparity into a depth-like map with :func:`depth_like`.
"""

from __future__ import annotations

import numpy as np

from dpbench.errors import ModelError
from dpbench.types import Prediction, Sample

#: Floor of a disparity before it is inverted into a depth-like map, and of a depth before it is
#: inverted for resampling (same value as the boundary metrics' own inversion floor).
INVERSION_EPS = 1e-6


def to_gt_resolution(prediction: Prediction, sample: Sample, resize: str, output_kind: str) -> np.ndarray:
    """The predicted map at the GT's H×W (the prediction must have passed ``check_prediction``).

    ``bilinear_inverse_depth`` resamples 1/max(depth, 1e-6) and inverts back;
    ``bilinear_depth`` resamples depth; ``none`` refuses a size mismatch. Relative outputs are
    always resampled in their own space (disparity for ``relative_disparity``, depth for
    ``relative_depth``): an affine-invariant map has no meaningful inverse.
    """
    depth = prediction.depth
    target = (sample.height, sample.width)
    if depth.shape == target:
        return depth
    h, w = depth.shape
    if resize == "none":
        raise ModelError(f"sample {sample.id!r}: prediction is {h}×{w} but the ground truth is "
                         f"{target[0]}×{target[1]} (protocol resize='none' refuses resampling)")
    if output_kind == "metric_depth" and resize == "bilinear_inverse_depth":
        inverse = 1.0 / np.maximum(depth, INVERSION_EPS)
        return (1.0 / np.maximum(resize_bilinear(inverse, target), 1.0 / 1e12)).astype(np.float32)
    return resize_bilinear(depth, target)


def resize_bilinear(values: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling to ``hw`` with half-pixel centres (torch ``align_corners=False``)."""
    import cv2

    out = cv2.resize(np.ascontiguousarray(values, dtype=np.float32), (int(hw[1]), int(hw[0])),
                     interpolation=cv2.INTER_LINEAR)
    return out.reshape(hw)


def depth_like(pred_map: np.ndarray, output_kind: str) -> np.ndarray:
    """A map ordered like depth (near = small): relative disparity → 1 / max(disparity, 1e-6)."""
    if output_kind == "relative_disparity":
        return (1.0 / np.maximum(pred_map, INVERSION_EPS)).astype(np.float32)
    return pred_map


def output_kind_of(prediction: Prediction) -> str:
    """The output kind a prediction declares (``metric_depth`` when it declares none)."""
    return prediction.output_kind or "metric_depth"
