"""Alignment: exact recovery of known scale/shift, masks, degenerate inputs, dispatch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dpbench.align import (
    ALIGNMENTS,
    DISPARITY_FLOOR,
    align,
    align_lstsq_scale,
    align_lstsq_scale_shift,
    align_lstsq_scale_shift_disparity,
    align_median,
    align_none,
)
from dpbench.errors import UnknownNameError


@pytest.fixture
def depth(rng):
    return rng.uniform(1.0, 20.0, (16, 24))


def test_names():
    assert ALIGNMENTS == ("none", "median", "lstsq_scale", "lstsq_scale_shift", "lstsq_scale_shift_disparity")


def test_none_returns_a_copy(depth):
    pred = depth.astype(np.float32)
    aligned, params = align_none(pred, depth)
    np.testing.assert_array_equal(aligned, pred)
    assert aligned is not pred and aligned.dtype == np.float32
    assert params == {"method": "none", "ok": True, "scale": 1.0, "shift": 0.0, "n_fit": depth.size}


def test_median_scale(depth):
    pred = depth / 3.5
    aligned, params = align_median(pred, depth)
    assert params["scale"] == pytest.approx(3.5, rel=1e-12)
    np.testing.assert_allclose(aligned, depth, rtol=1e-12)
    # hand case: median(g) = 4, median(p) = 2 -> s = 2
    _, params = align_median(np.array([[1.0, 2.0, 9.0]]), np.array([[4.0, 3.0, 5.0]]))
    assert params["scale"] == 2.0


def test_lstsq_scale(depth):
    aligned, params = align_lstsq_scale(depth * 0.2, depth)
    assert params["scale"] == pytest.approx(5.0, rel=1e-12)
    np.testing.assert_allclose(aligned, depth, rtol=1e-12)
    # hand case: p = (1, 2), g = (2, 5): s = (2 + 10) / (1 + 4) = 2.4
    _, params = align_lstsq_scale(np.array([1.0, 2.0]), np.array([2.0, 5.0]))
    assert params["scale"] == pytest.approx(2.4, rel=1e-15)


def test_lstsq_scale_shift(depth, rng):
    pred = rng.uniform(-1.0, 1.0, depth.shape)  # affine-invariant output, may be negative
    gt = 2.5 * pred + 7.0
    aligned, params = align_lstsq_scale_shift(pred, gt)
    assert params["scale"] == pytest.approx(2.5, rel=1e-12)
    assert params["shift"] == pytest.approx(7.0, rel=1e-12)
    np.testing.assert_allclose(aligned, gt, rtol=1e-12)
    # hand case: p = (0, 1, 2), g = (1, 1, 4): s = cov/var = 1.5, b = 2 - 1.5 = 0.5
    _, params = align_lstsq_scale_shift(np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 4.0]))
    assert (params["scale"], params["shift"]) == (pytest.approx(1.5), pytest.approx(0.5))


def test_lstsq_scale_shift_disparity(depth, rng):
    disparity = rng.uniform(0.0, 1.0, depth.shape)
    gt = 1.0 / (0.8 * disparity + 0.05)
    aligned, params = align_lstsq_scale_shift_disparity(disparity, gt)
    assert params["scale"] == pytest.approx(0.8, rel=1e-12)
    assert params["shift"] == pytest.approx(0.05, rel=1e-10)
    np.testing.assert_allclose(aligned, gt, rtol=1e-10)
    assert params["min_disparity"] == DISPARITY_FLOOR


def test_disparity_floor(rng):
    disparity = np.array([[1.0, 2.0, 3.0, -5.0]])
    gt = 1.0 / np.array([[1.0, 2.0, 3.0, 4.0]])  # the last pixel is excluded from the fit
    valid = np.array([[True, True, True, False]])
    aligned, params = align("lstsq_scale_shift_disparity", disparity, gt, valid, min_disparity=0.1)
    assert params["scale"] == pytest.approx(1.0) and params["shift"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(aligned[0, :3], gt[0, :3], rtol=1e-12)
    assert aligned[0, 3] == pytest.approx(10.0)  # -5 floored to 0.1 -> 10 m
    with pytest.raises(ValueError, match="min_disparity"):
        align_lstsq_scale_shift_disparity(disparity, gt, min_disparity=0.0)


def test_fit_ignores_invalid_and_nonfinite_pixels(depth):
    pred = depth / 2.0
    gt = depth.copy()
    gt[:4] = 1000.0  # corrupted rows, masked out
    gt[5, 5] = np.nan
    gt[6, 6] = 0.0
    pred_bad = pred.copy()
    pred_bad[7, 7] = np.inf
    valid = np.ones(depth.shape, dtype=bool)
    valid[:4] = False
    for method in ("median", "lstsq_scale", "lstsq_scale_shift"):
        _, params = align(method, pred_bad, gt, valid)
        assert params["scale"] == pytest.approx(2.0, rel=1e-12), method
        assert params["n_fit"] == depth.size - 4 * depth.shape[1] - 3


@pytest.mark.parametrize("method", ALIGNMENTS[1:])
def test_empty_mask_warns_and_leaves_the_prediction(method, depth):
    pred = (depth * 0.5).astype(np.float32)
    with pytest.warns(RuntimeWarning, match="failed"):
        aligned, params = align(method, pred, depth, np.zeros(depth.shape, dtype=bool))
    assert params["ok"] is False and params["n_fit"] == 0 and params["reason"]
    assert (params["scale"], params["shift"]) == (1.0, 0.0)
    assert aligned.dtype == np.float32
    if method == "lstsq_scale_shift_disparity":  # identity in disparity space, then inverted
        np.testing.assert_allclose(aligned, 1.0 / pred, rtol=1e-6)
    else:
        np.testing.assert_array_equal(aligned, pred)


@pytest.mark.parametrize("method", ["lstsq_scale_shift", "lstsq_scale_shift_disparity"])
def test_constant_prediction_is_degenerate(method, depth):
    with pytest.warns(RuntimeWarning, match="constant"):
        _, params = align(method, np.full(depth.shape, 3.0), depth)
    assert params["ok"] is False


def test_degenerate_scale_fits(depth):
    with pytest.warns(RuntimeWarning, match="all zero"):
        _, params = align_lstsq_scale(np.zeros(depth.shape), depth)
    assert not params["ok"]
    with pytest.warns(RuntimeWarning, match="median"):
        _, params = align_median(-depth, depth)
    assert not params["ok"]


def test_successful_fit_does_not_warn(depth):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in ALIGNMENTS:
            align(method, depth * 0.5 + 0.1, depth)


def test_bad_input(depth):
    with pytest.raises(UnknownNameError, match="median"):
        align("medain", depth, depth)
    with pytest.raises(ValueError, match="shape"):
        align("median", depth, depth.T)
    with pytest.raises(ValueError, match="valid"):
        align("median", depth, depth, np.ones(depth.shape))


# --- issue 10, item 6: constant predictions and the disparity floor ---------------------------

@pytest.mark.parametrize("method", ["lstsq_scale_shift", "lstsq_scale_shift_disparity"])
def test_a_constant_prediction_has_one_outcome_whatever_its_value(method):
    rng = np.random.default_rng(5)
    g = rng.uniform(1.0, 10.0, (24, 32))
    v = np.ones((24, 32), bool)
    outcomes = set()
    for value in (0.1, 3.0, 1e-3, 7e4):
        with pytest.warns(RuntimeWarning, match="constant"):
            aligned, params = align(method, np.full((24, 32), value), g, v)
        outcomes.add((params["ok"], params["scale"], params["shift"]))
    assert outcomes == {(False, 1.0, 0.0)}


def test_a_barely_varying_prediction_is_still_fitted():
    g = np.linspace(1.0, 2.0, 64).reshape(8, 8)
    p = 3.0 + 1e-4 * np.arange(64).reshape(8, 8)  # relative spread ~1e-5, far above round-off
    _, params = align("lstsq_scale_shift", p, g)
    assert params["ok"] and params["scale"] == pytest.approx((1.0 / 63) / 1e-4)


def test_aligned_disparity_never_lies_beyond_the_range_maximum():
    from dpbench.protocol import default_protocol
    from dpbench.tasks.depth import aligned_depth, disparity_floor
    from dpbench.types import Sample

    depth = np.array([[1.0, 2.0], [4.0, 8.0]], np.float32)
    sample = Sample("s", np.zeros((2, 2, 3), np.uint8), depth=depth)
    disparity = np.array([[1.0, 0.5], [0.25, -0.5]], np.float32)  # one pixel fits to a negative disparity
    valid = np.array([[True, True], [True, False]])
    aligned, params = aligned_depth(disparity, sample, "lstsq_scale_shift_disparity", "relative_disparity",
                                    valid, max_depth=10.0)
    assert params["min_disparity"] == disparity_floor(10.0) == 0.1
    assert aligned[1, 1] == pytest.approx(10.0) and aligned.max() <= 10.0 + 1e-5  # not 1e6 m
    assert default_protocol().record("relative_disparity")["disparity_floor"] == "1/max_depth"
