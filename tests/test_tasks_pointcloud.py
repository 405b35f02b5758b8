"""The pointcloud task: GT intrinsics, protocol options, hand-computed single-point clouds."""

from __future__ import annotations

import numpy as np
import pytest

from dpbench.errors import DpbenchError
from dpbench.protocol import ProtocolError, default_protocol
from dpbench.tasks import get_task
from dpbench.types import Prediction, Sample


def gt_intrinsics(sample):
    # imported after the registry's discovery, so the built-in task order stays canonical
    get_task("pointcloud")
    from dpbench.tasks.pointcloud import gt_intrinsics as impl

    return impl(sample)


def _sample(depth, focal=1.0, meta=None, valid=None):
    depth = np.asarray(depth, dtype=np.float32)
    image = np.zeros((*depth.shape, 3), dtype=np.uint8)
    return Sample(id="s0", image=image, depth=depth, valid=valid, focal_px=focal, meta=meta or {})


def _pred(depth, kind="metric_depth"):
    return Prediction(depth=np.asarray(depth, dtype=np.float32), output_kind=kind)


def _protocol(**kw):
    return default_protocol(depth_range="none", **kw).for_dataset((None, None))


class TestIntrinsics:
    def test_centre_of_a_pixel_centred_grid_when_meta_has_none(self):
        s = _sample(np.ones((3, 5)), focal=7.0)
        assert gt_intrinsics(s) == (7.0, 7.0, 2.0, 1.0, "image_centre")

    def test_3x3_k_from_meta(self):
        K = [[7.0, 0, 2.5], [0, 8.0, 1.25], [0, 0, 1]]
        assert gt_intrinsics(_sample(np.ones((3, 5)), 7.0, {"intrinsics": K})) == (7.0, 8.0, 2.5, 1.25, "meta")

    def test_four_values_from_meta(self):
        got = gt_intrinsics(_sample(np.ones((3, 5)), 7.0, {"intrinsics": [7.0, 6.0, 2.2, 0.9]}))
        assert got == (7.0, 6.0, 2.2, 0.9, "meta")

    def test_missing_focal_is_an_error_naming_the_reason(self):
        s = _sample(np.ones((3, 5)), focal=None)
        with pytest.raises(DpbenchError, match="no ground-truth focal length"):
            gt_intrinsics(s)
        with pytest.raises(DpbenchError, match="focal length for the pointcloud task"):
            get_task("pointcloud").check_sample(s)

    def test_meta_disagreeing_with_the_focal_is_refused(self):
        s = _sample(np.ones((3, 5)), 7.0, {"intrinsics": [14.0, 14.0, 2.0, 1.0]})
        with pytest.raises(DpbenchError, match="disagrees"):
            gt_intrinsics(s)

    def test_malformed_meta_is_refused(self):
        with pytest.raises(DpbenchError, match="intrinsics"):
            gt_intrinsics(_sample(np.ones((3, 5)), 7.0, {"intrinsics": [1.0, 2.0]}))


class TestScore:
    def _single_point(self):
        # one valid pixel, the image centre (1, 1): both points lie on the optical axis
        valid = np.zeros((3, 3), dtype=bool)
        valid[1, 1] = True
        return _sample(np.full((3, 3), 2.0), focal=1.0, valid=valid)

    def test_single_point_on_the_axis(self):
        row = get_task("pointcloud").score(self._single_point(), _pred(np.full((3, 3), 2.0625)),
                                           _protocol(pointcloud_align="none"))
        assert row["pc_cd"] == 2 * 0.0625**2  # a = b = 0.0625 m (exact in float32), squared
        assert row["pc_f"] == 1.0 and row["pc_iou"] == 1.0 and row["n_points"] == 1
        assert (row["pc_cx"], row["pc_cy"], row["pc_principal"]) == (1.0, 1.0, "image_centre")

    def test_options_reach_the_metric(self):
        task, sample, pred = get_task("pointcloud"), self._single_point(), _pred(np.full((3, 3), 2.0625))
        row = task.score(sample, pred, _protocol(pointcloud_align="none", pointcloud_cd_squared=False))
        assert row["pc_cd"] == 0.125
        row = task.score(sample, pred, _protocol(pointcloud_align="none", pointcloud_threshold=0.04))
        assert row["pc_f"] == 0.0 and row["pc_iou"] == 0.0  # degenerate rule: F = IoU = precision
        row = task.score(sample, pred, _protocol())  # median alignment (the default) removes the scale
        assert row["pc_cd"] == pytest.approx(0.0, abs=1e-12) and row["pc_f"] == 1.0

    def test_off_axis_point_uses_the_gt_intrinsics(self):
        # pixel (u, v) = (2, 1), cx = 1, fx = 1: G = (2, 0, 2), P = (2.25, 0, 2.25) → a = b = 0.25·√2
        valid = np.zeros((3, 3), dtype=bool)
        valid[1, 2] = True
        row = get_task("pointcloud").score(_sample(np.full((3, 3), 2.0), 1.0, valid=valid),
                                           _pred(np.full((3, 3), 2.25)), _protocol(pointcloud_align="none"))
        assert row["pc_cd"] == pytest.approx(2 * 0.125)
        assert row["pc_f"] == 0.0

    def test_relative_output_needs_alignment(self):
        with pytest.raises(DpbenchError, match="pointcloud_align"):
            get_task("pointcloud").score(self._single_point(), _pred(np.full((3, 3), 0.5), "relative_disparity"),
                                         _protocol(pointcloud_align="none"))

    def test_depth_range_is_strict(self):
        sample = _sample(np.array([[1.0, 2.0, 3.0]]), focal=1.0)
        protocol = default_protocol(depth_range=(1.0, 3.0)).for_dataset((None, None))
        row = get_task("pointcloud").score(sample, _pred(np.array([[1.0, 2.0, 3.0]])), protocol)
        assert row["n_points"] == 1


def test_protocol_options_are_validated():
    protocol = default_protocol()
    assert (protocol.pointcloud_cd_squared, protocol.pointcloud_align, protocol.pointcloud_threshold) == \
        (True, "median", 0.1)
    with pytest.raises(ProtocolError, match="pointcloud_align"):
        default_protocol(pointcloud_align="mean")
    with pytest.raises(ProtocolError, match="pointcloud_threshold"):
        default_protocol(pointcloud_threshold=0.0)
    with pytest.raises(ProtocolError, match="depth_bins"):
        default_protocol(depth_bins=[0, 2, 1])
    assert default_protocol(depth_bins=[0, 5]).depth_bin_edges == (0.0, 5.0, float("inf"))
    assert protocol.replace() == protocol  # survives the manifest round trip


def test_a_manifest_without_the_new_options_still_makes_a_protocol():
    from dpbench.protocol import Protocol

    old = default_protocol().as_options()
    for key in ("pointcloud_cd_squared", "pointcloud_align", "pointcloud_threshold", "depth_bins"):
        del old[key]
    assert Protocol.from_options(old) == default_protocol()  # e.g. `dpbench rescore` of an older run
