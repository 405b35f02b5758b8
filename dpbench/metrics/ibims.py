"""iBims-1 metrics (Koch et al., ECCV-W 2018): DDE, DBE and planarity errors, as the official script.

Source: the iBims-1 "Evaluation Script v0.9" by T. Koch (TUM), ``evaluate_ibims_error_metrics.py``
(a verbatim copy: ``bulatko/DepthART`` @ b2bc093, ``mde/capsules/meter/ibims_official/``), and the
later revision of that file (``YoungXIAO13/DeepDepthRefiner`` @ c3a7bbd,
``lib/utils/evaluate_ibims_error_metrics.py``), which differs only in DBE. Facts, not code, were
taken from them; ``docs/metrics.md`` ("iBims-1") has the definitions and the constants' sources.

Pixel set V (DDE, PE), as the official driver: ``valid`` AND finite g AND g > 0 AND the prediction
is not NaN and not 0 (the driver maps NaN to 0 and drops zeros). No alignment, no depth cap.

- :func:`dde`: depth-directed errors at a fronto-parallel plane τ = 3 m (fractions; papers ×100).
- :func:`dbe`: depth-boundary errors in pixels from Canny edges of the min–max-normalised
  prediction (whole image, no mask), ``variant="v0.9"`` or ``"rev"``.
- :func:`planarity_errors`: per-plane flatness (metres = official centimetres / 100) and normal
  orientation error (degrees) after a per-plane median scaling and a PCA plane fit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

from dpbench.metrics._checks import (
    check_2d,
    check_bool_mask,
    check_real,
    check_same_shape,
    to_numpy,
)

# --- constants (the lead will move them to datasets/ibims.toml) -------------------------------
#: DDE plane distance τ (m): the v0.9 driver calls the DDE with 3.0; comparisons are ``<=`` τ.
DDE_PLANE_M = 3.0
#: Canny σ of DBE: ``sigma=np.sqrt(2)`` in both script versions.
DBE_SIGMA = math.sqrt(2.0)
#: Canny (low, high) hysteresis thresholds, absolute gradient magnitudes of skimage's Canny on the
#: [0, 1]-normalised prediction: v0.9 passes 0.1 / 0.2, the later revision 0.15 / 0.3.
DBE_THRESHOLDS = {"v0.9": (0.1, 0.2), "rev": (0.15, 0.3)}
#: DBE neighbourhood θ (px): ``max_dist_thr = 10.`` in both versions (predicted edges with
#: d < θ count for accuracy; θ is also the value when no such edge exists, and the rev truncation).
DBE_MAX_DIST_PX = 10.0
#: skimage's Gaussian kernel radius in σ (``scipy.ndimage.gaussian_filter`` default truncate).
CANNY_TRUNCATE = 4.0
#: PE: planes with fewer valid pixels than 5 % of 640×480 get NaN (``< 0.05`` on
#: ``count / (640.*480.)``, hard-coded for the 480×640 iBims images).
PE_MIN_PIXELS = 0.05 * 640 * 480
#: PE flatness in the script is ``np.std(...) * 100.`` (cm); dpbench reports metres (Depth Pro's
#: table header), i.e. the script's value / 100.
PE_OFFICIAL_CM_PER_M = 100.0

DDE_KEYS = ("dde_0", "dde_minus", "dde_plus")
DBE_KEYS = ("dbe_acc", "dbe_comp")


def _maps(pred: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    pred = to_numpy(pred, "pred")
    gt = to_numpy(gt, "gt")
    check_real(pred, "pred")
    check_real(gt, "gt")
    check_2d(gt, "gt")
    check_same_shape(pred, gt, "pred", "gt")
    return pred.astype(np.float64), gt.astype(np.float64)


def ibims_valid(pred: np.ndarray, gt: np.ndarray, valid: Any = None) -> np.ndarray:
    """The official pixel set V: ``valid`` ∧ finite g ∧ g > 0 ∧ p not NaN ∧ p ≠ 0."""
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(gt) & (gt > 0) & ~np.isnan(pred) & (pred != 0)
    if valid is not None:
        keep &= check_bool_mask(valid, gt.shape, "valid")
    return keep


def dde(pred: Any, gt: Any, valid: Any = None, *, plane: float = DDE_PLANE_M) -> dict[str, float]:
    """Depth-directed errors (iBims-1, official v0.9 = rev) of one image, as fractions.

    Over V (module docstring), with near_g = [g ≤ τ] and near_p = [p ≤ τ], τ = ``plane`` = 3 m:
    ``dde_0`` (ε0, ↑) = share with near_p = near_g; ``dde_minus`` (ε⁻, ↓) = share with near_p ∧
    ¬near_g (predicted in front of the plane, GT behind); ``dde_plus`` (ε⁺, ↓) = share with
    ¬near_p ∧ near_g (predicted behind, GT in front). The three sum to 1. No alignment.
    Empty V → NaN (no warning).
    """
    p, g = _maps(pred, gt)
    if not (math.isfinite(plane) and plane > 0):
        raise ValueError(f"plane: must be finite and > 0, got {plane!r}")
    keep = ibims_valid(p, g, valid)
    n = int(np.count_nonzero(keep))
    if n == 0:
        return dict.fromkeys(DDE_KEYS, math.nan)
    near_p = p[keep] <= plane
    near_g = g[keep] <= plane
    return {
        "dde_0": float(np.count_nonzero(near_p == near_g)) / n,
        "dde_minus": float(np.count_nonzero(near_p & ~near_g)) / n,
        "dde_plus": float(np.count_nonzero(~near_p & near_g)) / n,
    }


def canny(image: np.ndarray, sigma: float, low: float, high: float) -> np.ndarray:
    """Canny edges with the semantics of ``skimage.feature.canny`` (≥ 0.20, no mask, mode constant).

    1. Gaussian smoothing (σ, radius ``CANNY_TRUNCATE``·σ, zero padding), divided by the equally
       smoothed all-ones image plus the dtype's eps (border renormalisation);
    2. gradients ``scipy.ndimage.sobel`` along rows (i) and columns (j), magnitude √(i² + j²);
    3. non-maximum suppression with linear interpolation between the two neighbours of the
       gradient's 45° sector, on pixels with magnitude ≥ low, never on the 1-px image frame;
    4. hysteresis: keep every 8-connected group of surviving pixels that holds a magnitude ≥ high.
    Thresholds are absolute magnitudes (cast to the image's float type, as skimage does). NaN
    input poisons its smoothing neighbourhood, which then holds no edge. Returns a bool map.
    """
    img = np.asarray(image)
    dtype = np.float32 if img.dtype == np.float32 else np.float64
    img = img.astype(dtype, copy=False)
    gauss = {"sigma": sigma, "mode": "constant", "cval": 0.0, "truncate": CANNY_TRUNCATE}
    bleed = ndimage.gaussian_filter(np.ones(img.shape, dtype), **gauss) + np.finfo(dtype).eps
    smoothed = ndimage.gaussian_filter(img, **gauss)
    smoothed /= bleed
    jsob = ndimage.sobel(smoothed, axis=1)
    isob = ndimage.sobel(smoothed, axis=0)
    mag = isob * isob
    mag += jsob * jsob
    np.sqrt(mag, out=mag)

    out = np.zeros(img.shape, dtype=bool)
    if img.shape[0] < 3 or img.shape[1] < 3:
        return out
    c = (slice(1, -1), slice(1, -1))
    m, gi, gj = mag[c], isob[c], jsob[c]

    def nb(dr: int, dc: int) -> np.ndarray:
        return mag[1 + dr: mag.shape[0] - 1 + dr, 1 + dc: mag.shape[1] - 1 + dc]

    ai, aj = np.abs(gi), np.abs(gj)
    down, left = gi <= 0, gj <= 0
    cond1 = (~down & ~left) | (down & left)
    with np.errstate(invalid="ignore", divide="ignore"):
        w_ij = aj / ai  # used where |i| is the larger component
        w_ji = ai / aj
    a = cond1 & (ai > aj)
    b = cond1 & ~(ai > aj)
    cc = ~cond1 & (ai < aj)
    d = ~cond1 & ~(ai < aj)
    w = np.where(a | d, w_ij, w_ji)
    n11 = np.select([a, b, cc], [nb(1, 0), nb(0, 1), nb(0, 1)], nb(-1, 0))
    n12 = np.select([a, b, cc], [nb(1, 1), nb(1, 1), nb(-1, 1)], nb(-1, 1))
    n21 = np.select([a, b, cc], [nb(-1, 0), nb(0, -1), nb(0, -1)], nb(1, 0))
    n22 = np.select([a, b, cc], [nb(-1, -1), nb(-1, -1), nb(1, -1)], nb(1, -1))
    # skimage's Cython: float products with w, (1.0 - w) promoted to double, compared in double
    one_minus_w = 1.0 - w.astype(np.float64)
    m64 = m.astype(np.float64)
    with np.errstate(invalid="ignore"):
        plus = (n12 * w).astype(np.float64) + n11 * one_minus_w <= m64
        minus = (n22 * w).astype(np.float64) + n21 * one_minus_w <= m64
        cand = (m >= dtype(low)) & plus & minus
    out[c] = cand
    labels, count = ndimage.label(out, structure=np.ones((3, 3), bool))
    if count == 0:
        return out
    strong = np.zeros(img.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        strong[c] = cand & (m >= dtype(high))
    good = np.zeros(count + 1, dtype=bool)
    good[np.unique(labels[strong])] = True
    good[0] = False
    return good[labels]


def _edge_map(edges: Any, name: str) -> np.ndarray:
    e = to_numpy(edges, name)
    check_2d(e, name)
    if e.dtype == np.bool_:
        return e
    check_real(e, name)
    if not np.all((e == 0) | (e == 1)):
        raise ValueError(f"{name}: expected a bool or 0/1 edge map; binarise it first (e.g. {name} > 0)")
    return e.astype(bool)


def dbe(pred: Any, gt_edges: Any, variant: str = "v0.9") -> dict[str, float]:
    """Depth-boundary errors (iBims-1) of one image in pixels: ``dbe_acc`` ↓ and ``dbe_comp`` ↓.

    ``pred``: H×W depth (whole image, no validity mask; NaN is treated as 0 = missing).
    ``gt_edges``: H×W bool (or 0/1) map of the annotated depth edges E_G.
    Predicted edges E_P: the prediction as float32, zeros → NaN, minus its NaN-min, divided by the
    NaN-max of the result, then :func:`canny` with σ = √2 and the ``variant``'s thresholds
    (:data:`DBE_THRESHOLDS`). d_G, d_P = Euclidean distance transforms to E_G, E_P; θ = 10 px;
    A = {x ∈ E_P : d_G(x) < θ}.

    - no GT edge → both NaN (the image is skipped in the mean);
    - A empty (incl. no predicted edge) → both θ;
    - accuracy = mean of d_G over A (predicted edges ≥ θ from any GT edge are ignored);
    - completeness, ``"v0.9"``: mean of d_P over E_G (not truncated, may exceed θ);
      ``"rev"``: (Σ_{E_P} min(d_G, θ) + Σ_{E_G} min(d_P, θ)) / (|E_P| + |E_G|) ≤ θ.
    """
    if variant not in DBE_THRESHOLDS:
        raise ValueError(f"variant: expected one of {tuple(DBE_THRESHOLDS)}, got {variant!r}")
    edges = _edge_map(gt_edges, "gt_edges")
    p = to_numpy(pred, "pred")
    check_real(p, "pred")
    check_same_shape(p, edges, "pred", "gt_edges")
    if not edges.any():
        return dict.fromkeys(DBE_KEYS, math.nan)
    theta = DBE_MAX_DIST_PX
    norm = p.astype(np.float32)  # a copy
    norm[np.isnan(norm) | (norm == 0)] = np.nan
    if np.isnan(norm).all():
        pred_edges = np.zeros(edges.shape, dtype=bool)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            norm -= np.nanmin(norm)
            norm /= np.nanmax(norm)
        low, high = DBE_THRESHOLDS[variant]
        pred_edges = canny(norm, DBE_SIGMA, low, high)
    d_gt = ndimage.distance_transform_edt(~edges)
    near = pred_edges & (d_gt < theta)
    if not near.any():
        return {"dbe_acc": theta, "dbe_comp": theta}
    d_pred = ndimage.distance_transform_edt(~pred_edges)
    acc = float(d_gt[near].mean())
    if variant == "v0.9":
        comp = float(d_pred[edges].mean())
    else:
        total = np.minimum(d_gt[pred_edges], theta).sum() + np.minimum(d_pred[edges], theta).sum()
        comp = float(total) / (int(pred_edges.sum()) + int(edges.sum()))
    return {"dbe_acc": acc, "dbe_comp": comp}


def planarity_errors(
    pred: Any,
    gt: Any,
    plane_labels: Any,
    plane_normals: Any,
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    valid: Any = None,
    *,
    pixel_origin: int = 1,
    min_pixels: float = PE_MIN_PIXELS,
) -> dict[str, Any]:
    """Planarity errors (iBims-1, official v0.9 = rev) of the planes of one label map.

    ``plane_labels``: H×W integer map, 0 = no plane, k = the k-th plane (one plane type, e.g.
    ``mask_wall``); ``plane_normals``: n×3 GT normals of planes 1…n (or the n×7 ``*_paras``
    table, whose columns 4–6 are the normal), in the evaluation frame X right, Y forward
    (= depth), Z up. ``fx, fy, cx, cy``: the iBims ``calib`` values; ``pixel_origin=1`` means
    cx, cy refer to 1-based pixel coordinates (MATLAB, as the official script); use 0 for
    0-based intrinsics.

    For plane k with pixels S_k = V ∧ (label = k) (V: module docstring, plus a finite
    prediction): fewer than ``min_pixels`` (5 % of 640×480) → NaN. Else D = s·p with
    s = median_S g / median_S p; points (X, Y, Z) = ((c − cx)·D/fx, D, −(r − cy)·D/fy);
    PCA plane fit (normal n̂ = eigenvector of the smallest covariance eigenvalue);
    flatness ε_plan = population std of n̂·(x − μ) in metres (the official value is × 100, cm);
    orientation ε_orie = atan2(‖n_gt × n̂‖, n_gt·n̂) in degrees after flipping n̂ towards n_gt.

    Returns ``pe_plane_per_plane`` and ``pe_orientation_per_plane`` (tuples, NaN for skipped
    planes), the image means ``pe_plane`` (m, ↓) and ``pe_orientation`` (deg, ↓) over the
    evaluated planes (NaN if none), and the additive ``pe_plane_sum``, ``pe_orientation_sum``,
    ``pe_count``: the official dataset value pools all planes, = Σ sums / Σ counts.
    """
    p, g = _maps(pred, gt)
    labels = to_numpy(plane_labels, "plane_labels")
    check_real(labels, "plane_labels")
    check_same_shape(labels, g, "plane_labels", "gt")
    normals = np.asarray(to_numpy(plane_normals, "plane_normals"), dtype=np.float64)
    if normals.ndim == 1 and normals.size in (3, 7):
        normals = normals[None, :]  # one plane whose row was squeezed
    if normals.ndim != 2 or normals.shape[1] not in (3, 7):
        raise ValueError(f"plane_normals: expected n×3 normals or the n×7 paras table, got {normals.shape}")
    if normals.shape[1] == 7:
        normals = normals[:, 4:7]
    for name, value in (("fx", fx), ("fy", fy), ("cx", cx), ("cy", cy)):
        if not (math.isfinite(float(value)) and float(value) > 0):
            raise ValueError(f"{name}: must be finite and > 0, got {value!r}")
    if pixel_origin not in (0, 1):
        raise ValueError(f"pixel_origin: expected 0 or 1, got {pixel_origin!r}")
    keep = ibims_valid(p, g, valid) & np.isfinite(p)
    cols = np.arange(g.shape[1], dtype=np.float64) + pixel_origin
    rows = np.arange(g.shape[0], dtype=np.float64) + pixel_origin

    flat_all, orie_all = [], []
    for k in range(1, normals.shape[0] + 1):
        r_idx, c_idx = np.nonzero(keep & (labels == k))
        if r_idx.size < min_pixels or r_idx.size < 3:
            flat_all.append(math.nan)
            orie_all.append(math.nan)
            continue
        pk = p[r_idx, c_idx]
        depth = pk * (np.median(g[r_idx, c_idx]) / np.median(pk))
        pts = np.stack([(cols[c_idx] - cx) * depth / fx, depth, -(rows[r_idx] - cy) * depth / fy], 1)
        centred = pts - pts.mean(axis=0)
        _, vecs = np.linalg.eigh(centred.T @ centred / len(pts))
        normal = vecs[:, 0]
        flat_all.append(float(np.std(centred @ normal)))
        n_gt = normals[k - 1]
        if float(normal @ n_gt) < 0:
            normal = -normal
        orie_all.append(math.degrees(math.atan2(float(np.linalg.norm(np.cross(n_gt, normal))),
                                                float(n_gt @ normal))))
    flat = np.array(flat_all)
    orie = np.array(orie_all)
    ok = ~np.isnan(flat)
    count = int(ok.sum())
    return {
        "pe_plane": float(flat[ok].mean()) if count else math.nan,
        "pe_orientation": float(orie[ok].mean()) if count else math.nan,
        "pe_plane_sum": float(flat[ok].sum()),
        "pe_orientation_sum": float(orie[ok].sum()),
        "pe_count": count,
        "pe_plane_per_plane": tuple(flat_all),
        "pe_orientation_per_plane": tuple(orie_all),
    }


__all__ = ["DBE_MAX_DIST_PX", "DBE_SIGMA", "DBE_THRESHOLDS", "DDE_PLANE_M", "PE_MIN_PIXELS",
           "canny", "dbe", "dde", "ibims_valid", "planarity_errors"]
