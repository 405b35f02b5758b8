"""``hf:<dir>``: tiny random transformers depth models of each family, saved locally and loaded back.

Each family's post-processing is recomputed here independently (OpenCV bilinear resize, the Depth
Pro focal arithmetic written out) from the raw network output.
"""

from __future__ import annotations

import math
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers/huggingface_hub read it

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

transformers = pytest.importorskip("transformers")

from dpbench.errors import MissingExtraError, ModelError  # noqa: E402
from dpbench.models import check_prediction, get_model_info, load_model  # noqa: E402
from dpbench.models.hf import depth_pro_metric_depth, output_kind_of  # noqa: E402
from dpbench.types import Sample  # noqa: E402

H, W = 24, 36  # the input image; every model resizes it its own way


def _dinov2(image_size, patch_size, **extra):
    return transformers.Dinov2Config(
        image_size=image_size, patch_size=patch_size, hidden_size=16, num_hidden_layers=4,
        num_attention_heads=2, intermediate_size=32, **extra,
    )


def build_depth_anything(metric=False):
    backbone = _dinov2(28, 14, out_features=["stage1", "stage2", "stage3", "stage4"],
                       reshape_hidden_states=False)
    extra = {"depth_estimation_type": "metric", "max_depth": 20} if metric else {}
    config = transformers.DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=16, neck_hidden_sizes=[8, 8, 8, 8],
        fusion_hidden_size=8, head_hidden_size=8, patch_size=14, **extra,
    )
    model = transformers.DepthAnythingForDepthEstimation(config)
    processor = transformers.DPTImageProcessor(
        size={"height": 28, "width": 28}, keep_aspect_ratio=True, ensure_multiple_of=14,
    )
    return model, processor


def build_dpt():
    config = transformers.DPTConfig(
        image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
        intermediate_size=32, backbone_out_indices=[0, 1, 2, 3], neck_hidden_sizes=[8, 8, 8, 8],
        fusion_hidden_size=8,
    )
    processor = transformers.DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False)
    return transformers.DPTForDepthEstimation(config), processor


def build_zoedepth():
    backbone = transformers.BeitConfig(
        image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
        intermediate_size=32, out_indices=[1, 2, 3, 4], use_relative_position_bias=True,
        reshape_hidden_states=False,
    )
    config = transformers.ZoeDepthConfig(
        backbone_config=backbone, neck_hidden_sizes=[8, 8, 8, 8], fusion_hidden_size=8,
        bottleneck_features=8, num_relative_features=8, bin_embedding_dim=8,
        bin_configurations=[{"n_bins": 4, "min_depth": 0.001, "max_depth": 10.0, "name": "nyu"}],
        num_attractors=[4, 2, 2, 1], patch_transformer_hidden_size=8,
        patch_transformer_intermediate_size=16, patch_transformer_num_attention_heads=2,
    )
    processor = transformers.ZoeDepthImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False)
    return transformers.ZoeDepthForDepthEstimation(config), processor


def build_depth_pro(fov=True):
    sub = {"model_type": "dinov2", "image_size": 32, "patch_size": 8, "hidden_size": 16,
           "num_hidden_layers": 4, "num_attention_heads": 2, "intermediate_size": 32}
    config = transformers.DepthProConfig(
        patch_size=32, fusion_hidden_size=16, intermediate_hook_ids=[1, 0], intermediate_feature_dims=[8, 8],
        scaled_images_ratios=[0.25, 0.5, 1], scaled_images_overlap_ratios=[0.0, 0.5, 0.25],
        scaled_images_feature_dims=[16, 16, 8], merge_padding_value=1, use_fov_model=fov,
        num_fov_head_layers=1, image_model_config=dict(sub), patch_model_config=dict(sub),
        fov_model_config=dict(sub),
    )
    processor = transformers.DepthProImageProcessor(size={"height": 128, "width": 128})
    return transformers.DepthProForDepthEstimation(config), processor


BUILDERS = {
    "da_relative": lambda: build_depth_anything(False),
    "da_metric": lambda: build_depth_anything(True),
    "dpt": build_dpt,
    "zoedepth": build_zoedepth,
    "depth_pro": build_depth_pro,
    "depth_pro_nofov": lambda: build_depth_pro(False),
}
EXPECTED_KIND = {
    "da_relative": "relative_disparity", "da_metric": "metric_depth", "dpt": "relative_disparity",
    "zoedepth": "metric_depth", "depth_pro": "metric_depth", "depth_pro_nofov": "metric_depth",
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Each tiny family saved with save_pretrained (weights + processor) in its own folder."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hf_models")
    folders = {}
    for name, build in BUILDERS.items():
        model, processor = build()
        folder = root / name
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
        folders[name] = folder
    return folders


