"""Depth metrics: hand-computed values, properties, masks and caps, bad values, pooling, catalogue."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dpbench.metrics.depth import (
    DEPTH_METRIC_KEYS,
    PRED_CEIL,
    PRED_FLOOR,
    STAT_KEYS,
    depth_metric_stats,
    depth_metrics,
    metrics_from_stats,
    sum_stats,
)


def slow_depth_metrics(pred, gt):
    """Independent per-pixel loop over (p, g) pairs, straight from the definitions."""
    n = len(pred)
    d1 = d2 = d3 = 0
    abs_rel = sq_rel = sq_err = log_sum = log_sq = log10_abs = 0.0
    for p, g in zip(pred, gt, strict=True):
        p, g = float(p), float(g)
        worst = max(p / g, g / p)
        d1 += worst < 1.25
        d2 += worst < 1.25**2
        d3 += worst < 1.25**3
        abs_rel += abs(p - g) / g
        sq_rel += (p - g) ** 2 / g
        sq_err += (p - g) ** 2
        d = math.log(p) - math.log(g)
        log_sum += d
        log_sq += d * d
        log10_abs += abs(math.log10(p) - math.log10(g))
    return {
        "delta1": d1 / n, "delta2": d2 / n, "delta3": d3 / n,
        "abs_rel": abs_rel / n, "sq_rel": sq_rel / n, "rmse": math.sqrt(sq_err / n),
        "rmse_log": math.sqrt(log_sq / n), "log10": log10_abs / n,
        "silog": 100 * math.sqrt(max(log_sq / n - (log_sum / n) ** 2, 0.0)),
    }


class TestHandComputed:
    # pixels (p, g): (3, 1) (1, 1) (3, 4) (5, 4); worst ratios 3, 1, 4/3, 5/4 (exactly 1.25)
    pred = np.array([[3.0, 1.0], [3.0, 5.0]])
    gt = np.array([[1.0, 1.0], [4.0, 4.0]])

    def test_every_key(self):
        m = depth_metrics(self.pred, self.gt)
        assert m["n_valid"] == 4
        assert m["delta1"] == 0.25  # 5/4 = 1.25 is not < 1.25
        assert m["delta2"] == 0.75
        assert m["delta3"] == 0.75  # 3 > 1.25³ = 1.953
        assert m["abs_rel"] == pytest.approx((2 + 0 + 0.25 + 0.25) / 4, rel=1e-15)
        assert m["sq_rel"] == pytest.approx((4 + 0 + 0.25 + 0.25) / 4, rel=1e-15)
        assert m["rmse"] == pytest.approx(math.sqrt((4 + 0 + 1 + 1) / 4), rel=1e-15)
        d = [math.log(3), 0.0, math.log(3 / 4), math.log(5 / 4)]
        mean_sq = sum(x * x for x in d) / 4
        assert m["rmse_log"] == pytest.approx(math.sqrt(mean_sq), rel=1e-14)
        assert m["silog"] == pytest.approx(100 * math.sqrt(mean_sq - (sum(d) / 4) ** 2), rel=1e-14)
        assert m["log10"] == pytest.approx(sum(abs(x) for x in d) / math.log(10) / 4, rel=1e-14)
        assert set(m) == set(DEPTH_METRIC_KEYS) | {"n_valid"}

    def test_single_pixel_values(self):
        m = depth_metrics(np.array([[2.0]]), np.array([[1.0]]))
        assert (m["delta1"], m["delta2"], m["delta3"]) == (0.0, 0.0, 0.0)  # 2 > 1.953
        assert (m["abs_rel"], m["sq_rel"], m["rmse"]) == (1.0, 1.0, 1.0)
        assert m["rmse_log"] == pytest.approx(math.log(2))
        assert m["log10"] == pytest.approx(math.log10(2))
        assert m["silog"] == 0.0  # a constant log error has no variance

    def test_equals_independent_loop(self, rng):
        gt = rng.uniform(0.5, 20, (17, 23))
        pred = gt * np.exp(0.3 * rng.standard_normal(gt.shape))
        m = depth_metrics(pred, gt)
        expected = slow_depth_metrics(pred.ravel(), gt.ravel())
        for key in DEPTH_METRIC_KEYS:
            assert m[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-15), key


class TestProperties:
    def test_perfect_prediction(self, rng):
        gt = rng.uniform(1, 10, (8, 9))
        m = depth_metrics(gt.copy(), gt)
        assert m["delta1"] == m["delta2"] == m["delta3"] == 1.0
        for key in ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog"):
            assert m[key] == 0.0, key

    def test_ten_percent_too_far(self, rng):
        gt = rng.uniform(1, 10, (8, 9))
        m = depth_metrics(1.1 * gt, gt)
        assert m["delta1"] == 1.0
        assert m["abs_rel"] == pytest.approx(0.1, rel=1e-12)
        assert m["rmse_log"] == pytest.approx(math.log(1.1), rel=1e-12)
        assert m["silog"] == pytest.approx(0.0, abs=1e-5)

    def test_silog_is_scale_invariant(self, rng):
        gt = rng.uniform(1, 10, (12, 12))
        pred = gt * np.exp(0.2 * rng.standard_normal(gt.shape))
        base = depth_metrics(pred, gt)["silog"]
        assert base > 1
        for scale in (0.01, 0.5, 3.0, 1000.0):
            assert depth_metrics(scale * pred, gt)["silog"] == pytest.approx(base, rel=1e-9)
        assert depth_metrics(2 * pred, gt)["abs_rel"] != pytest.approx(depth_metrics(pred, gt)["abs_rel"])

    def test_float32_and_int_inputs(self, rng):
        gt = rng.uniform(1, 10, (6, 7))
        pred = gt * 1.3
        m64 = depth_metrics(pred, gt)
        m32 = depth_metrics(pred.astype(np.float32), gt.astype(np.float32))
        for key in DEPTH_METRIC_KEYS:
            assert m32[key] == pytest.approx(m64[key], rel=1e-5, abs=1e-4)  # silog: 100·sqrt(round-off)
        ints = depth_metrics(np.array([[2, 4]]), np.array([[2, 5]]))
        assert ints["abs_rel"] == pytest.approx(0.1)

    def test_torch_tensors(self, rng):
        torch = pytest.importorskip("torch")
        gt = rng.uniform(1, 10, (5, 5))
        pred = gt * 1.2
        assert depth_metrics(torch.from_numpy(pred), torch.from_numpy(gt)) == depth_metrics(pred, gt)


class TestMasksAndCaps:
    gt = np.array([[0.5, 1.0, 2.0, 10.0, 80.0]])
    pred = np.array([[0.5, 2.0, 2.0, 10.0, 1.0]])

    def test_valid_mask(self):
        valid = np.array([[True, False, True, True, False]])
        m = depth_metrics(self.pred, self.gt, valid=valid)
        assert m["n_valid"] == 3 and m["delta1"] == 1.0 and m["abs_rel"] == 0.0

    def test_depth_caps_are_inclusive(self):
        m = depth_metrics(self.pred, self.gt, min_depth=1.0, max_depth=10.0)
        assert m["n_valid"] == 3  # 1.0, 2.0 and 10.0 are kept
        assert m["abs_rel"] == pytest.approx(1.0 / 3)
        m = depth_metrics(self.pred, self.gt, max_depth=10.0)
        assert m["n_valid"] == 4 and m["abs_rel"] == pytest.approx(0.25)
        m = depth_metrics(self.pred, self.gt, min_depth=2.0)
        assert m["n_valid"] == 3

    def test_invalid_gt_values_are_dropped(self):
        gt = np.array([[np.nan, np.inf, -np.inf, 0.0, -3.0, 2.0]])
        pred = np.full(gt.shape, 2.0)
        m = depth_metrics(pred, gt)
        assert m["n_valid"] == 1 and m["delta1"] == 1.0

    def test_prediction_is_not_clipped_to_the_range(self):
        m = depth_metrics(np.array([[100.0]]), np.array([[10.0]]), max_depth=10.0)
        assert m["abs_rel"] == pytest.approx(9.0)

    def test_caps_reversed(self):
        with pytest.raises(ValueError, match="min_depth"):
            depth_metrics(self.pred, self.gt, min_depth=5, max_depth=1)


class TestBadPredictions:
    @pytest.mark.parametrize("bad", [np.nan, -np.inf, 0.0, -2.0])
    def test_low_or_nan_prediction_counts_as_failure(self, bad):
        gt = np.array([[1.0, 1.0]])
        pred = np.array([[bad, 1.0]])
        m = depth_metrics(pred, gt)
        assert m["n_valid"] == 2
        assert m["delta1"] == 0.5 and m["delta3"] == 0.5
        assert m["abs_rel"] == pytest.approx((1 - PRED_FLOOR) / 2)
        assert m["log10"] == pytest.approx(-math.log10(PRED_FLOOR) / 2)
        assert all(math.isfinite(m[k]) for k in DEPTH_METRIC_KEYS)
        assert depth_metric_stats(pred, gt)["count_pred_replaced"] == 1.0

    def test_infinite_prediction_counts_as_failure(self):
        m = depth_metrics(np.array([[np.inf, 1.0]]), np.array([[1.0, 1.0]]))
        assert m["delta1"] == 0.5
        assert m["abs_rel"] == pytest.approx((PRED_CEIL - 1) / 2)
        assert math.isfinite(m["rmse"])

    def test_bad_prediction_outside_valid_is_ignored(self):
        m = depth_metrics(np.array([[np.nan, 1.0]]), np.array([[0.0, 1.0]]))
        assert m["n_valid"] == 1 and m["delta1"] == 1.0

    def test_all_invalid_gives_nan_and_a_warning(self):
        with pytest.warns(RuntimeWarning, match="no valid pixel"):
            m = depth_metrics(np.ones((3, 3)), np.zeros((3, 3)))
        assert m["n_valid"] == 0
        assert all(math.isnan(m[k]) for k in DEPTH_METRIC_KEYS)
        with pytest.warns(RuntimeWarning):
            m = depth_metrics(np.ones((2, 2)), np.ones((2, 2)), valid=np.zeros((2, 2), dtype=bool))
        assert math.isnan(m["delta1"])

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="shape"):
            depth_metrics(np.ones((2, 3)), np.ones((3, 2)))
        with pytest.raises(ValueError, match="valid"):
            depth_metrics(np.ones((2, 2)), np.ones((2, 2)), valid=np.ones((2, 2)))
        with pytest.raises(ValueError, match="valid"):
            depth_metrics(np.ones((2, 2)), np.ones((2, 2)), valid=np.ones((2, 3), dtype=bool))
        with pytest.raises(ValueError, match="real-valued"):
            depth_metrics(np.ones((2, 2), dtype=complex), np.ones((2, 2)))


class TestPooling:
    def test_depth_metrics_is_metrics_from_stats(self, rng):
        gt = rng.uniform(1, 10, (9, 11))
        pred = gt * rng.uniform(0.7, 1.4, gt.shape)
        assert depth_metrics(pred, gt) == metrics_from_stats(depth_metric_stats(pred, gt))

    def test_pooled_stats_equal_metrics_of_the_concatenation(self, rng):
        images = []
        for shape in [(5, 7), (12, 3), (8, 8)]:
            gt = rng.uniform(0.5, 30, shape)
            gt[rng.random(shape) < 0.2] = 0.0  # holes
            pred = gt * np.exp(0.4 * rng.standard_normal(shape)) + 0.01
            images.append((pred, gt))
        stats = [depth_metric_stats(p, g, min_depth=0.6, max_depth=25) for p, g in images]
        pooled = metrics_from_stats(sum_stats(stats))
        all_pred = np.concatenate([p.ravel() for p, _ in images])
        all_gt = np.concatenate([g.ravel() for _, g in images])
        direct = depth_metrics(all_pred, all_gt, min_depth=0.6, max_depth=25)
        assert pooled["n_valid"] == direct["n_valid"]
        for key in DEPTH_METRIC_KEYS:
            assert pooled[key] == pytest.approx(direct[key], rel=1e-12), key
        # and the per-image mean is a different aggregation
        per_image = np.mean([depth_metrics(p, g, min_depth=0.6, max_depth=25)["abs_rel"] for p, g in images])
        assert per_image != pytest.approx(pooled["abs_rel"], rel=1e-6)

    def test_stats_are_plain_floats_with_stable_keys(self, rng):
        stats = depth_metric_stats(rng.uniform(1, 2, (3, 3)), rng.uniform(1, 2, (3, 3)))
        assert tuple(stats) == STAT_KEYS
        assert all(type(v) is float for v in stats.values())

    def test_missing_stat_key(self):
        with pytest.raises(ValueError, match="missing"):
            metrics_from_stats({"count": 3.0})
        with pytest.raises(ValueError, match="missing"):
            sum_stats([{"count": 1.0}])

    def test_empty_pool_warns(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            total = sum_stats([])
        with pytest.warns(RuntimeWarning):
            assert math.isnan(metrics_from_stats(total)["abs_rel"])
