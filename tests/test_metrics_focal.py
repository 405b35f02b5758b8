"""Focal metrics and the focal / field-of-view conversions: known values and round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dpbench.metrics.focal import (
    focal_from_35mm,
    focal_from_mm,
    focal_metrics,
    focal_to_fov,
    fov_to_focal,
)


class TestFocalMetrics:
    def test_known_values(self):
        m = focal_metrics([110.0, 300.0, 50.0, 100.0], [100.0, 200.0, 100.0, 100.0])
        np.testing.assert_allclose(m["rel_errors"], [0.1, 0.5, 0.5, 0.0])
        assert m["n"] == 4
        assert m["abs_rel"] == pytest.approx(0.275)
        assert m["median_rel"] == pytest.approx(0.3)
        assert m["delta_25"] == 0.5  # 0.1 and 0.0
        assert m["delta_50"] == 0.5  # 0.5 is not < 0.5

    def test_strict_thresholds(self):
        m = focal_metrics([125.0, 124.0], [100.0, 100.0])  # errors exactly 0.25 and 0.24
        assert m["delta_25"] == 0.5
        assert m["delta_50"] == 1.0

    def test_perfect(self):
        m = focal_metrics(np.array([500.0, 1200.0]), np.array([500.0, 1200.0]))
        assert m["abs_rel"] == 0.0 and m["delta_25"] == 1.0 and m["median_rel"] == 0.0

    def test_failed_prediction_counts_as_failure(self):
        m = focal_metrics([np.nan, 100.0], [100.0, 100.0])
        assert m["rel_errors"][0] == np.inf
        assert m["delta_25"] == 0.5 and m["delta_50"] == 0.5
        assert m["abs_rel"] == np.inf
        assert m["median_rel"] == np.inf  # median of [0, inf]

    def test_scalars_and_torch(self):
        assert focal_metrics(90.0, 100.0)["abs_rel"] == pytest.approx(0.1)
        torch = pytest.importorskip("torch")
        m = focal_metrics(torch.tensor([110.0]), torch.tensor([100.0]))
        assert m["abs_rel"] == pytest.approx(0.1, rel=1e-6)

    def test_empty_gives_nan_and_warns(self):
        with pytest.warns(RuntimeWarning):
            m = focal_metrics([], [])
        assert m["n"] == 0 and math.isnan(m["abs_rel"])

    def test_bad_input(self):
        with pytest.raises(ValueError, match="3 values but gt_focal has 2"):
            focal_metrics([1.0, 2.0, 3.0], [1.0, 2.0])
        with pytest.raises(ValueError, match="index 1"):
            focal_metrics([1.0, 2.0], [1.0, 0.0])
        with pytest.raises(ValueError, match="gt_focal"):
            focal_metrics([1.0], [np.nan])
        with pytest.raises(ValueError, match="gt_focal"):
            focal_metrics([1.0], [-5.0])


class TestConversions:
    def test_fov_to_focal_known_values(self):
        assert fov_to_focal(90.0, 1000) == pytest.approx(500.0)
        assert fov_to_focal(60.0, 1000) == pytest.approx(500.0 * math.sqrt(3))
        assert fov_to_focal(120.0, 600) == pytest.approx(300.0 / math.sqrt(3))

    def test_focal_to_fov_known_values(self):
        assert focal_to_fov(500.0, 1000) == pytest.approx(90.0)
        assert focal_to_fov(500.0 * math.sqrt(3), 1000) == pytest.approx(60.0)

    def test_round_trips(self, rng):
        fov = rng.uniform(5, 170, 50)
        width = rng.integers(100, 8000, 50)
        np.testing.assert_allclose(focal_to_fov(fov_to_focal(fov, width), width), fov, rtol=1e-12)
        focal = rng.uniform(50, 20000, 50)
        np.testing.assert_allclose(fov_to_focal(focal_to_fov(focal, width), width), focal, rtol=1e-10)
        assert isinstance(fov_to_focal(45.0, 640), float)

    def test_35mm_rule(self):
        # a 3:2 image has the film's aspect ratio: the diagonal rule reduces to f35 · W / 36
        assert focal_from_35mm(50.0, 6000, 4000) == pytest.approx(50.0 * 6000 / 36)
        assert focal_from_35mm(50.0, 6000, 4000) == pytest.approx(focal_from_mm(50.0, 6000, 36.0))
        # 4:3 image, 3000×4000 (diagonal 5000): f = 28 · 5000 / sqrt(36² + 24²)
        assert focal_from_35mm(28.0, 3000, 4000) == pytest.approx(28 * 5000 / math.sqrt(1872))
        # orientation does not matter for the diagonal
        assert focal_from_35mm(28.0, 4000, 3000) == focal_from_35mm(28.0, 3000, 4000)

    def test_focal_from_mm(self):
        assert focal_from_mm(4.25, 4032, 5.6) == pytest.approx(4.25 * 4032 / 5.6)

    @pytest.mark.parametrize("call", [
        lambda: fov_to_focal(0.0, 100),
        lambda: fov_to_focal(180.0, 100),
        lambda: fov_to_focal(-10.0, 100),
        lambda: fov_to_focal(60.0, 0),
        lambda: focal_to_fov(0.0, 100),
        lambda: focal_to_fov(100.0, np.nan),
        lambda: focal_from_35mm(0.0, 100, 100),
        lambda: focal_from_35mm(50.0, 100, -1),
        lambda: focal_from_mm(50.0, 100, 0.0),
    ])
    def test_bad_input(self, call):
        with pytest.raises(ValueError):
            call()