@pytest.fixture(scope="module")
def loaded(saved):
    """dpbench wrappers of the saved models, loaded once (``loaded(family, **options)``)."""
    cache = {}

    def get(family, **options):
        key = (family, tuple(sorted(options.items())))
        if key not in cache:
            cache[key] = load_model(f"hf:{saved[family]}", device="cpu", **options)
        return cache[key]

    return get


@pytest.fixture
def image(rng):
    return rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)


def raw_outputs(wrapper, image):
    """The network's raw output for ``image``: the wrapped processor and network, called directly."""
    with torch.no_grad():
        out = wrapper.model(**wrapper.processor(images=[image], return_tensors="pt"))
    fov = getattr(out, "field_of_view", None)
    return out.predicted_depth[0].numpy(), (None if fov is None else float(fov.reshape(-1)[0]))


def cv2_bilinear(array, h, w):
    return cv2.resize(np.asarray(array, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


@pytest.mark.parametrize("family", list(BUILDERS))
def test_output_kind_shape_and_finiteness(saved, loaded, image, family):
    model = loaded(family)
    assert model.output_kind == EXPECTED_KIND[family]
    assert model.name == f"hf:{saved[family]}"
    focal = 30.0 if family == "depth_pro_nofov" else None
    sample = Sample("img", image)
    pred = model.predict(sample, focal_px=focal)
    assert pred.depth.shape == (H, W) and pred.depth.dtype == np.float32
    check_prediction(pred, sample, "metric_depth" if model.output_kind == "metric_depth" else None)
    info = model.describe()
    assert info["model_type"] == model.model_type and info["device"] == "cpu"


@pytest.mark.parametrize("family", ["da_relative", "da_metric", "dpt"])
def test_plain_bilinear_postprocessing(loaded, image, family):
    raw, _ = raw_outputs(loaded(family), image)
    pred = loaded(family).predict(image)
    np.testing.assert_allclose(pred.depth, cv2_bilinear(raw, H, W), rtol=1e-4, atol=1e-6)
    assert pred.meta["native_hw"] == raw.shape and pred.focal_px is None


def test_depth_anything_metric_is_bounded_by_max_depth(loaded, image):
    pred = loaded("da_metric").predict(image)
    assert (pred.depth > 0).all() and (pred.depth <= 20.0 + 1e-4).all()


def test_zoedepth_padding_is_cropped(loaded, image):
    raw, _ = raw_outputs(loaded("zoedepth"), image)
    pad_h, pad_w = int(math.sqrt(H / 2) * 3), int(math.sqrt(W / 2) * 3)
    assert (pad_h, pad_w) == (10, 12)  # int(sqrt(12)·3), int(sqrt(18)·3)
    expected = cv2_bilinear(raw, H + 2 * pad_h, W + 2 * pad_w)[pad_h:pad_h + H, pad_w:pad_w + W]
    pred = loaded("zoedepth").predict(image)
    np.testing.assert_allclose(pred.depth, expected, rtol=1e-4)


def test_depth_pro_fov_focal_arithmetic(loaded, image):
    model = loaded("depth_pro")
    canonical, fov = raw_outputs(model, image)
    pred = model.predict(image)
    f_px = 0.5 * W / math.tan(0.5 * math.radians(fov))
    inverse = cv2_bilinear(canonical * (W / f_px), H, W)
    expected = 1.0 / np.clip(inverse, 1e-4, 1e4)
    np.testing.assert_allclose(pred.depth, expected, rtol=1e-4)
    assert pred.focal_px == pytest.approx(f_px, rel=1e-5)
    assert pred.meta["focal_source"] == "estimated" and pred.meta["fov_deg"] == pytest.approx(fov, rel=1e-5)
    # a given focal overrides the estimate (still reported) and rescales the depth by f_given / f_est
    given = model.predict(image, focal_px=2 * f_px)
    assert given.focal_px == pytest.approx(2 * f_px) and given.meta["focal_source"] == "given"
    assert given.meta["focal_px_estimated"] == pytest.approx(f_px, rel=1e-5)
    unclamped = (inverse > 2e-4) & (inverse < 5e3)
    np.testing.assert_allclose(given.depth[unclamped], 2 * pred.depth[unclamped], rtol=1e-4)


def test_depth_pro_metric_depth_by_hand():
    canonical = torch.tensor([[1.0, 2.0], [4.0, 0.0]])
    depth = depth_pro_metric_depth(canonical, width=2, height=2, focal_px=4.0)
    # inverse = C * 2 / 4 = C / 2; the zero is clamped to 1e-4
    np.testing.assert_allclose(depth.numpy(), [[2.0, 1.0], [0.5, 1e4]], rtol=1e-6)


def test_depth_pro_without_fov_needs_a_focal(loaded, image):
    model = loaded("depth_pro_nofov")
    with pytest.raises(ModelError, match="no FoV head"):
        model.predict(image)
    assert model.predict(image, focal_px=40.0).meta["focal_px_estimated"] is None


def test_depth_pro_impossible_fov_is_a_clear_error(loaded, image, monkeypatch):
    model = loaded("depth_pro")
    forward = model._forward

    def negative_fov(images):
        raw, fov = forward(images)
        return raw, -fov.abs() - 1.0

    monkeypatch.setattr(model, "_forward", negative_fov)
    with pytest.raises(ModelError, match=r"field of view -[0-9.]+° is outside \(0°, 180°\)"):
        model.predict(image)
    given = model.predict(image, focal_px=30.0)  # a given focal still works; no estimate reported
    assert given.focal_px == 30.0 and given.meta["focal_px_estimated"] is None


def test_batches_match_single_predictions(loaded, image, rng):
    model = loaded("dpt")
    other = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    small = rng.integers(0, 256, size=(16, 20, 3), dtype=np.uint8)
    batch = model.predict_batch([image, other, small])
    for img, pred in zip([image, other, small], batch, strict=True):
        np.testing.assert_allclose(pred.depth, model.predict(img).depth, rtol=1e-4, atol=1e-6)
    assert batch[2].depth.shape == (16, 20)


def test_output_kind_option_and_unknown_types(saved):
    model = load_model(f"hf:{saved['dpt']}", device="cpu", output_kind="metric_depth")
    assert model.output_kind == "metric_depth"
    with pytest.raises(ValueError, match="output_kind must be one of"):
        load_model(f"hf:{saved['dpt']}", device="cpu", output_kind="depth")

    class Config:
        model_type = "mystery"

    with pytest.raises(ModelError, match="unknown depth model type 'mystery'.*output_kind="):
        output_kind_of(Config())


def test_bf16_autocast_runs_on_cpu(loaded, image):
    fp32 = loaded("da_relative").predict(image)
    bf16 = loaded("da_relative", precision="bf16").predict(image)
    assert bf16.depth.dtype == np.float32 and np.isfinite(bf16.depth).all()
    assert np.abs(bf16.depth - fp32.depth).max() <= 0.05 * np.abs(fp32.depth).max() + 1e-3


def test_checkpoint_argument_names_a_local_folder(saved, image):
    model = load_model("hf:my-dpt", checkpoint=str(saved["dpt"]), device="cpu")
    assert model.name == "hf:my-dpt" and model.describe()["source"] == str(saved["dpt"])


def test_missing_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingExtraError, match=r'pip install "dpbench\[hf\]"') as info:
        load_model("hf:depth-anything/Depth-Anything-V2-Small-hf")
    assert info.value.extra == "hf"
    # the wrapper itself says the same when called directly
    from dpbench.models.hf import HFDepthModel

    with pytest.raises(MissingExtraError, match="hf"):
        HFDepthModel("anything")


def test_offline_uncached_repo_is_a_clear_error(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"hf:dpbench-tests/not-a-model: cannot load.*offline mode is on.*`hf download dpbench-tests/not-a-model`"):
        load_model("hf:dpbench-tests/not-a-model", device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="cannot load the local folder"):
        load_model(f"hf:{tmp_path / 'empty'}", device="cpu")


def test_family_card():
    info, arg = get_model_info("hf:Intel/dpt-large")
    assert info.family and info.extra == "hf" and arg == "Intel/dpt-large"
    assert "transformers" in info.requires
