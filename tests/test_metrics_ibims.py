"""iBims-1 metrics: DDE, DBE (both script versions), planarity errors, and the Canny they use."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import ndimage

from dpbench.metrics.ibims import canny, dbe, dde, planarity_errors

# ----------------------------------------------------------------------------------------- DDE


def test_dde_fractions_and_inclusive_plane():
    gt = np.array([[2.0, 2.0, 5.0, 5.0, 3.0, 1.0, 4.0, 0.0]])
    pred = np.array([[1.0, 4.0, 2.0, 6.0, 3.5, 0.0, 3.0, 1.0]])
    # pixel 5: pred 0 (missing) and pixel 7: GT 0 are dropped; 6 remain
    # near_g: T T F F T . F ; near_p: T F T F F . T(3.0 <= 3)
    out = dde(pred, gt)
    assert out["dde_0"] == pytest.approx(2 / 6)
    assert out["dde_minus"] == pytest.approx(2 / 6)  # pixels 2, 6: predicted in front
    assert out["dde_plus"] == pytest.approx(2 / 6)  # pixels 1, 4: predicted behind
    assert sum(out.values()) == pytest.approx(1.0)


def test_dde_constant_prediction_gives_share_of_near_gt():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 8.0, (30, 40))
    out = dde(np.ones_like(gt), gt)
    near = np.mean(gt <= 3.0)
    assert out == pytest.approx({"dde_0": near, "dde_minus": 1 - near, "dde_plus": 0.0})


def test_dde_valid_mask_nan_and_empty():
    gt = np.full((2, 2), 2.0)
    pred = np.array([[2.0, np.nan], [5.0, 2.0]])
    valid = np.array([[True, True], [False, True]])
    assert dde(pred, gt, valid)["dde_0"] == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = dde(pred, np.zeros((2, 2)))
    assert all(math.isnan(v) for v in empty.values())


# ----------------------------------------------------------------------------------------- DBE


def _step(shape, col, low=1.0, high=2.0):
    """Depth step whose Canny edge is the single column ``col`` (mid value on that column)."""
    p = np.full(shape, low)
    p[:, col:] = high
    p[:, col] = 0.5 * (low + high)
    return p


def _line(shape, col):
    e = np.zeros(shape, bool)
    e[1:-1, col] = True  # Canny never marks the 1-px frame
    return e


def test_canny_step_edge_is_one_column():
    edges = canny(_step((40, 60), 30), math.sqrt(2), 0.1, 0.2)
    assert np.array_equal(edges, _line((40, 60), 30))


@pytest.mark.parametrize("variant", ["v0.9", "rev"])
@pytest.mark.parametrize("offset", [0, 1, 3, 9])
def test_dbe_shifted_step(variant, offset):
    shape = (40, 80)
    out = dbe(_step(shape, 30 + offset), _line(shape, 30), variant=variant)
    assert out["dbe_acc"] == pytest.approx(offset)
    assert out["dbe_comp"] == pytest.approx(offset)


@pytest.mark.parametrize("variant", ["v0.9", "rev"])
def test_dbe_far_or_missing_edges_give_theta(variant):
    shape = (40, 80)
    assert dbe(_step(shape, 45), _line(shape, 30), variant) == {"dbe_acc": 10.0, "dbe_comp": 10.0}
    flat = np.full(shape, 3.0)  # constant map: normalises to NaN, no edge
    assert dbe(flat, _line(shape, 30), variant) == {"dbe_acc": 10.0, "dbe_comp": 10.0}


def test_dbe_versions_differ_on_completeness():
    shape = (40, 100)
    gt_edges = _line(shape, 30) | _line(shape, 70)  # two GT edges, the prediction has one
    pred = _step(shape, 30)
    v09 = dbe(pred, gt_edges, "v0.9")
    rev = dbe(pred, gt_edges, "rev")
    assert v09["dbe_acc"] == 0.0 and rev["dbe_acc"] == 0.0
    assert v09["dbe_comp"] == pytest.approx(20.0)  # (0 + 40) / 2, untruncated
    n = 38
    assert rev["dbe_comp"] == pytest.approx(10.0 * n / (3 * n))  # truncated, symmetric


def test_dbe_no_gt_edge_nan_and_bad_args():
    shape = (20, 20)
    out = dbe(_step(shape, 10), np.zeros(shape, bool))
    assert all(math.isnan(v) for v in out.values())
    with pytest.raises(ValueError, match="variant"):
        dbe(_step(shape, 10), _line(shape, 10), variant="v1")
    with pytest.raises(ValueError, match="gt_edges"):
        dbe(_step(shape, 10), np.full(shape, 255, np.uint8))
    assert dbe(_step(shape, 10), _line(shape, 10).astype(np.uint8))["dbe_acc"] == 0.0


def test_canny_matches_skimage_if_installed():
    feature = pytest.importorskip("skimage.feature")
    rng = np.random.default_rng(5)
    for t in range(12):
        img = ndimage.gaussian_filter(rng.random((50, 70)), rng.uniform(0.5, 4))
        img = ((img - img.min()) / (img.max() - img.min())).astype(np.float32 if t % 2 else np.float64)
        if t % 3 == 0:
            img[10:14, 10:14] = np.nan
        for low, high in [(0.1, 0.2), (0.15, 0.3), (0.01, 0.05)]:
            want = feature.canny(img, sigma=math.sqrt(2), low_threshold=low, high_threshold=high)
            assert np.array_equal(canny(img, math.sqrt(2), low, high), want)


# ------------------------------------------------------------------------------------------ PE

H, W = 120, 160  # 19 200 px > 5 % of 640×480
FX = FY = 150.0
CX, CY = (W + 1) / 2, (H + 1) / 2  # 1-based image centre


def _plane_depth(normal, offset):
    """Depth map of the plane n·P = offset in the iBims frame (X right, Y = depth, Z up)."""
    c, r = np.meshgrid(np.arange(1, W + 1), np.arange(1, H + 1))
    ray = np.stack([(c - CX) / FX, np.ones_like(c, float), -(r - CY) / FY], -1)
    return offset / (ray @ np.asarray(normal, float))


def test_pe_perfect_plane_any_scale():
    n = np.array([0.2, 1.0, -0.3]) / np.linalg.norm([0.2, 1.0, -0.3])
    gt = _plane_depth(n, 2.5)
    labels = np.ones((H, W), int)
    out = planarity_errors(1.7 * gt, gt, labels, n[None], FX, FY, CX, CY)
    assert out["pe_plane"] == pytest.approx(0.0, abs=1e-9)
    assert out["pe_orientation"] == pytest.approx(0.0, abs=1e-5)
    assert out["pe_count"] == 1


@pytest.mark.parametrize("tilt", [5.0, 20.0])
def test_pe_tilted_prediction(tilt):
    gt = np.full((H, W), 2.0)  # fronto-parallel wall: normal (0, 1, 0)
    th = math.radians(tilt)
    pred = _plane_depth([math.sin(th), math.cos(th), 0.0], 2.0)
    labels = np.ones((H, W), int)
    paras = np.array([[0, 0, 0, 0, 0.0, -3.0, 0.0]])  # n×7 table; n_gt need not be unit, sign flips
    out = planarity_errors(pred, gt, labels, paras, FX, FY, CX, CY)
    assert out["pe_orientation"] == pytest.approx(tilt, abs=1e-6)
    assert out["pe_plane"] == pytest.approx(0.0, abs=1e-9)


def test_pe_two_layer_offset_flatness():
    delta = 0.1
    gt = np.full((H, W), 2.0)
    r, c = np.mgrid[0:H, 0:W]
    pred = np.where((r + c) % 2 == 0, 2.0, 2.0 + delta)  # checkerboard, balanced per row/column
    out = planarity_errors(pred, gt, np.ones((H, W), int), [[0.0, 1.0, 0.0]], FX, FY, CX, CY)
    # median scaling s = 2 / (2 + δ/2); points at Y = s·2 and s·(2 + δ), half each
    assert out["pe_plane"] == pytest.approx(delta / (2 + delta / 2), rel=1e-9)
    assert out["pe_orientation"] == pytest.approx(0.0, abs=1e-6)


def test_pe_small_planes_and_pooling_stats():
    gt = np.full((H, W), 2.0)
    labels = np.zeros((H, W), int)
    labels[:, : W // 2 + 40] = 1  # 14 400 px < 15 360: skipped
    labels[:, W // 2 + 40:] = 2
    out = planarity_errors(gt, gt, labels, np.array([[0, 1, 0], [0, 1, 0]]), FX, FY, CX, CY,
                           min_pixels=1000)
    assert out["pe_count"] == 2
    out = planarity_errors(gt, gt, labels, np.array([[0, 1, 0], [0, 1, 0]]), FX, FY, CX, CY)
    assert out["pe_count"] == 0 and math.isnan(out["pe_plane"])
    assert all(math.isnan(v) for v in out["pe_plane_per_plane"])
    assert out["pe_plane_sum"] == 0.0
    # a squeezed single 1×7 row is one plane, not seven
    one = planarity_errors(gt, gt, np.ones((H, W), int), np.array([0, 0, 0, 0, 0, 1, 0.0]),
                           FX, FY, CX, CY)
    assert len(one["pe_plane_per_plane"]) == 1


def test_pe_bad_arguments():
    gt = np.full((H, W), 2.0)
    labels = np.ones((H, W), int)
    with pytest.raises(ValueError, match="^fx:"):
        planarity_errors(gt, gt, labels, [[0, 1, 0]], 0.0, FY, CX, CY)
    with pytest.raises(ValueError, match="plane_normals"):
        planarity_errors(gt, gt, labels, [[0, 1]], FX, FY, CX, CY)
    with pytest.raises(ValueError, match="plane_labels"):
        planarity_errors(gt, gt, labels[:-1], [[0, 1, 0]], FX, FY, CX, CY)
