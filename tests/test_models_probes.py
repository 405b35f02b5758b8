"""The probe models: each one's expected behaviour under plain reference metrics written here.

The metrics below are deliberately slow, obvious re-implementations of the definitions in
docs/ARCHITECTURE.md (δ1, AbsRel, boundary F1, mask boundary recall with run-wise NMS), so these tests do
not depend on dpbench.metrics.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dpbench.errors import ModelError
from dpbench.models import check_prediction, get_model_info, load_model
from dpbench.models.probes import (
    MASK_FAR_DEPTH,
    MASK_NEAR_DEPTH,
    NO_GT_DEPTH,
    blur_inverse_depth,
    box_blur_sigma,
    box_width,
    fill_invalid,
)
from dpbench.types import Prediction, Sample

PROBES = ("probe:gt", "probe:gt-blur", "probe:gt-scale", "probe:gt-resample", "probe:gt-shift",
          "probe:constant")
THRESHOLDS = np.linspace(1.05, 1.25, 10)
WEIGHTS = THRESHOLDS / THRESHOLDS.sum()


# -- reference metrics ----------------------------------------------------------------------
def ref_delta1(pred, gt, valid):
    ratio = np.maximum(pred[valid] / gt[valid], gt[valid] / pred[valid])
    return float(np.mean(ratio < 1.25))


def ref_abs_rel(pred, gt, valid):
    return float(np.mean(np.abs(pred[valid] - gt[valid]) / gt[valid]))


def _ratio_maps(depth):
    """(name, ratio array) for the four neighbour directions, on inverse depth."""
    q = 1.0 / np.maximum(depth.astype(np.float64), 1e-6)
    return [
        ("right", q[:, 1:] / q[:, :-1]),
        ("left", q[:, :-1] / q[:, 1:]),
        ("bottom", q[1:, :] / q[:-1, :]),
        ("top", q[:-1, :] / q[1:, :]),
    ]


def ref_boundary_f1(pred, gt):
    score = 0.0
    for t, w in zip(THRESHOLDS, WEIGHTS, strict=True):
        precisions, recalls = [], []
        for (_, rp), (_, rg) in zip(_ratio_maps(pred), _ratio_maps(gt), strict=True):
            p, g = rp > t, rg > t
            tp = np.count_nonzero(p & g)
            precisions.append(tp / max(np.count_nonzero(p), 1))
            recalls.append(tp / max(np.count_nonzero(g), 1))
        precision, recall = np.mean(precisions), np.mean(recalls)
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        score += w * f1
    return score


def _nms_runs(ratio, t, along_rows):
    """Keep, in each run of consecutive entries above t, only the first maximum."""
    keep = np.zeros(ratio.shape, dtype=bool)
    lines = ratio if along_rows else ratio.T
    out = keep if along_rows else keep.T
    for i, line in enumerate(lines):
        j = 0
        while j < len(line):
            if line[j] > t:
                start = j
                while j < len(line) and line[j] > t:
                    j += 1
                best = start + int(np.argmax(line[start:j]))
                out[i, best] = True
            else:
                j += 1
    return keep


def ref_boundary_recall(pred, mask, alpha_threshold=0.1):
    fg = mask > alpha_threshold
    gt_maps = {
        "right": fg[:, 1:] & ~fg[:, :-1],
        "left": fg[:, :-1] & ~fg[:, 1:],
        "bottom": fg[1:, :] & ~fg[:-1, :],
        "top": fg[:-1, :] & ~fg[1:, :],
    }
    score = 0.0
    for t, w in zip(THRESHOLDS, WEIGHTS, strict=True):
        recalls = []
        for name, ratio in _ratio_maps(pred):
            thinned = _nms_runs(ratio, t, along_rows=name in ("right", "left"))
            g = gt_maps[name]
            recalls.append(np.count_nonzero(thinned & g) / max(np.count_nonzero(g), 1))
        score += w * np.mean(recalls)
    return score


# -- scenes ------------------------------------------------------------------------------
def boxes_depth(h=48, w=64):
    """A far wall with two boxes in front: contours in all four directions."""
    depth = np.full((h, w), 6.0, dtype=np.float32)
    depth[8:30, 6:28] = 2.0
    depth[20:42, 36:58] = 3.5
    ramp = np.linspace(0.0, 0.4, w, dtype=np.float32)
    return depth + ramp[None, :]


def image(h=48, w=64):
    return np.zeros((h, w, 3), dtype=np.uint8)


@pytest.fixture
def depth_sample():
    return Sample("scene/0001", image(), depth=boxes_depth(), focal_px=50.0)


@pytest.fixture
def holey_sample():
    depth = boxes_depth()
    valid = np.ones(depth.shape, dtype=bool)
    valid[0:4, :] = False  # a band without GT (sky)
    valid[25, 40] = False
    depth[0:4, :] = np.inf
    depth[25, 40] = 0.0
    return Sample("holes", image(), depth=depth, valid=valid)


@pytest.fixture
def mask_sample():
    mask = np.full((48, 64), 0.05, dtype=np.float32)  # background alpha below the 0.1 cut
    mask[10:38, 12:50] = 0.6
    mask[10:38, 12] = 0.1  # exactly at the threshold: background (strict >)
    return Sample("matte/07", image(), mask=mask)


# -- the probes' promises ---------------------------------------------------------------
def test_cards_and_models_declare_ground_truth_reading():
    for name in PROBES:
        info, arg = get_model_info(name)
        assert info.reads_ground_truth and arg is None and info.output_kind == "metric_depth"
        model = load_model(name)
        assert model.reads_ground_truth and model.name == name
        assert model.describe()["reads_ground_truth"] is True


def test_gt_probe_is_perfect_on_depth(depth_sample):
    pred = load_model("probe:gt").predict(depth_sample)
    gt, valid = depth_sample.depth, depth_sample.valid_mask()
    np.testing.assert_array_equal(pred.depth, gt)
    assert ref_delta1(pred.depth, gt, valid) == 1.0
    assert ref_abs_rel(pred.depth, gt, valid) == 0.0
    assert ref_boundary_f1(pred.depth, gt) == pytest.approx(1.0)
    assert pred.focal_px == 50.0 and pred.meta["focal_source"] == "estimated"
    check_prediction(pred, depth_sample, "metric_depth")


def test_gt_probe_fills_holes_from_nearest_valid(holey_sample):
    pred = load_model("probe:gt").predict(holey_sample)
    valid = holey_sample.valid_mask()
    np.testing.assert_array_equal(pred.depth[valid], holey_sample.depth[valid])
    # the missing top band takes the first valid row below it, column by column
    np.testing.assert_array_equal(pred.depth[0:4], np.repeat(holey_sample.depth[4:5], 4, axis=0))
    # the single zero inside the second box takes one of its 4-neighbours (all 3.5 + ramp there)
    neighbours = [holey_sample.depth[24, 40], holey_sample.depth[26, 40],
                  holey_sample.depth[25, 39], holey_sample.depth[25, 41]]
    assert pred.depth[25, 40] in neighbours
    assert np.isfinite(pred.depth).all() and (pred.depth > 0).all()
    check_prediction(pred, holey_sample, "metric_depth")


def test_fill_invalid_by_hand():
    depth = np.array([[1.0, 0.0, 0.0, 4.0]], dtype=np.float32)
    valid = np.array([[True, False, False, True]])
    np.testing.assert_array_equal(fill_invalid(depth, valid), [[1.0, 1.0, 4.0, 4.0]])
    np.testing.assert_array_equal(fill_invalid(depth, np.zeros_like(valid)), np.full((1, 4), NO_GT_DEPTH))
    # a 2-D case: two valid pixels, every other pixel takes the nearer one's value
    depth = np.zeros((5, 7), np.float32)
    valid = np.zeros((5, 7), bool)
    depth[0, 0], depth[4, 6] = 1.0, 9.0
    valid[0, 0] = valid[4, 6] = True
    filled = fill_invalid(depth, valid)
    rows, cols = np.mgrid[0:5, 0:7]
    to_first = np.hypot(rows, cols)
    to_second = np.hypot(rows - 4, cols - 6)
    clear = np.abs(to_first - to_second) > 0.5  # away from the tie line
    np.testing.assert_array_equal(filled[clear], np.where(to_first < to_second, 1.0, 9.0)[clear])


def test_gt_blur_keeps_delta_loses_boundaries(depth_sample):
    model = load_model("probe:gt-blur")
    pred = model.predict(depth_sample)
    gt, valid = depth_sample.depth, depth_sample.valid_mask()
    assert ref_delta1(pred.depth, gt, valid) > 0.85
    assert ref_boundary_f1(pred.depth, gt) < 0.5
    # a larger blur is worse for boundaries
    wide = load_model("probe:gt-blur", sigma=6.0).predict(depth_sample)
    assert ref_boundary_f1(wide.depth, gt) < ref_boundary_f1(pred.depth, gt)
    assert model.blur_sigma(48, 64) == 2.0  # 1% of an 80-px diagonal is below the 2-px floor
    assert model.blur_sigma(3000, 4000) == pytest.approx(50.0)
    assert pred.meta["blur_box_width"] == 5 and pred.meta["blur_sigma"] == pytest.approx(math.sqrt(6))


def _box(array, width):
    """Slow, obvious box filter with replicated borders (float64)."""
    r = width // 2
    padded = np.pad(array.astype(np.float64), r, mode="edge")
    out = np.zeros(array.shape)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out += padded[r + dy: r + dy + array.shape[0], r + dx: r + dx + array.shape[1]]
    return out / width**2


def test_blur_is_three_boxes_in_inverse_depth(rng):
    depth = rng.uniform(1.0, 8.0, size=(17, 23)).astype(np.float32)
    out = blur_inverse_depth(depth, sigma=2.0)
    assert box_width(2.0) == 5  # sqrt(4·2² + 1) = 4.12 -> nearest odd width 5
    inverse = 1.0 / depth.astype(np.float64)
    for _ in range(3):
        inverse = _box(inverse, 5)
    np.testing.assert_allclose(out, 1.0 / inverse, rtol=1e-5)
    # not the same as blurring depth itself
    depth_blurred = _box(_box(_box(depth, 5), 5), 5)
    assert not np.allclose(out, depth_blurred, rtol=1e-3)


def test_box_width_matches_the_requested_sigma():
    for sigma in (1.0, 2.0, 3.7, 10.0, 72.0):
        width = box_width(sigma)
        assert width % 2 == 1
        # the chosen odd width is the best one: its neighbours are farther from sigma
        error = abs(box_blur_sigma(width) - sigma)
        assert error <= abs(box_blur_sigma(width + 2) - sigma)
        assert width == 1 or error <= abs(box_blur_sigma(width - 2) - sigma)
    # variance of 3 boxes of width 5 is 3 * (25 - 1) / 12 = 6, checked on an impulse response
    impulse = np.zeros((1, 41))
    impulse[0, 20] = 1.0
    response = _box(_box(_box(impulse, 5), 5), 5)[0]
    response /= response.sum()
    offsets = np.arange(41) - 20
    # a 2-D box on a 1-row image averages rows of the replicated row: the x profile is exact
    assert np.sum(response * offsets**2) == pytest.approx(box_blur_sigma(5) ** 2)


def test_gt_scale_collapses_delta_keeps_f1(depth_sample):
    pred = load_model("probe:gt-scale").predict(depth_sample)
    gt, valid = depth_sample.depth, depth_sample.valid_mask()
    np.testing.assert_allclose(pred.depth, gt * 1.6, rtol=1e-6)
    assert ref_delta1(pred.depth, gt, valid) == 0.0
    assert ref_abs_rel(pred.depth, gt, valid) == pytest.approx(0.6, abs=1e-6)
    assert ref_boundary_f1(pred.depth, gt) == pytest.approx(1.0)
    assert pred.focal_px == pytest.approx(80.0)
    assert abs(pred.focal_px - 50.0) / 50.0 > 0.5  # clear of the focal δ50 threshold
    mild = load_model("probe:gt-scale", factor=1.2).predict(depth_sample)
    assert ref_delta1(mild.depth, gt, valid) == 1.0
    assert load_model("probe:gt-scale", factor=1.2).describe()["factor"] == 1.2


def test_constant_is_the_floor(depth_sample, holey_sample):
    pred = load_model("probe:constant").predict(holey_sample)
    valid = holey_sample.valid_mask()
    median = float(np.median(holey_sample.depth[valid]))
    np.testing.assert_array_equal(pred.depth, np.full(pred.depth.shape, median, np.float32))
    pred = load_model("probe:constant").predict(depth_sample)
    assert ref_boundary_f1(pred.depth, depth_sample.depth) == 0.0
    assert pred.focal_px == pytest.approx(0.5 * 64 / math.tan(math.radians(30.0)))
    narrow = load_model("probe:constant", fov_deg=40.0).predict(depth_sample)
    assert narrow.focal_px == pytest.approx(32.0 / math.tan(math.radians(20.0)))


def test_mask_only_samples(mask_sample):
    gt = load_model("probe:gt").predict(mask_sample)
    fg = mask_sample.mask > 0.1
    np.testing.assert_array_equal(gt.depth, np.where(fg, MASK_NEAR_DEPTH, MASK_FAR_DEPTH))
    assert gt.meta["probe_depth_source"] == "mask" and gt.focal_px is None
    assert ref_boundary_recall(gt.depth, mask_sample.mask) == pytest.approx(1.0)
    scaled = load_model("probe:gt-scale", factor=3.0).predict(mask_sample)
    assert ref_boundary_recall(scaled.depth, mask_sample.mask) == pytest.approx(1.0)
    blurred = load_model("probe:gt-blur", sigma=4.0).predict(mask_sample)
    assert ref_boundary_recall(blurred.depth, mask_sample.mask) < 0.5
    constant = load_model("probe:constant").predict(mask_sample)
    assert (constant.depth == MASK_FAR_DEPTH).all()
    assert ref_boundary_recall(constant.depth, mask_sample.mask) == 0.0


def test_focal_only_samples():
    sample = Sample("IMG_0042.jpg", image(30, 40), focal_px=33.0)
    expected = {"probe:gt": 33.0, "probe:gt-blur": 33.0, "probe:gt-scale": 33.0 * 1.6,
                "probe:constant": 20.0 / math.tan(math.radians(30.0))}
    for name, focal in expected.items():
        pred = load_model(name).predict(sample)
        assert pred.focal_px == pytest.approx(focal), name
        assert pred.meta["probe_depth_source"] == "none"
        np.testing.assert_array_equal(pred.depth, np.full((30, 40), NO_GT_DEPTH, np.float32))


def test_given_focal_is_returned_and_depth_unchanged(depth_sample):
    model = load_model("probe:gt-scale", factor=2.0)
    own = model.predict(depth_sample)
    given = model.predict(depth_sample, focal_px=80.0)
    assert given.focal_px == 80.0 and given.meta["focal_source"] == "given"
    assert given.meta["focal_px_estimated"] == pytest.approx(100.0)
    np.testing.assert_array_equal(given.depth, own.depth)


def test_probe_bad_input(depth_sample):
    with pytest.raises(TypeError, match="needs a Sample"):
        load_model("probe:gt").predict(image())
    with pytest.raises(ValueError, match="takes no checkpoint"):
        load_model("probe:gt", checkpoint="x.pt")
    with pytest.raises(ValueError, match=r"accepted: \['factor'\]"):
        load_model("probe:gt-scale", sigma=3)
    with pytest.raises(ValueError, match="factor must be a positive"):
        load_model("probe:gt-scale", factor=-1)
    with pytest.raises(ValueError, match="sigma must be"):
        load_model("probe:gt-blur", sigma=0)
    with pytest.raises(ValueError, match="fov_deg"):
        load_model("probe:constant", fov_deg=180)


def test_predict_batch_runs_each_sample(depth_sample, mask_sample):
    preds = load_model("probe:gt").predict_batch([depth_sample, mask_sample], [None, 40.0])
    assert [p.meta["probe_depth_source"] for p in preds] == ["depth", "mask"]
    assert preds[1].focal_px == 40.0


# -- check_prediction ---------------------------------------------------------------------
def test_check_prediction_names_the_sample_and_problem(depth_sample):
    good = np.ones((48, 64), np.float32)
    check_prediction(Prediction(good), depth_sample, "metric_depth")
    with pytest.raises(ModelError, match=r"sample 'scene/0001': prediction has shape 24×64 but the image is 48×64"):
        check_prediction(Prediction(good[:24]), depth_sample)
    bad = good.copy()
    bad[0, :3] = np.nan
    bad[1, 0] = np.inf
    with pytest.raises(ModelError, match=r"'scene/0001'.*4 non-finite values of 3072 \(3 NaN, 1 ±inf\)"):
        check_prediction(Prediction(bad), depth_sample)
    zero = good.copy()
    zero[5, 5] = 0.0
    with pytest.raises(ModelError, match="1 values <= 0"):
        check_prediction(Prediction(zero), depth_sample, "metric_depth")
    check_prediction(Prediction(zero - 0.5), depth_sample, "relative_depth")  # affine: allowed
    with pytest.raises(ModelError, match="not a Prediction"):
        check_prediction(good, depth_sample)


# -- probe:gt-resample and probe:gt-shift (Table 7 / Fig. 9) --------------------------------
def step_sample(column=1, h=4, w=4):
    """Depth 1 m left of ``column``, 2 m from it on: one vertical contour."""
    depth = np.ones((h, w), np.float32)
    depth[:, column:] = 2.0
    return Sample("step", image(h, w), depth=depth, focal_px=5.0)


def ref_log10(pred, gt, valid):
    return float(np.mean(np.abs(np.log10(pred[valid]) - np.log10(gt[valid]))))


def test_gt_resample_by_hand():
    # step at column 1 of 4, through a 2×2 grid: inverse depth per row [1, .5, .5, .5] -> area
    # averages [.75, .5] -> nearest back up [.75, .75, .5, .5] = depth [4/3, 4/3, 2, 2].
    sample = step_sample(column=1)
    gt, valid = sample.depth, sample.valid_mask()
    pred = load_model("probe:gt-resample", size=2, filter="nearest").predict(sample)
    np.testing.assert_allclose(pred.depth, np.tile([4 / 3, 4 / 3, 2, 2], (4, 1)), rtol=1e-6)
    assert ref_abs_rel(pred.depth, gt, valid) == pytest.approx((1 / 3 + 1 / 3) / 4, rel=1e-6)
    assert ref_log10(pred.depth, gt, valid) == pytest.approx(
        (math.log10(4 / 3) + math.log10(2 / (4 / 3))) / 4, rel=1e-6)
    # the contour moved from column 1 to column 2: no predicted pair matches a GT pair
    assert ref_boundary_f1(pred.depth, gt) == 0.0
    # bilinear, half-pixel centres: output columns sit at -0.25, 0.25, 0.75, 1.25 of the 2 grid
    # columns, so inverse depth [.75, .75·.75 + .25·.5, .25·.75 + .75·.5, .5]
    bilinear = load_model("probe:gt-resample", size=2).predict(sample)
    inverse = np.array([0.75, 0.6875, 0.5625, 0.5])
    np.testing.assert_allclose(bilinear.depth, np.tile(1 / inverse, (4, 1)), rtol=1e-6)
    assert bilinear.focal_px == 5.0
    assert load_model("probe:gt-resample", size=384).describe()["size"] == 384


def test_gt_resample_on_the_grid_is_exact_and_coarser_is_worse(depth_sample):
    aligned = step_sample(column=2)  # contour on a 2×2 cell border: survives the 2-grid
    pred = load_model("probe:gt-resample", size=2, filter="nearest").predict(aligned)
    np.testing.assert_allclose(pred.depth, aligned.depth, rtol=1e-6)
    gt, valid = depth_sample.depth, depth_sample.valid_mask()
    scores = []
    for size in (64, 16, 8):
        out = load_model("probe:gt-resample", size=size).predict(depth_sample).depth
        assert out.shape == gt.shape and out.dtype == np.float32 and (out > 0).all()
        scores.append((ref_abs_rel(out, gt, valid), ref_boundary_f1(out, gt)))
    assert scores[0][0] < scores[1][0] < scores[2][0]  # AbsRel grows as the grid gets coarser
    assert scores[0][1] > scores[2][1]
    bicubic = load_model("probe:gt-resample", size=8, filter="bicubic").predict(depth_sample).depth
    assert bicubic.min() >= gt.min() - 1e-4 and bicubic.max() <= gt.max() + 1e-4  # no overshoot


def test_gt_shift_by_hand():
    sample = step_sample(column=1, h=4, w=6)
    gt, valid = sample.depth, sample.valid_mask()
    none = load_model("probe:gt-shift", k=0).predict(sample)
    np.testing.assert_array_equal(none.depth, gt)
    pred = load_model("probe:gt-shift", k=2).predict(sample)
    # the step moves from column 1 to column 3; the two uncovered columns repeat column 0
    np.testing.assert_array_equal(pred.depth, np.tile([1, 1, 1, 2, 2, 2], (4, 1)).astype(np.float32))
    assert ref_abs_rel(pred.depth, gt, valid) == pytest.approx(2 * 0.5 / 6)  # 2 columns of |1-2|/2
    assert ref_boundary_f1(pred.depth, gt) == 0.0
    down = load_model("probe:gt-shift", k=1, axis="y").predict(sample)
    np.testing.assert_array_equal(down.depth, gt)  # a vertical contour does not move down
    diagonal = load_model("probe:gt-shift", k=1, axis="xy").predict(Sample("d", image(3, 3),
                                                                         depth=np.arange(1, 10, dtype=np.float32).reshape(3, 3)))
    np.testing.assert_array_equal(diagonal.depth, [[1, 1, 2], [1, 1, 2], [4, 4, 5]])


def test_gt_shift_lowers_boundary_scores_with_k(depth_sample):
    gt = depth_sample.depth
    f1 = [ref_boundary_f1(load_model("probe:gt-shift", k=k).predict(depth_sample).depth, gt)
          for k in (0, 1, 2)]
    assert f1[0] == pytest.approx(1.0)
    # a one-pixel shift keeps only the horizontal contours (bottom/top pairs) of the boxes
    assert 0.0 < f1[1] < 0.75 and f1[2] <= f1[1]


def test_resample_and_shift_bad_options():
    with pytest.raises(ValueError, match="size must be a positive number of pixels"):
        load_model("probe:gt-resample", size=0)
    with pytest.raises(ValueError, match="size must be"):
        load_model("probe:gt-resample", size=2.5)
    with pytest.raises(ValueError, match="filter must be one of nearest, bilinear"):
        load_model("probe:gt-resample", filter="lanczos")
    with pytest.raises(ValueError, match="k must be a whole number"):
        load_model("probe:gt-shift", k=-1)
    with pytest.raises(ValueError, match="axis must be one of x, y, xy"):
        load_model("probe:gt-shift", axis="z")


def test_resample_and_shift_on_mask_and_focal_only_samples(mask_sample):
    step = np.where(mask_sample.mask > 0.1, MASK_NEAR_DEPTH, MASK_FAR_DEPTH).astype(np.float32)
    shifted = load_model("probe:gt-shift", k=2, axis="y").predict(mask_sample)
    assert shifted.meta["probe_depth_source"] == "mask"
    np.testing.assert_array_equal(shifted.depth[2:], step[:-2])
    np.testing.assert_array_equal(shifted.depth[:2], np.repeat(step[:1], 2, axis=0))
    same = load_model("probe:gt-resample", size=64, filter="nearest").predict(
        Sample("m", image(64, 64), mask=np.pad(np.ones((32, 32), np.float32), 16)))
    np.testing.assert_array_equal(same.depth, np.pad(np.full((32, 32), MASK_NEAR_DEPTH, np.float32), 16,
                                                     constant_values=MASK_FAR_DEPTH))  # grid = image: exact
    focal_only = Sample("IMG_1.jpg", image(30, 40), focal_px=33.0)
    for name in ("probe:gt-resample", "probe:gt-shift"):
        pred = load_model(name).predict(focal_only)
        assert pred.focal_px == 33.0 and pred.meta["probe_depth_source"] == "none"
        np.testing.assert_array_equal(pred.depth, np.full((30, 40), NO_GT_DEPTH, np.float32))
