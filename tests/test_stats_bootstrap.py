"""Bootstrap core: resample counts, analytic intervals, the identity resample, the vectorised paths
against a slow per-resample re-aggregation, seeded determinism and pairing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_runs import depth_pair, depth_row

from dpbench.stats.bootstrap import (
    BootstrapOptions,
    StatsError,
    _recomputed,
    bootstrap_dataset,
    bootstrap_runs,
    percentile_interval,
    resample_counts,
    task_distributions,
)
from dpbench.tasks import get_task
from dpbench.tasks.additive import weighted_median


def _rows(task, values, column, ids=None):
    ids = ids if ids is not None else [f"s{i}" for i in range(len(values))]
    return pd.DataFrame({"dataset": "d", "task": task, "status": "ok", "sample_id": ids, column: values})


def _depth_rows(n=6, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    rows = [depth_row("d", f"s{i}", *depth_pair(rng, scale=scale, noise=0.3)) for i in range(n)]
    return pd.DataFrame(rows)


def test_resample_counts_draw_n_images_per_resample_and_are_seeded():
    counts = resample_counts(7, 50, np.random.default_rng(3))
    assert counts.shape == (50, 7)
    assert np.all(counts.sum(axis=1) == 7) and np.all(counts >= 0)
    assert np.array_equal(counts, resample_counts(7, 50, np.random.default_rng(3)))
    assert not np.array_equal(counts, resample_counts(7, 50, np.random.default_rng(4)))
    # every image is drawn with probability 1/n per draw: the mean count is 1
    many = resample_counts(5, 4000, np.random.default_rng(0))
    assert np.allclose(many.mean(axis=0), 1.0, atol=0.06)


def test_percentile_interval_converges_to_the_normal_interval_of_the_mean():
    rng = np.random.default_rng(11)
    n = 400
    values = rng.normal(10.0, 2.0, n)
    rows = _rows("pointcloud", values, "pc_cd")
    runs = {"a": {"pointcloud": rows}}
    options = BootstrapOptions(0.95, 4000, seed=5)
    samples = bootstrap_dataset("d", runs, {"a": "per_image"}, options)["a"]["pc_cd"]
    low, high = percentile_interval(samples, 0.95)
    half = 1.959964 * values.std(ddof=1) / np.sqrt(n)
    mean = values.mean()
    assert low == pytest.approx(mean - half, abs=0.08 * half)
    assert high == pytest.approx(mean + half, abs=0.08 * half)


@pytest.mark.parametrize("aggregation", ["per_image", "pooled"])
def test_identity_resample_equals_the_depth_tasks_aggregate(aggregation):
    rows = _depth_rows()
    task = get_task("metric_depth")
    got = task.bootstrap_metrics(rows, aggregation, np.ones((1, len(rows))))
    expected = task.aggregate(rows, aggregation)
    for metric, value in expected.items():
        assert got[metric][0] == pytest.approx(value, rel=1e-12), metric


def test_identity_resample_equals_the_focal_and_ibims_and_default_aggregates():
    focal = pd.DataFrame({"sample_id": ["a", "b", "c", "d", "e"], "task": "focal", "status": "ok",
                          "focal_pred": [110.0, 300.0, 95.0, 500.0, 130.0],
                          "focal_gt": [100.0, 200.0, 100.0, 400.0, 100.0]})
    ibims = pd.DataFrame({"sample_id": ["a", "b", "c"], "task": "ibims", "status": "ok",
                          "dde_0": [0.5, 0.7, np.nan], "dde_minus": [0.1, 0.2, 0.3], "dde_plus": [0.4, 0.1, 0.3],
                          "dbe_acc": [2.0, 3.0, 4.0], "dbe_comp": [5.0, 6.0, 7.0],
                          "pe_plane": [0.1, 0.2, 0.3], "pe_orientation": [3.0, 4.0, 5.0],
                          "pe_count": [2.0, 1.0, 0.0], "pe_plane_sum": [0.2, 0.2, 0.0],
                          "pe_orientation_sum": [6.0, 4.0, 0.0]})
    cloud = pd.DataFrame({"sample_id": ["a", "b"], "task": "pointcloud", "status": "ok",
                          "pc_cd": [0.5, 1.5], "pc_f": [0.2, np.nan], "pc_iou": [0.1, 0.3]})
    for name, rows in (("focal", focal), ("ibims", ibims), ("pointcloud", cloud)):
        task = get_task(name)
        got = task.bootstrap_metrics(rows, "per_image", np.ones((1, len(rows))))
        for metric, value in task.aggregate(rows, "per_image").items():
            assert got[metric][0] == pytest.approx(value, rel=1e-12), (name, metric)


@pytest.mark.parametrize("name, aggregation", [("metric_depth", "pooled"), ("metric_depth", "per_image"),
                                               ("focal", "per_image")])
def test_vectorised_resamples_equal_reaggregating_each_resample(name, aggregation):
    if name == "focal":
        rng = np.random.default_rng(2)
        gt = rng.uniform(500, 1500, 9)
        pred = gt * rng.uniform(0.6, 1.6, 9)
        pred[4] = np.nan  # a failed prediction: relative error inf, AbsRel undefined when drawn
        rows = pd.DataFrame({"sample_id": [f"s{i}" for i in range(9)], "task": "focal", "status": "ok",
                             "focal_pred": pred, "focal_gt": gt})
    else:
        rows = _depth_rows(n=8, seed=4)
    weights = resample_counts(len(rows), 30, np.random.default_rng(9))
    fast = get_task(name).bootstrap_metrics(rows, aggregation, weights)
    slow = _recomputed(name, rows, aggregation, weights)
    for metric in get_task(name).metrics:
        a, b = np.asarray(fast[metric], dtype=float), slow[metric]
        a = np.where(np.isfinite(a), a, np.nan)  # aggregate() reports an undefined metric as None
        assert np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True), metric


def test_ibims_and_default_tasks_resamples_equal_reaggregating_each_resample():
    rng = np.random.default_rng(6)
    n = 7
    ibims = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "task": "ibims", "status": "ok",
                          **{m: rng.uniform(0, 1, n) for m in ("dde_0", "dde_minus", "dde_plus", "dbe_acc",
                                                              "dbe_comp", "pe_plane", "pe_orientation")},
                          "pe_count": rng.integers(0, 3, n).astype(float)})
    ibims["pe_plane_sum"] = ibims["pe_count"] * rng.uniform(0, 0.2, n)
    ibims["pe_orientation_sum"] = ibims["pe_count"] * rng.uniform(0, 9, n)
    ibims.loc[2, "dbe_acc"] = np.nan  # left out of its mean
    cloud = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "task": "pointcloud", "status": "ok",
                          "pc_cd": rng.uniform(0, 2, n), "pc_f": rng.uniform(0, 1, n), "pc_iou": rng.uniform(0, 1, n)})
    weights = resample_counts(n, 25, np.random.default_rng(2))
    for name, rows in (("ibims", ibims), ("pointcloud", cloud)):
        fast = task_distributions(name, rows, "per_image", np.arange(n), weights)
        slow = _recomputed(name, rows, "per_image", weights)
        for metric in get_task(name).metrics:
            assert np.allclose(fast[metric], slow[metric], rtol=1e-12, atol=0, equal_nan=True), (name, metric)


def test_weighted_median_matches_numpy_median_of_the_repeated_values():
    rng = np.random.default_rng(1)
    values = np.append(rng.normal(size=11), np.inf)
    weights = resample_counts(12, 200, rng)
    weights[0] = 0  # an empty resample
    got = weighted_median(values, weights)
    assert np.isnan(got[0])
    for b in range(1, 200):
        assert got[b] == np.median(np.repeat(values, weights[b].astype(int))), b


def test_bootstrap_is_deterministic_for_a_seed_and_changes_with_it():
    rows = {"a": {"d": {"metric_depth": _depth_rows()}}}
    agg = {"a": "per_image"}
    one = bootstrap_runs(rows, agg, BootstrapOptions(0.9, 200, seed=1))["a"]["d"]["delta1"]
    two = bootstrap_runs(rows, agg, BootstrapOptions(0.9, 200, seed=1))["a"]["d"]["delta1"]
    other = bootstrap_runs(rows, agg, BootstrapOptions(0.9, 200, seed=2))["a"]["d"]["delta1"]
    assert np.array_equal(one, two)
    assert not np.array_equal(one, other)


def test_runs_are_paired_a_known_shift_has_a_degenerate_interval():
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 3.0, 60)  # images vary a lot ...
    ids = [f"s{i}" for i in range(60)]
    a = _rows("pointcloud", values, "pc_cd", ids)
    b = _rows("pointcloud", values + 0.1, "pc_cd", ids)  # ... B is A + 0.1 on every image
    b = b.iloc[::-1]  # row order does not matter, the sample ids pair them
    out = bootstrap_dataset("d", {"a": {"pointcloud": a}, "b": {"pointcloud": b}}, {"a": "per_image", "b": "per_image"},
                            BootstrapOptions(0.95, 500, seed=0))
    diff = out["b"]["pc_cd"] - out["a"]["pc_cd"]
    assert np.allclose(diff, 0.1)
    # unpaired, the same shift would be lost in the noise: the runs' own intervals overlap widely
    low_a, high_a = percentile_interval(out["a"]["pc_cd"], 0.95)
    assert high_a - low_a > 1.0


def test_a_missing_sample_contributes_nothing_and_an_empty_resample_is_nan():
    a = _rows("pointcloud", [1.0, 3.0], "pc_cd", ["s0", "s1"])
    b = _rows("pointcloud", [2.0], "pc_cd", ["s1"])  # s0 failed in run b
    counts = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    positions = np.array([1])
    got = task_distributions("pointcloud", b, "per_image", positions, counts)["pc_cd"]
    assert np.isnan(got[0]) and got[1] == 2.0 and got[2] == 2.0
    assert task_distributions("pointcloud", a, "per_image", np.array([0, 1]), counts)["pc_cd"].tolist() == [1.0, 3.0, 2.0]


@pytest.mark.parametrize("percent", [0, 100, -5, float("nan")])
def test_bad_levels_are_refused_with_a_message(percent):
    with pytest.raises(StatsError, match="--ci"):
        BootstrapOptions.from_percent(percent)


def test_bad_resample_count_is_refused():
    with pytest.raises(StatsError, match="--bootstrap"):
        BootstrapOptions(0.95, 0)
