"""iBims annotations (.mat in the official layout, written with scipy.io.savemat) and the ibims task."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _fake_trees import make_ibims_tree
from scipy.io import savemat

from dpbench.datasets import open_dataset
from dpbench.errors import DpbenchError
from dpbench.protocol import default_protocol
from dpbench.suites import get_suite
from dpbench.tasks import get_task
from dpbench.types import Prediction, Sample

H, W = 480, 640


def _mat_data(shape, rng, *, drop=()):
    """The official ``data`` struct: rgb, depth, edges, calib (MATLAB IntrinsicMatrix), masks, planes."""
    h, w = shape
    wall = np.zeros(shape, np.uint8)
    wall[:, : w // 2] = 1
    wall[:, w // 2:] = 2
    floor = np.zeros(shape, np.uint8)
    data = {
        "rgb": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "depth": np.where(np.arange(w) < w // 2, 2.0, 4.0)[None, :].repeat(h, 0),
        "edges": (np.arange(w) == w // 2)[None, :].repeat(h, 0).astype(np.uint8),
        "calib": np.array([[550.0, 0, 0], [0, 548.0, 0], [320.5, 240.5, 1.0]]),
        "mask_invalid": np.ones(shape, np.uint8),
        "mask_transp": np.ones(shape, np.uint8),
        "mask_wall": wall,
        "mask_table": np.zeros(shape, np.uint8),
        "mask_floor": floor,
        # id, a point and the GT normal (columns 4-6) of each wall: fronto-parallel, normal = Y
        "mask_wall_paras": np.array([[1, 0, 2, 0, 0, 1, 0], [2, 0, 4, 0, 0, 1, 0]], dtype=np.float64),
        "mask_table_paras": np.zeros((0, 7)),
        "mask_floor_paras": np.zeros((0, 7)),
    }
    return {k: v for k, v in data.items() if k not in drop}


def _write_mat(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {"data": data})


def test_annotations_read_back_through_the_adapter(tmp_path, rng):
    make_ibims_tree(tmp_path, rng, size=(4, 5))
    written = {}
    for name in ("corridor_01", "office_03"):
        written[name] = _mat_data((4, 5), rng)
        _write_mat(tmp_path / "ibims1_core_mat" / f"{name}.mat", written[name])
    for sample in open_dataset("ibims", tmp_path):
        got, want = sample.meta["ibims_annotations"], written[sample.id]
        np.testing.assert_array_equal(got["edges"], want["edges"] != 0)
        assert got["edges"].dtype == bool
        np.testing.assert_array_equal(got["calib"], want["calib"])
        np.testing.assert_array_equal(got["mask_wall"], want["mask_wall"])
        np.testing.assert_array_equal(got["mask_wall_paras"], want["mask_wall_paras"])
        assert got["mask_table_paras"].shape == (0, 7)


def test_missing_field_fails_only_the_ibims_row_naming_file_and_field(tmp_path, rng):
    make_ibims_tree(tmp_path, rng, size=(4, 5))
    _write_mat(tmp_path / "ibims1_core_mat" / "office_03.mat", _mat_data((4, 5), rng, drop=("mask_floor",)))
    sample = open_dataset("ibims", tmp_path)[0]  # the sample still loads (depth/boundary tasks)
    assert sample.id == "office_03"
    pred = Prediction(depth=np.ones((4, 5), np.float32), output_kind="metric_depth")
    with pytest.raises(DpbenchError, match=r"office_03\.mat: field 'data\.mask_floor' is missing"):
        get_task("ibims").score(sample, pred, default_protocol().for_dataset((0.1, 10.0)))
    no_mat = open_dataset("ibims", tmp_path)[1]
    with pytest.raises(DpbenchError, match="no iBims edge/plane annotations"):
        get_task("ibims").score(no_mat, pred, default_protocol().for_dataset((0.1, 10.0)))


def test_task_on_two_fronto_parallel_walls(tmp_path, rng):
    _write_mat(tmp_path / "a.mat", _mat_data((H, W), rng))
    from dpbench.io.ibims import read_annotations

    notes = read_annotations(tmp_path / "a.mat", (H, W))
    gt = np.where(np.arange(W) < W // 2, 2.0, 4.0)[None, :].repeat(H, 0).astype(np.float32)
    sample = Sample(id="a", image=np.zeros((H, W, 3), np.uint8), depth=gt, meta={"ibims_annotations": notes})
    # pred = 1.6·GT: left wall 3.2 m (behind the 3 m plane, GT in front: ε⁺), right wall 6.4 m (correct)
    pred = Prediction(depth=1.6 * gt, output_kind="metric_depth")
    row = get_task("ibims").score(sample, pred, default_protocol().for_dataset((0.1, 10.0)))
    assert row["dde_0"] == pytest.approx(0.5) and row["dde_plus"] == pytest.approx(0.5) and row["dde_minus"] == 0
    # both walls fit exactly after the per-plane median scaling, normals along Y
    assert row["pe_count"] == 2
    assert row["pe_plane"] == pytest.approx(0.0, abs=1e-6) and row["pe_orientation"] == pytest.approx(0.0, abs=1e-3)
    # the step edge is found within a pixel of the annotated column
    assert row["dbe_acc"] <= 1.0 and row["dbe_comp"] <= 1.0 and row["dbe_variant"] == "v0.9"


def test_pe_pools_planes_over_images():
    import pandas as pd

    rows = pd.DataFrame({"pe_plane_sum": [0.2, 0.1], "pe_orientation_sum": [10.0, 2.0], "pe_count": [2, 1],
                         "pe_plane": [0.1, 0.1], "pe_orientation": [5.0, 2.0], "dde_0": [0.5, math.nan]})
    out = get_task("ibims").aggregate(rows, "per_image")
    assert out["pe_plane"] == pytest.approx(0.3 / 3) and out["pe_orientation"] == pytest.approx(4.0)
    assert out["dde_0"] == 0.5


def test_constants_and_suite():
    get_task("ibims")  # discovery first: the built-in task order stays canonical
    from dpbench.tasks.ibims import ibims_constants

    assert ibims_constants() == {"dde_plane_m": 3.0, "pe_min_pixels": 15360.0, "dbe_variant": "v0.9"}
    suite = get_suite("ibims")
    assert suite.dataset_names == ["ibims"] and list(suite.tasks) == ["ibims"]
