"""Boundary metrics: hand-made cases, properties, bad input, and bit-equality with the slow reference."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from dpbench.metrics.boundary import (
    DIRECTIONS,
    boundary_f1_curve,
    boundary_recall_curve,
    inverse_depth,
    mask_contours,
    occluding_contours,
    si_boundary_f1,
    si_boundary_recall,
    thinned_occluding_contours,
    thresholds_and_weights,
)
from dpbench.metrics.boundary_reference import (
    _nms_along_columns,
    _nms_along_rows,
    reference_si_boundary_f1,
    reference_si_boundary_recall,
)

T = np.linspace(1.05, 1.25, 10)
W = T / T.sum()


def square_scene(h=12, w=14, near=2.0, far=5.0):
    depth = np.full((h, w), far)
    depth[3:8, 4:10] = near
    return depth


def step_scene(h=6, w=8, left=2.0, right=1.0):
    depth = np.full((h, w), left)
    depth[:, w // 2 :] = right
    return depth


# --------------------------------------------------------------------------- hand-made cases


class TestHandMade:
    def test_square_in_front_of_plane_scores_one(self):
        gt = square_scene()
        assert si_boundary_f1(gt, gt) == pytest.approx(1.0, abs=1e-12)
        assert si_boundary_recall(gt, gt < 3) == pytest.approx(1.0, abs=1e-12)

    def test_single_straight_step_scores_a_quarter(self):
        gt = step_scene()  # near side on the right: only "right" pairs are contours
        curve = boundary_f1_curve(gt, gt)
        np.testing.assert_array_equal(curve.precision, np.full(10, 0.25))
        np.testing.assert_array_equal(curve.recall, np.full(10, 0.25))
        assert curve.score == pytest.approx(0.25, abs=1e-12)
        assert si_boundary_recall(gt, gt < 1.5) == pytest.approx(0.25, abs=1e-12)

    def test_shift_changes_the_score_by_the_expected_amount(self):
        gt = step_scene()
        # depths 12 vs 11: inverse-depth ratio 12/11 = 1.0909 passes only t = 1.05 and 1.0722
        shifted = gt + 10.0
        assert si_boundary_f1(shifted, gt) == pytest.approx(0.25 * (W[0] + W[1]), abs=1e-15)
        assert si_boundary_f1(shifted, gt) == pytest.approx(0.0461, abs=1e-4)

    def test_hand_counted_precision_recall_at_one_threshold(self):
        # One row: depths 4 4 2 1 1 -> inverse 0.25 0.25 0.5 1 1; "right" ratios 1 2 2 1.
        gt = np.array([[4.0, 4.0, 2.0, 1.0, 1.0]])
        # Prediction finds only the second of the two GT pairs, plus a false "left" pair.
        pred = np.array([[4.0, 4.0, 4.0, 1.0, 2.0]])  # right ratios 1 1 4 0.5; left 1 1 .25 2
        curve = boundary_f1_curve(pred, gt, t_min=1.1, t_max=1.1, n=1)
        # right: tp 1, |gt| 2, |pred| 1; left: tp 0, |gt| 0, |pred| 1; top/bottom empty
        assert curve.recall[0] == 0.25 * (0 + 0 + 1 / 2 + 0)
        assert curve.precision[0] == 0.25 * (0 + 0 + 1 / 1 + 0)
        p, r = 0.25, 0.125
        assert curve.f1[0] == 2 * (r * p) / (r + p)
        assert curve.score == curve.f1[0]

    def test_nms_keeps_the_first_maximum_of_a_ramp(self):
        # Right ratios 1 2 2 1: one run of two equal maxima; NMS keeps the first (pair 1-2).
        pred = np.array([[4.0, 4.0, 2.0, 1.0, 1.0]])
        thinned = thinned_occluding_contours(pred, 1.1)
        np.testing.assert_array_equal(thinned["right"], [[False, True, False, False]])
        plain = occluding_contours(pred, 1.1)
        np.testing.assert_array_equal(plain["right"], [[False, True, True, False]])
        # GT foreground from column 3 on: its contour is pair 2-3, which NMS dropped -> 0.
        mask_far = np.array([[0, 0, 0, 1, 1]], dtype=np.float32)
        assert si_boundary_recall(pred, mask_far) == 0.0
        mask_near = np.array([[0, 0, 1, 1, 1]], dtype=np.float32)
        assert si_boundary_recall(pred, mask_near) == pytest.approx(0.25, abs=1e-12)

    def test_nms_keeps_the_largest_ratio_of_a_run(self):
        # depths 8 4 1 1: inverse .125 .25 1 1 -> right ratios 2 4 1 -> keeps pair 1-2
        pred = np.array([[8.0, 4.0, 1.0, 1.0]])
        np.testing.assert_array_equal(thinned_occluding_contours(pred, 1.1)["right"], [[False, True, False]])

    def test_vertical_runs_are_thinned_along_columns(self):
        pred = np.array([[4.0], [4.0], [2.0], [1.0], [1.0]])
        thinned = thinned_occluding_contours(pred, 1.1)
        np.testing.assert_array_equal(thinned["bottom"][:, 0], [False, True, False, False])
        assert thinned["right"].shape == (5, 0)

    def test_invalid_gt_values_follow_the_inversion_rule(self):
        gt = square_scene()
        with_zero = gt.copy()
        with_zero[0, 0] = 0.0  # becomes a very near point: false edges
        assert si_boundary_f1(gt, with_zero) < 1.0
        with_nan = gt.copy()
        with_nan[0, 0] = np.nan  # NaN creates no contour at all
        assert si_boundary_f1(gt, with_nan) == pytest.approx(1.0, abs=1e-12)

    def test_swapped_inputs_give_zero_recall(self):
        depth = square_scene()
        disparity = 1.0 / depth  # wrong input type: fore- and background swap
        assert si_boundary_recall(disparity, depth < 3) == 0.0


# --------------------------------------------------------------------------- properties


class TestProperties:
    def test_scaling_either_input_keeps_the_score(self, rng):
        gt = random_piecewise(rng, 40, 50, noise=0.01)
        pred = random_piecewise(rng, 40, 50, noise=0.01)
        base = si_boundary_f1(pred, gt)
        assert 0 < base < 1
        assert si_boundary_f1(3.7 * pred, gt) == pytest.approx(base, abs=1e-12)
        assert si_boundary_f1(pred, 0.25 * gt) == pytest.approx(base, abs=1e-12)
        mask = gt < np.median(gt)
        base_recall = si_boundary_recall(pred, mask)
        assert si_boundary_recall(8.0 * pred, mask) == pytest.approx(base_recall, abs=1e-12)

    def test_curve_is_consistent(self, rng):
        gt = random_piecewise(rng, 30, 30)
        pred = random_piecewise(rng, 30, 30)
        curve = boundary_f1_curve(pred, gt)
        np.testing.assert_array_equal(curve.thresholds, T)
        np.testing.assert_array_equal(curve.weights, W)
        assert curve.weights.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(curve.precision, curve.precision_by_direction.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(curve.recall, curve.recall_by_direction.mean(axis=0), rtol=1e-12)
        pr = curve.precision + curve.recall
        expected = np.where(pr > 0, 2 * curve.precision * curve.recall / np.where(pr > 0, pr, 1), 0)
        np.testing.assert_allclose(curve.f1, expected, rtol=1e-12)
        assert curve.score == pytest.approx(float(np.sum(curve.f1 * W)), abs=1e-15)
        recall_curve = boundary_recall_curve(pred, gt < np.median(gt))
        assert recall_curve.recall.shape == (10,)
        assert recall_curve.recall_by_direction.shape == (4, 10)

    def test_thresholds_and_weights(self):
        t, w = thresholds_and_weights()
        np.testing.assert_array_equal(t, T)
        assert t.sum() == pytest.approx(11.5)
        assert w[0] == pytest.approx(0.09130, abs=1e-5)
        assert w[-1] == pytest.approx(0.10870, abs=1e-5)

    def test_contour_maps_shapes_and_directions(self):
        depth = step_scene(h=3, w=4)
        maps = occluding_contours(depth, 1.05)
        assert set(maps) == set(DIRECTIONS)
        assert maps["right"].shape == maps["left"].shape == (3, 3)
        assert maps["top"].shape == maps["bottom"].shape == (2, 4)
        np.testing.assert_array_equal(maps["right"], np.tile([False, True, False], (3, 1)))
        assert not maps["left"].any() and not maps["top"].any() and not maps["bottom"].any()
        gt_maps = mask_contours(depth < 1.5)
        np.testing.assert_array_equal(gt_maps["right"], maps["right"])
        assert not gt_maps["left"].any()

    def test_inverse_depth_keeps_dtype_and_floors(self):
        d = np.array([[0.0, 2.0, np.nan, np.inf]], dtype=np.float32)
        q = inverse_depth(d)
        assert q.dtype == np.float32
        np.testing.assert_array_equal(q[0, :2], np.array([1.0 / np.float32(1e-6), 0.5], dtype=np.float32))
        assert np.isnan(q[0, 2]) and q[0, 3] == 0

    def test_valid_excludes_pairs_touching_invalid_pixels(self):
        gt = square_scene()
        gt_with_hole = gt.copy()
        gt_with_hole[1, 1] = 0.0  # a GT hole; the model predicts the plane there
        assert si_boundary_f1(gt, gt_with_hole) < 1.0
        assert si_boundary_f1(gt, gt_with_hole, valid=gt_with_hole > 0) == pytest.approx(1.0, abs=1e-12)
        mask = gt < 3
        everything = np.ones(gt.shape, dtype=bool)
        assert si_boundary_recall(gt, mask, valid=everything) == si_boundary_recall(gt, mask)
        # hiding the square's left edge removes the "right" direction entirely
        hide = everything.copy()
        hide[:, 3] = False
        curve = boundary_recall_curve(gt, mask, valid=hide)
        np.testing.assert_array_equal(curve.recall_by_direction[DIRECTIONS.index("right")], np.zeros(10))

    def test_torch_tensors_are_accepted(self):
        torch = pytest.importorskip("torch")
        gt = square_scene()
        pred = gt * (1 + 0.1 * np.arange(gt.size).reshape(gt.shape) % 3)
        assert si_boundary_f1(torch.from_numpy(pred), torch.from_numpy(gt)) == si_boundary_f1(pred, gt)


# --------------------------------------------------------------------------- bad input


class TestBadInput:
    def test_not_2d(self):
        with pytest.raises(ValueError, match="2-D"):
            si_boundary_f1(np.ones((2, 3, 4)), np.ones((2, 3, 4)))
        with pytest.raises(ValueError, match="2-D"):
            si_boundary_recall(np.ones(5), np.ones(5, dtype=bool))

    def test_shape_mismatch(self):
        with pytest.raises(ValueError, match="shape"):
            si_boundary_f1(np.ones((4, 5)), np.ones((5, 4)))
        with pytest.raises(ValueError, match="shape"):
            si_boundary_recall(np.ones((4, 5)), np.ones((4, 6), dtype=bool))

    def test_uint8_mask_is_refused_with_a_hint(self):
        with pytest.raises(ValueError, match="255"):
            si_boundary_recall(np.ones((4, 4)), np.full((4, 4), 255, dtype=np.uint8))

    @pytest.mark.parametrize("bad", [1.5, -0.1, np.nan])
    def test_float_mask_outside_unit_range(self, bad):
        mask = np.zeros((4, 4), dtype=np.float32)
        mask[0, 0] = bad
        with pytest.raises(ValueError, match="gt_mask"):
            si_boundary_recall(np.ones((4, 4)), mask)

    def test_bad_dtypes_and_options(self):
        with pytest.raises(ValueError, match="real-valued"):
            si_boundary_f1(np.ones((3, 3), dtype=bool), np.ones((3, 3)))
        with pytest.raises(ValueError, match="int"):
            si_boundary_recall(np.ones((3, 3)), np.ones((3, 3), dtype=np.int64))
        with pytest.raises(ValueError, match="valid"):
            si_boundary_f1(np.ones((3, 3)), np.ones((3, 3)), valid=np.ones((3, 3)))
        with pytest.raises(ValueError, match="valid"):
            si_boundary_f1(np.ones((3, 3)), np.ones((3, 3)), valid=np.ones((3, 4), dtype=bool))
        with pytest.raises(ValueError, match="n"):
            si_boundary_f1(np.ones((3, 3)), np.ones((3, 3)), n=0)


# --------------------------------------------------------------------------- equality with the reference


def random_piecewise(rng, h, w, n_rect=None, noise=None, quantize=None, specials=0.0, dtype=np.float64):
    """Piecewise-constant (optionally slanted and noisy) depth with rectangles, some touching borders."""
    depth = np.full((h, w), rng.uniform(2, 10))
    if rng.random() < 0.5:  # slanted background plane
        depth = depth + rng.uniform(-1, 1) * np.arange(w)[None, :] / max(w, 1)
    for _ in range(rng.integers(1, 8) if n_rect is None else n_rect):
        r0, c0 = rng.integers(-2, h), rng.integers(-2, w)
        r1, c1 = r0 + rng.integers(1, h + 3), c0 + rng.integers(1, w + 3)
        depth[max(r0, 0) : r1, max(c0, 0) : c1] = rng.uniform(0.5, 10)
    noise = rng.choice([0.0, 0.005, 0.03]) if noise is None else noise
    depth = depth * (1 + noise * rng.standard_normal((h, w)))
    if quantize if quantize is not None else rng.random() < 0.4:
        depth = np.round(depth * 4) / 4 + 0.25  # many exact ties, never 0
    if specials:
        u = rng.random((h, w))
        depth[u < specials] = 0.0
        depth[(u >= specials) & (u < 2 * specials)] = np.inf
        depth[(u >= 2 * specials) & (u < 3 * specials)] = np.nan
        depth[(u >= 3 * specials) & (u < 4 * specials)] = -1.0
    return depth.astype(dtype)


def seed_of(*parts) -> int:
    """A seed that is stable across processes (unlike hash(), which is salted)."""
    return zlib.crc32(repr(parts).encode())


SIZES = [(1, 1), (1, 7), (7, 1), (2, 2), (3, 5), (16, 16), (23, 31), (40, 57)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("pred_dtype,gt_dtype", [(np.float64, np.float64), (np.float32, np.float32), (np.float32, np.float64)])
def test_f1_equals_reference(size, pred_dtype, gt_dtype):
    rng = np.random.default_rng(seed_of(size, pred_dtype, gt_dtype))
    for trial in range(6):
        specials = 0.0 if trial < 2 else 0.03
        gt = random_piecewise(rng, *size, specials=specials, dtype=gt_dtype)
        if trial % 3 == 0:  # a prediction close to the GT: many shared contours
            pred = (gt * (1 + 0.02 * rng.standard_normal(size))).astype(pred_dtype)
        else:
            pred = random_piecewise(rng, *size, specials=specials / 2, dtype=pred_dtype)
        with np.errstate(all="ignore"):
            expected = reference_si_boundary_f1(pred, gt)
            got = si_boundary_f1(pred, gt)
        assert got == expected, (size, trial)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("pred_dtype", [np.float64, np.float32])
def test_recall_equals_reference(size, pred_dtype):
    rng = np.random.default_rng(seed_of(size, pred_dtype, "recall"))
    for trial in range(6):
        depth = random_piecewise(rng, *size)
        pred = random_piecewise(rng, *size, specials=0.03 if trial >= 3 else 0.0, dtype=pred_dtype)
        if trial % 2:
            pred = (depth * (1 + 0.03 * rng.standard_normal(size))).astype(pred_dtype)
        kind = trial % 3
        if kind == 0:
            mask = depth < np.median(depth)
        elif kind == 1:
            mask = rng.random(size).astype(np.float32)  # soft matte
        else:
            mask = np.clip((np.median(depth) - depth) + 0.5, 0, 1)  # float64 with exact 0.1 values
            mask[rng.random(size) < 0.1] = 0.1
        with np.errstate(all="ignore"):
            expected = reference_si_boundary_recall(pred, mask)
            got = si_boundary_recall(pred, mask)
        assert got == expected, (size, trial)


def test_equality_with_valid_masks_and_other_thresholds(rng):
    for _ in range(30):
        h, w = rng.integers(1, 30), rng.integers(1, 30)
        gt = random_piecewise(rng, h, w, specials=0.02)
        pred = random_piecewise(rng, h, w)
        valid = rng.random((h, w)) > 0.2
        t_min, t_max = rng.uniform(1.0, 1.3), rng.uniform(1.0, 1.6)  # also decreasing ranges
        n = int(rng.integers(1, 14))
        mask = gt < np.nanmedian(np.where(np.isfinite(gt), gt, np.nan)) if np.isfinite(gt).any() else gt > 0
        with np.errstate(all="ignore"):
            assert si_boundary_f1(pred, gt, t_min, t_max, n, valid=valid) == reference_si_boundary_f1(
                pred, gt, t_min, t_max, n, valid=valid)
            assert si_boundary_recall(pred, mask, t_min, t_max, n, 0.3, valid=valid) == \
                reference_si_boundary_recall(pred, mask, t_min, t_max, n, 0.3, valid=valid)


def test_equality_on_noisy_maps_with_many_runs(rng):
    # pure noise: contours everywhere, long runs in every row and column
    for dtype in (np.float32, np.float64):
        pred = rng.uniform(1, 1.6, (48, 64)).astype(dtype)
        gt = rng.uniform(1, 1.6, (48, 64)).astype(dtype)
        assert si_boundary_f1(pred, gt) == reference_si_boundary_f1(pred, gt)
        assert si_boundary_recall(pred, gt < 1.3) == reference_si_boundary_recall(pred, gt < 1.3)


def test_integer_and_float16_inputs_match_reference(rng):
    # the released code computes integers in float64 and float16 in float16; so do we
    gt = rng.integers(0, 6, (20, 24))
    pred = rng.integers(1, 6, (20, 24)).astype(np.int32)
    with np.errstate(all="ignore"):
        assert si_boundary_f1(pred, gt) == reference_si_boundary_f1(pred, gt)
        assert si_boundary_recall(pred, gt > 2) == reference_si_boundary_recall(pred, gt > 2)
        half = random_piecewise(rng, 20, 24, specials=0.02, dtype=np.float16)
        assert si_boundary_f1(half, gt) == reference_si_boundary_f1(half, gt)
        assert si_boundary_recall(half, gt > 2) == reference_si_boundary_recall(half, gt > 2)


def test_float32_threshold_comparison_follows_the_released_operands():
    """A float32 ratio exactly equal to float32(t) where float32(t) > t (float64): the F1 compares
    with the float64 threshold (contour), the recall with a Python float that NumPy >= 2 casts to
    float32 (no contour). Both must follow the released code, i.e. the reference."""
    t = T[1]  # 1.0722…: float32(t) rounds up
    t32 = np.float32(t)
    assert float(t32) > t
    far = np.float32(1.0)
    near = np.float32(1.0) / t32
    for _ in range(64):  # find a depth whose float32 inverse ratio is exactly float32(t)
        if (np.float32(1.0) / near) / (np.float32(1.0) / far) == t32:
            break
        near = np.nextafter(near, np.float32(0))
    depth = np.array([[far, near]], dtype=np.float32)
    ratio = inverse_depth(depth)[0, 1] / inverse_depth(depth)[0, 0]
    assert ratio == t32
    gt = np.array([[2.0, 1.0]])
    f1_curve = boundary_f1_curve(depth, gt, t_min=t, t_max=t, n=1)
    recall_curve = boundary_recall_curve(depth, np.array([[False, True]]), t_min=t, t_max=t, n=1)
    assert f1_curve.score == reference_si_boundary_f1(depth, gt, t, t, 1)
    assert recall_curve.score == reference_si_boundary_recall(depth, np.array([[False, True]]), t, t, 1)
    if int(np.__version__.split(".")[0]) >= 2:
        assert f1_curve.score == pytest.approx(0.25)  # float64 comparison: a contour
        assert recall_curve.score == 0.0  # float32 comparison: none


def test_thinned_maps_equal_reference_nms(rng):
    for _ in range(20):
        depth = random_piecewise(rng, int(rng.integers(1, 25)), int(rng.integers(1, 25)), noise=0.03)
        t = float(rng.uniform(1.0, 1.2))
        q = 1.0 / depth.clip(min=1e-6)
        thinned = thinned_occluding_contours(depth, t)
        np.testing.assert_array_equal(thinned["right"], _nms_along_rows(q[:, 1:] / q[:, :-1], t))
        np.testing.assert_array_equal(thinned["left"], _nms_along_rows(q[:, :-1] / q[:, 1:], t))
        np.testing.assert_array_equal(thinned["bottom"], _nms_along_columns(q[1:] / q[:-1], t))
        np.testing.assert_array_equal(thinned["top"], _nms_along_columns(q[:-1] / q[1:], t))


def test_memory_layouts_do_not_matter(rng):
    base_pred = np.round(rng.uniform(1, 3, (30, 36)) * 2) / 2 * (1 + 0.03 * rng.standard_normal((30, 36)))
    base_gt = np.round(rng.uniform(1, 3, (30, 36)) * 2) / 2
    layouts = [
        (np.asfortranarray(base_pred), np.asfortranarray(base_gt)),
        (base_pred[::2, 1::3], base_gt[::2, 1::3]),
        (base_pred.T, base_gt.T),
        (base_pred[::-1], base_gt[:, ::-1]),
    ]
    for pred, gt in layouts:
        assert si_boundary_f1(pred, gt) == reference_si_boundary_f1(pred, gt)
        assert si_boundary_f1(pred, gt) == si_boundary_f1(np.ascontiguousarray(pred), np.ascontiguousarray(gt))
        mask = gt > 2
        assert si_boundary_recall(pred, mask) == reference_si_boundary_recall(pred, mask)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_same_test_threshold_gives_the_same_comparisons(dtype, rng):
    """The fast path compares float32/float16 maps with a threshold of their own dtype; every
    comparison must equal NumPy's comparison with the original (float64 or Python float) scalar."""
    from dpbench.metrics.boundary import _same_test_threshold

    info = np.finfo(dtype)
    for t in [*np.linspace(1.05, 1.25, 10), 1.0, 0.0, -3.5, 1e6, -1e6, float(info.max) * 2]:
        for scalar in (np.float64(t), float(t)):
            fast = _same_test_threshold(np.dtype(dtype), scalar)
            with np.errstate(over="ignore", invalid="ignore"):
                near = np.asarray(t, dtype=dtype)
                x = np.array([near, np.nextafter(near, np.inf), np.nextafter(near, -np.inf),
                              np.inf, -np.inf, np.nan, 0.0, info.max, -info.max], dtype=dtype)
                x = np.concatenate([x, rng.uniform(-3, 3, 200).astype(dtype)])
                np.testing.assert_array_equal(x > fast, x > scalar, err_msg=f"{t} {type(scalar)}")
