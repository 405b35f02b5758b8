"""Protocol options and per-sample scoring: focal choice, resampling, alignment, ranges, boundaries.

The scoring steps are called through the public pieces the runner uses: the focal choice
(:mod:`dpbench.runner.focal`), the prediction check + resampling (:func:`prepare_prediction`) and
the tasks' ``score`` with a protocol bound to the dataset's depth range."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpbench.errors import ModelError
from dpbench.protocol import Protocol, ProtocolError, default_protocol, parse_depth_range
from dpbench.runner.focal import exif_focal_px, focal_for_model
from dpbench.runner.scoring import prepare_prediction
from dpbench.tasks import get_task
from dpbench.types import Prediction, Sample


def to_gt_resolution(prediction, sample, resize, output_kind):
    return prepare_prediction(prediction, sample, output_kind, resize, to_gt=True).depth


def _score(task, pred_map, sample, protocol, output_kind, depth_range=(None, None)):
    prediction = Prediction(depth=pred_map, output_kind=output_kind)
    return get_task(task).score(sample, prediction, protocol.for_dataset(depth_range))


def score_metric_depth(pred_map, sample, protocol, output_kind, depth_range):
    return _score("metric_depth", pred_map, sample, protocol, output_kind, depth_range)


def score_boundary_depth(pred_map, sample, protocol, output_kind):
    return _score("boundary_depth", pred_map, sample, protocol, output_kind)


def score_boundary_mask(pred_map, sample, protocol, output_kind):
    return _score("boundary_mask", pred_map, sample, protocol, output_kind)


def score_focal(prediction, sample):
    return get_task("focal").score(sample, prediction, default_protocol())


def _sample(depth, focal=300.0, valid=None, mask=None, meta=None, sid="s/1"):
    h, w = depth.shape
    return Sample(id=sid, image=np.zeros((h, w, 3), np.uint8), depth=depth.astype(np.float32), valid=valid,
                  mask=mask, focal_px=focal, meta=meta or {})


def _box_depth(h=20, w=30, near=1.5, far=6.0):
    depth = np.full((h, w), far, np.float32)
    depth[5:14, 8:20] = near
    return depth


def test_defaults_and_record():
    protocol = default_protocol()
    assert protocol.focal_mode == "estimated" and protocol.aggregation == "per_image"
    record = protocol.record("relative_disparity")
    assert record["alignment_requested"] == "auto"
    assert record["alignment"] == "lstsq_scale_shift_disparity"
    assert record["boundary_depth_input"] == "inverted_disparity"
    assert record["boundary_thresholds"] == pytest.approx(list(np.linspace(1.05, 1.25, 10)), abs=0)
    assert protocol.record("metric_depth")["alignment"] == "none"
    assert protocol.alignment_for("relative_depth") == "lstsq_scale_shift"
    # a manifest record turns back into the same protocol (derived keys are ignored)
    assert Protocol.from_options(protocol.record("metric_depth")).alignment_for("relative_disparity") \
        == "lstsq_scale_shift_disparity"


@pytest.mark.parametrize("override, message", [
    ({"focal_mode": "guess"}, "focal_mode: unknown value 'guess'"),
    ({"resize": "bicubic"}, "resize: unknown value"),
    ({"alignment": "magic"}, "alignment: unknown value 'magic'"),
    ({"aggregation": "median"}, "aggregation"),
    ({"depth_range": "5:1"}, "need 0 <= min < max"),
    ({"depth_range": "far"}, "expected 'dataset', 'none' or 'MIN:MAX'"),
    ({"boundary_n": 0}, "n >= 1"),
    ({"alpha_threshold": 1.5}, "alpha_threshold"),
])
def test_bad_options(override, message):
    with pytest.raises(ProtocolError, match=message):
        default_protocol(**override)
    with pytest.raises(ProtocolError, match="unknown protocol option"):
        default_protocol(colour="red")


def test_depth_range_forms():
    assert parse_depth_range("dataset") == "dataset"
    assert parse_depth_range("0.1:80") == (0.1, 80.0)
    assert parse_depth_range([1, 2]) == (1.0, 2.0)
    protocol = default_protocol(depth_range="1:9")
    assert protocol.depth_range_for((0.001, 10.0)) == (1.0, 9.0)
    assert default_protocol().depth_range_for((0.001, 10.0)) == (0.001, 10.0)
    assert default_protocol(depth_range="none").depth_range_for((0.001, 10.0)) == (None, None)


def test_focal_for_model():
    sample = _sample(_box_depth(), focal=321.0)
    assert focal_for_model(sample, "estimated") == (None, "estimated")
    assert focal_for_model(sample, "gt") == (321.0, "gt")
    assert focal_for_model(_sample(_box_depth(), focal=None), "gt") == (None, "estimated")
    assert focal_for_model(sample, "exif") == (None, "estimated")  # no EXIF known
    assert focal_for_model(_sample(_box_depth(), meta={"focal_px_exif": 99.0}), "exif") == (99.0, "exif")


def test_exif_focal_from_the_image_file(tmp_path):
    from PIL import Image

    from dpbench.io.exif import make_exif

    path = tmp_path / "im.jpg"
    Image.new("RGB", (60, 40)).save(path, exif=make_exif(f35=28.0))
    sample = _sample(np.ones((40, 60), np.float32), meta={"image_path": str(path)})
    expected = 28.0 * np.hypot(60, 40) / np.hypot(36, 24)
    assert exif_focal_px(sample) == pytest.approx(expected, rel=1e-12)
    half = _sample(np.ones((20, 30), np.float32), meta={"image_path": str(path)})
    assert exif_focal_px(half) == pytest.approx(expected / 2, rel=1e-12)  # scaled to the sample's size


def _torch_bilinear(values, hw):
    tensor = torch.from_numpy(np.asarray(values, np.float64))[None, None]
    return torch.nn.functional.interpolate(tensor, size=hw, mode="bilinear", align_corners=False)[0, 0].numpy()


@pytest.mark.parametrize("small", [(10, 15), (21, 31), (40, 60)])
def test_resampling_matches_torch_bilinear(rng, small):
    gt = _box_depth()
    pred_small = rng.uniform(0.5, 10.0, size=small).astype(np.float32)
    prediction = Prediction(depth=pred_small)
    sample = _sample(gt)
    inverse = to_gt_resolution(prediction, sample, "bilinear_inverse_depth", "metric_depth")
    np.testing.assert_allclose(inverse, 1.0 / _torch_bilinear(1.0 / pred_small, gt.shape), rtol=1e-5)
    direct = to_gt_resolution(prediction, sample, "bilinear_depth", "metric_depth")
    np.testing.assert_allclose(direct, _torch_bilinear(pred_small, gt.shape), rtol=1e-5)
    # relative outputs are resampled in their own space whatever the option
    disparity = to_gt_resolution(prediction, sample, "bilinear_inverse_depth", "relative_disparity")
    np.testing.assert_allclose(disparity, _torch_bilinear(pred_small, gt.shape), rtol=1e-5)


def test_prediction_at_gt_size_is_untouched():
    gt = _box_depth()
    prediction = Prediction(depth=gt * 1.5)
    assert to_gt_resolution(prediction, _sample(gt), "bilinear_inverse_depth", "metric_depth") is prediction.depth


def test_bad_predictions_name_the_sample():
    gt = _box_depth()
    sample = _sample(gt, sid="alley_1/frame_0007")
    with pytest.raises(ModelError, match=r"alley_1/frame_0007.*aspect ratio"):
        to_gt_resolution(Prediction(depth=gt.T.copy()), sample, "bilinear_inverse_depth", "metric_depth")
    with pytest.raises(ModelError, match=r"resize='none'"):
        to_gt_resolution(Prediction(depth=gt[::2, ::2].copy()), sample, "none", "metric_depth")
    broken = gt.copy()
    broken[0, :3] = np.nan
    broken[1, 0] = np.inf
    with pytest.raises(ModelError, match=r"alley_1/frame_0007.*4 non-finite values of 600 \(3 NaN, 1 ±inf\)"):
        to_gt_resolution(Prediction(depth=broken), sample, "bilinear_inverse_depth", "metric_depth")


def test_metric_depth_scores_and_stats():
    gt = _box_depth()
    valid = np.ones(gt.shape, bool)
    valid[0] = False  # 30 invalid pixels
    sample = _sample(gt, valid=valid)
    row = score_metric_depth(gt * 1.1, sample, default_protocol(), "metric_depth", (None, None))
    assert row["delta1"] == 1.0 and row["abs_rel"] == pytest.approx(0.1, rel=1e-6)
    assert row["n_valid"] == 570 and row["stat_count"] == 570
    assert row["stat_sum_abs_rel"] == pytest.approx(57.0, rel=1e-5)
    # depth range: only the near box (9×12 = 108 pixels) lies inside [1, 2]
    ranged = score_metric_depth(gt * 1.1, sample, default_protocol(), "metric_depth", (1.0, 2.0))
    assert ranged["n_valid"] == 108
    assert "align_scale" not in row  # no alignment for metric models


def test_clipping_to_the_depth_range():
    gt = np.full((4, 5), 5.0, np.float32)
    pred = np.full((4, 5), 100.0, np.float32)
    plain = score_metric_depth(pred, _sample(gt), default_protocol(), "metric_depth", (0.1, 10.0))
    clipped = score_metric_depth(pred, _sample(gt), default_protocol(clip_predictions=True), "metric_depth",
                                 (0.1, 10.0))
    assert plain["abs_rel"] == pytest.approx(19.0) and clipped["abs_rel"] == pytest.approx(1.0)


def test_relative_disparity_is_aligned_in_disparity_space():
    gt = _box_depth()
    disparity = 0.7 / gt + 0.2  # affine in inverse depth
    row = score_metric_depth(disparity, _sample(gt), default_protocol(), "relative_disparity", (None, None))
    assert row["delta1"] == 1.0 and row["abs_rel"] < 1e-5
    assert row["align_scale"] == pytest.approx(1 / 0.7, rel=1e-5)
    # a relative depth model gets least squares scale and shift in depth space
    row = score_metric_depth(3.0 * gt - 1.0, _sample(gt), default_protocol(), "relative_depth", (None, None))
    assert row["abs_rel"] < 1e-5
    # an explicit alignment overrides the per-kind default: median scaling fixes a pure scale
    row = score_metric_depth(gt * 4.0, _sample(gt), default_protocol(alignment="median"), "metric_depth",
                             (None, None))
    assert row["delta1"] == 1.0 and row["align_scale"] == pytest.approx(0.25)


def test_boundary_f1_per_threshold_columns_and_disparity_inversion():
    from dpbench.metrics.boundary import boundary_f1_curve

    gt = _box_depth()
    protocol = default_protocol()
    row = score_boundary_depth(gt * 3.0, _sample(gt), protocol, "metric_depth")
    assert row["boundary_f1"] == 1.0
    assert [row[f"boundary_f1_t{i}"] for i in range(10)] == [1.0] * 10
    blurred = gt.copy()
    blurred[5:14, 8] = 3.0
    curve = boundary_f1_curve(blurred, gt)
    row = score_boundary_depth(blurred, _sample(gt), protocol, "metric_depth")
    assert row["boundary_f1"] == curve.score < 1.0
    assert [row[f"boundary_precision_t{i}"] for i in range(10)] == list(curve.precision)
    # a disparity output is inverted before scoring: 1/depth scores like the depth itself
    assert score_boundary_depth(1.0 / gt, _sample(gt), protocol, "relative_disparity")["boundary_f1"] == 1.0
    assert score_boundary_depth(1.0 / gt, _sample(gt), protocol, "metric_depth")["boundary_f1"] < 0.5


def test_invalid_gt_pixels_in_boundary_f1():
    gt = _box_depth()
    valid = np.ones(gt.shape, bool)
    valid[15:18, 2:6] = False
    holed = np.where(valid, gt, 0.0)  # adapters store 0 where there is no GT
    sample = _sample(holed, valid=valid)
    pred = gt  # the truth without holes
    masked = score_boundary_depth(pred, sample, default_protocol(), "metric_depth")
    raw = score_boundary_depth(pred, sample, default_protocol(boundary_valid="none"), "metric_depth")
    assert masked["boundary_f1"] == 1.0 and raw["boundary_f1"] < 1.0


def test_boundary_recall_on_a_mask():
    depth = _box_depth()
    mask = (depth < 2).astype(np.float32)
    sample = Sample(id="m", image=np.zeros((*depth.shape, 3), np.uint8), mask=mask)
    row = score_boundary_mask(depth, sample, default_protocol(), "metric_depth")
    assert row["boundary_recall"] == 1.0 and row["boundary_recall_t9"] == 1.0
    flat = score_boundary_mask(np.ones_like(depth), sample, default_protocol(), "metric_depth")
    assert flat["boundary_recall"] == 0.0


def test_focal_scores():
    sample = _sample(_box_depth(), focal=400.0)
    row = score_focal(Prediction(depth=_box_depth(), focal_px=500.0), sample)
    assert row == {"focal_pred": 500.0, "focal_gt": 400.0, "focal_rel_err": 0.25}
    # given a focal, the model's own estimate is what the focal task scores
    given = Prediction(depth=_box_depth(), focal_px=400.0, meta={"focal_source": "given", "focal_px_estimated": 300.0})
    assert score_focal(given, sample)["focal_pred"] == 300.0
    with pytest.raises(ModelError, match="no usable focal-length estimate"):
        score_focal(Prediction(depth=_box_depth()), sample)
