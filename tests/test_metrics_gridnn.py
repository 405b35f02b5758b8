"""Depth-map nearest neighbours (dpbench.metrics.gridnn) against a KD-tree on the same clouds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from dpbench.metrics import gridnn
from dpbench.metrics.gridnn import DepthCloudIndex, depth_cloud_nearest


def kdtree_nearest(query, target, mask, fx, fy, cx, cy):
    """Independent reference: back-project with plain numpy and ask scipy's exact KD-tree."""
    v, u = np.nonzero(mask)
    rx, ry = (u - cx) / fx, (v - cy) / fy
    q = np.stack([rx * query[v, u], ry * query[v, u], query[v, u]], 1)
    t = np.stack([rx * target[v, u], ry * target[v, u], target[v, u]], 1)
    out = np.full(mask.shape, np.nan)
    out[v, u] = cKDTree(t).query(q, k=1)[0]
    return out


def smooth_scene(h, w, seed, error=0.05, noise=0.0):
    """A room (floor, wall, box with a depth step) and a prediction with smooth error and noise."""
    rng = np.random.default_rng(seed)
    f = 0.8 * w
    v, u = np.mgrid[0:h, 0:w].astype(float)
    x, y = (u - w / 2) / f, (v - h / 2) / f
    with np.errstate(divide="ignore"):
        gt = np.minimum(6.0, np.where(y > 0, 1.5 / np.maximum(y, 1e-12), np.inf))
        gt = np.minimum(gt, np.where(x > 0, 2.5 / np.maximum(x, 1e-12), np.inf))
    gt[int(0.35 * h): int(0.6 * h), int(0.3 * w): int(0.5 * w)] = 3.0
    pred = gt * (1 + error * np.sin(6 * u / w) * np.cos(5 * v / h)) + rng.normal(0, noise, (h, w))
    return pred, gt, (f, f, w / 2, h / 2)


def check_both_directions(pred, gt, mask, intr, **kw):
    for q, t in ((pred, gt), (gt, pred)):
        got = depth_cloud_nearest(q, t, mask, *intr, **kw)
        want = kdtree_nearest(q, t, mask, *intr)
        assert np.array_equal(np.isnan(got), ~mask)
        np.testing.assert_allclose(got[mask], want[mask], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_random_depth_maps_equal_kdtree(seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(5, 70)), int(rng.integers(5, 90))
    gt = rng.uniform(0.5, 8.0, (h, w))
    pred = gt * (1 + 0.3 * rng.standard_normal((h, w)))
    pred = np.abs(pred) + 1e-3
    mask = rng.random((h, w)) < 0.8
    intr = (rng.uniform(5, 100), rng.uniform(5, 100), rng.uniform(-10, w + 10), rng.uniform(-10, h + 10))
    check_both_directions(pred, gt, mask, intr)


@pytest.mark.parametrize("noise", [0.0, 0.02])
@pytest.mark.parametrize("shape", [(64, 96), (77, 131)])
def test_smooth_scenes_with_steps_equal_kdtree(shape, noise):
    pred, gt, intr = smooth_scene(*shape, seed=1, noise=noise)
    mask = np.ones(shape, bool)
    mask[5:9, 40:70] = False  # a hole crossing tile borders
    check_both_directions(pred, gt, mask, intr)


@pytest.mark.parametrize("leaf", [1, 2, 4, 16])
def test_every_leaf_size_is_exact(leaf):
    pred, gt, (fx, fy, cx, cy) = smooth_scene(37, 53, seed=2, error=0.2, noise=0.05)
    mask = np.random.default_rng(3).random(gt.shape) < 0.7
    xr = (np.arange(gt.shape[1]) - cx) / fx
    yr = (np.arange(gt.shape[0]) - cy) / fy
    got = DepthCloudIndex(gt, mask, xr, yr, leaf=leaf).nearest(pred)
    want = kdtree_nearest(pred, gt, mask, fx, fy, cx, cy)
    np.testing.assert_allclose(got[mask], want[mask], rtol=1e-12, atol=1e-12)


def test_extreme_depths_and_sparse_masks():
    rng = np.random.default_rng(5)
    h, w = 40, 41
    gt = rng.uniform(0.2, 80.0, (h, w))
    pred = gt.copy()
    pred[rng.random((h, w)) < 0.05] = 1e-6  # the metric's floor for bad predictions
    pred[rng.random((h, w)) < 0.05] = 1e6  # and its ceiling
    intr = (20.0, 20.0, 20.0, 20.0)
    for mask in (rng.random((h, w)) < 0.02, np.eye(h, w, dtype=bool), np.zeros((h, w), bool)):
        mask[17, 3] = True
        check_both_directions(pred, gt, mask, intr)


def test_masked_distances_follow_row_major_order():
    # nearest_masked() is array[mask] of the KD-tree map, row by row, also with empty rows.
    pred, gt, (fx, fy, cx, cy) = smooth_scene(37, 53, seed=6, noise=0.02)
    mask = np.random.default_rng(2).random(gt.shape) < 0.6
    mask[5] = False
    mask[:, :7] = False
    xr = (np.arange(gt.shape[1]) - cx) / fx
    yr = (np.arange(gt.shape[0]) - cy) / fy
    got = DepthCloudIndex(gt, mask, xr, yr).nearest_masked(pred)
    want = kdtree_nearest(pred, gt, mask, fx, fy, cx, cy)[mask]
    assert got.shape == (np.count_nonzero(mask),)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_identical_clouds_give_zero():
    _, gt, intr = smooth_scene(30, 40, seed=0)
    got = depth_cloud_nearest(gt, gt, np.ones(gt.shape, bool), *intr)
    assert np.all(got == 0.0)


def test_bounds_hold_for_every_node():
    # Every stored oriented box contains the points of its node, at every level, in an
    # orthonormal frame, and is the tightest such box where the extents come from the points.
    pred, gt, (fx, fy, cx, cy) = smooth_scene(45, 70, seed=4, noise=0.03)
    mask = np.random.default_rng(1).random(gt.shape) < 0.9
    xr = (np.arange(gt.shape[1]) - cx) / fx
    yr = (np.arange(gt.shape[0]) - cy) / fy
    index = DepthCloudIndex(pred, mask, xr, yr, leaf=4)
    for lv, (off, ny, nx) in enumerate(zip(index.offs, index.nys, index.nxs, strict=True)):
        size = 4 << lv
        for j in range(ny):
            for i in range(nx):
                node = index.nodes[off + j * nx + i]
                sub = np.zeros_like(mask)
                sub[j * size:(j + 1) * size, i * size:(i + 1) * size] = True
                v, u = np.nonzero(mask & sub)
                assert node[gridnn._CNT] == len(v)
                if not len(v):
                    continue
                d = pred[v, u]
                pts = np.stack([xr[u] * d, yr[v] * d, d], 1)
                np.testing.assert_allclose(node[gridnn._CX:gridnn._CX + 3], pts.mean(0), rtol=1e-9)
                axes = node[gridnn._NX:gridnn._NX + 9].reshape(3, 3)
                np.testing.assert_allclose(axes @ axes.T, np.eye(3), atol=1e-12)
                extents = node[gridnn._EN:gridnn._EN + 3]
                local = np.abs((pts - node[gridnn._CX:gridnn._CX + 3]) @ axes.T)
                assert np.all(local <= extents)
                if lv <= gridnn.EXACT_LEVELS:  # leaves and the lowest levels: the points' own extents
                    np.testing.assert_allclose(extents, local.max(0), rtol=1e-9, atol=1e-10)


def test_eigenvectors_closed_form():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.standard_normal((3, 3))
        s = a @ a.T
        args = (s[0, 0], s[0, 1], s[0, 2], s[1, 1], s[1, 2], s[2, 2])
        vals, vecs = np.linalg.eigh(s)
        small = np.array(gridnn._eigvec(*args, False))
        large = np.array(gridnn._eigvec(*args, True))
        assert abs(abs(small @ vecs[:, 0]) - 1) < 1e-6
        assert abs(abs(large @ vecs[:, 2]) - 1) < 1e-6
        frame = np.array(gridnn._frame(*args)).reshape(3, 3)
        np.testing.assert_allclose(frame @ frame.T, np.eye(3), atol=1e-12)
    # Degenerate inputs still give an orthonormal frame (any frame keeps the bounds valid).
    for s in ((0, 0, 0, 0, 0, 0), (1, 0, 0, 1, 0, 1), (2, 1, 1, 2, 1, 2), (1, 1, 0, 1, 0, 0)):
        frame = np.array(gridnn._frame(*map(float, s))).reshape(3, 3)
        np.testing.assert_allclose(frame @ frame.T, np.eye(3), atol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="leaf"):
        DepthCloudIndex(np.ones((4, 4)), np.ones((4, 4), bool), np.zeros(4), np.zeros(4), leaf=3)
    index = DepthCloudIndex(np.ones((4, 4)), np.ones((4, 4), bool), np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="query_depth"):
        index.nearest(np.ones((4, 5)))


@pytest.mark.parametrize("shape", [(1, 1), (1, 37), (29, 1), (2, 3)])
def test_thin_images(shape):
    rng = np.random.default_rng(7)
    gt = rng.uniform(1.0, 5.0, shape)
    pred = gt * rng.uniform(0.7, 1.3, shape)
    check_both_directions(pred, gt, np.ones(shape, bool), (3.0, 4.0, 0.2, -0.5))


def test_sparse_rows_and_far_outliers_in_packets():
    # Rows where the masked pixels of one packet are far apart, and a few far outliers, which
    # make one query of a packet need a much larger window than its neighbours.
    pred, gt, intr = smooth_scene(33, 120, seed=6, error=0.1)
    rng = np.random.default_rng(8)
    mask = np.ones(gt.shape, bool)
    mask[::3, :] = rng.random((11, 120)) < 0.1
    pred[rng.random(gt.shape) < 0.02] = 50.0
    check_both_directions(pred, gt, mask, intr)
