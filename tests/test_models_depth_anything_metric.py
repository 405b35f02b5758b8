"""``depth-anything-metric``: upstream's pre/post-processing around tiny transformers stand-ins of the
indoor (max 20 m) and outdoor (max 80 m) checkpoints, routing per dataset, and a routed sample run."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers/huggingface_hub read it

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

transformers = pytest.importorskip("transformers")

from dpbench.errors import ModelError  # noqa: E402
from dpbench.models import load_model  # noqa: E402
from dpbench.models.base import ModelOptionError  # noqa: E402
from dpbench.models.depth_anything_metric import network_input_size  # noqa: E402

H, W = 24, 36


def _save_metric_model(folder, max_depth, model_type_metric=True):
    """A tiny Depth Anything metric network saved like the Hub ports (config + processor)."""
    torch.manual_seed(0)
    backbone = transformers.Dinov2Config(
        image_size=28, patch_size=14, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
        intermediate_size=32, out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False,
    )
    extra = {"depth_estimation_type": "metric", "max_depth": max_depth} if model_type_metric else {}
    config = transformers.DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=16, neck_hidden_sizes=[8, 8, 8, 8],
        fusion_hidden_size=8, head_hidden_size=8, patch_size=14, **extra,
    )
    transformers.DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    transformers.DPTImageProcessor(size={"height": 28, "width": 28}, keep_aspect_ratio=True,
                                   ensure_multiple_of=14).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    base = tmp_path_factory.mktemp("da_metric")
    return {"indoor": _save_metric_model(base / "indoor", 20), "outdoor": _save_metric_model(base / "outdoor", 80)}


class Recorder(torch.nn.Module):
    """Stands in for the network: records pixel_values, returns depth = 1 + row + 10·column."""

    def __init__(self):
        super().__init__()
        self.received = []

    def forward(self, pixel_values):
        self.received.append(pixel_values.clone())
        b, _, h, w = pixel_values.shape
        rows = torch.arange(h, dtype=torch.float32)[:, None]
        cols = torch.arange(w, dtype=torch.float32)[None, :]
        return transformers.modeling_outputs.DepthEstimatorOutput(
            predicted_depth=(1 + rows + 10 * cols).expand(b, h, w).clone())


def test_network_input_size_by_hand():
    # 24×36 at input 28: scale max(28/24, 28/36) = 7/6 -> 28 × 42, both multiples of 14
    assert network_input_size(24, 36, 28) == (28, 42)
    # 480×640: scale 518/480 -> 518 × 690.67 -> round(690.67 / 14) = 49 -> 686
    assert network_input_size(480, 640) == (518, 686)
    # 300×400 (both sides below 518): scale 518/300 -> 518 × 690.67 -> 686 (lower bound, not fit)
    assert network_input_size(300, 400) == (518, 686)
    # 1000×2000: scale 0.518 -> 518 × 1036
    assert network_input_size(1000, 2000) == (518, 1036)
    # 518×523: 523/14 = 37.36 rounds to 37 -> 518 (not below the bound)
    assert network_input_size(518, 523) == (518, 518)


def test_preprocessing_is_upstreams(repos):
    model = load_model("depth-anything-metric:v2-indoor", repo=repos["indoor"], input_size=28, device="cpu")
    network = model._network("indoor")
    network.model = recorder = Recorder()
    colour = np.array([200, 100, 50], dtype=np.uint8)
    image = np.broadcast_to(colour, (H, W, 3)).copy()
    model.predict(image)
    (pixels,) = recorder.received
    assert tuple(pixels.shape) == (1, 3, 28, 42)
    expected = (colour / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    for channel in range(3):  # a bicubic resize of a constant image is that constant
        np.testing.assert_allclose(pixels[0, channel].numpy(), expected[channel], atol=1e-5)


def test_preprocessing_resizes_bicubically(repos):
    import cv2

    model = load_model("depth-anything-metric:v2-indoor", repo=repos["indoor"], input_size=28, device="cpu")
    network = model._network("indoor")
    network.model = recorder = Recorder()
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    model.predict(image)
    received = recorder.received[0][0].numpy()
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])

    def reference(interpolation):
        resized = cv2.resize(image / 255.0, (42, 28), interpolation=interpolation)
        return ((resized - mean) / std).transpose(2, 0, 1)

    np.testing.assert_allclose(received, reference(cv2.INTER_CUBIC), atol=1e-5)
    assert np.abs(received - reference(cv2.INTER_LINEAR)).max() > 1e-2  # the check can tell them apart


def test_postprocessing_align_corners_resize_by_hand(repos):
    model = load_model("depth-anything-metric:v2-outdoor", repo=repos["outdoor"], input_size=28, device="cpu")
    model._network("outdoor").model = Recorder()
    prediction = model.predict(np.zeros((H, W, 3), np.uint8))
    # the 28×42 map 1 + r + 10c resized with align_corners=True to 24×36: r = y·27/23, c = x·41/35
    y, x = np.mgrid[0:H, 0:W]
    expected = 1 + y * 27 / 23 + 10 * x * 41 / 35
    np.testing.assert_allclose(prediction.depth, expected, rtol=1e-5)
    assert prediction.meta["model_variant"] == "v2-outdoor"
    assert prediction.meta["native_hw"] == (28, 42)


def test_real_network_is_bounded_by_its_max_depth(repos):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    for domain, max_depth in (("indoor", 20), ("outdoor", 80)):
        model = load_model(f"depth-anything-metric:v2-{domain}", repo=repos[domain], input_size=28,
                           device="cpu")
        depth = model.predict(image).depth
        assert depth.shape == (H, W) and np.all(depth > 0) and np.all(depth < max_depth)
        record = model.describe()
        assert record["variant"] == f"v2-{domain}" and record["max_depth"][f"v2-{domain}"] == max_depth


def test_wrong_max_depth_or_relative_model_is_refused(repos, tmp_path):
    with pytest.raises(ModelError, match="max_depth=80.*scaled to 20 m"):
        load_model("depth-anything-metric:v2-indoor", repo=repos["outdoor"], device="cpu")
    relative = _save_metric_model(tmp_path / "relative", None, model_type_metric=False)
    with pytest.raises(ModelError, match="not a Depth Anything metric model"):
        load_model("depth-anything-metric:v2-outdoor", repo=relative, device="cpu")


def test_routing_by_domain_option_and_dataset(repos):
    model = load_model("depth-anything-metric", indoor_repo=repos["indoor"], outdoor_repo=repos["outdoor"],
                       device="cpu")
    assert model.name == "depth-anything-metric:v2"
    assert model.variant_for("sunrgbd") == ("indoor", "dataset domain indoor")
    assert model.variant_for("nuscenes") == ("outdoor", "dataset domain outdoor")
    assert model.variant_for("sintel") == ("outdoor", "dataset domain mixed")
    assert model.variant_for("no-such-plugin-dataset")[0] == "outdoor"
    routed = load_model("depth-anything-metric:v2", mixed="indoor", route="sunrgbd:outdoor, eth3d:indoor",
                        indoor_repo=repos["indoor"], outdoor_repo=repos["outdoor"], device="cpu")
    assert routed.variant_for("sintel")[0] == "indoor"
    assert routed.variant_for("sunrgbd") == ("outdoor", "route= option")
    assert routed.variant_for("eth3d")[0] == "indoor"
    assert routed.describe()["routing"]["by_domain"] == {"indoor": "indoor", "outdoor": "outdoor",
                                                          "mixed": "indoor"}


def test_routed_model_loads_each_network_when_its_dataset_begins(repos):
    model = load_model("depth-anything-metric:v2", indoor_repo=repos["indoor"],
                       outdoor_repo=repos["outdoor"], device="cpu", input_size=28)
    image = np.full((H, W, 3), 128, np.uint8)
    with pytest.raises(ModelError, match="no dataset was announced"):
        model.predict(image)
    from dpbench.types import Sample

    tagged = model.predict(Sample("x", image, meta={"dataset": "sunrgbd"}))  # outside the runner
    assert tagged.meta["model_variant"] == "v2-indoor"
    model.begin_dataset("booster")
    indoor = model.predict(image)
    model.begin_dataset("nuscenes")
    outdoor = model.predict(image)
    assert (indoor.meta["model_variant"], outdoor.meta["model_variant"]) == ("v2-indoor", "v2-outdoor")
    assert indoor.meta["hub_repo"] == repos["indoor"] and outdoor.meta["hub_repo"] == repos["outdoor"]
    assert list(model._networks) == ["outdoor"]  # one ViT-L in memory at a time
    assert model.variant_by_dataset == {"sunrgbd": "v2-indoor", "booster": "v2-indoor", "nuscenes": "v2-outdoor"}


@pytest.mark.parametrize(("name", "options", "message"), [
    ("depth-anything-metric:v3", {}, "unknown variant"),
    ("depth-anything-metric:v2", {"mixed": "both"}, "mixed= must be one of"),
    ("depth-anything-metric:v2", {"route": "sintel"}, "route= expects"),
    ("depth-anything-metric:v2-indoor", {"route": "sintel:indoor"}, "unknown option"),
    ("depth-anything-metric:v1-indoor", {}, "pass -o repo=<clone dir>"),
])
def test_bad_names_and_options_are_one_line_errors(name, options, message):
    with pytest.raises(ModelError, match=message):
        load_model(name, device="cpu", **options)


def test_offline_missing_checkpoint_names_the_download(monkeypatch):
    monkeypatch.setenv("DPBENCH_OFFLINE", "1")
    with pytest.raises(ModelError, match="hf download depth-anything/Depth-Anything-V2-Metric-Indoor-Large-hf"):
        load_model("depth-anything-metric:v2-indoor", device="cpu")


def test_checkpoint_on_the_routed_model_is_refused(repos):
    with pytest.raises(ModelOptionError, match="indoor_repo="):
        load_model("depth-anything-metric:v2", checkpoint=repos["indoor"], device="cpu")


def test_sample_run_routes_two_datasets_and_records_the_variants(repos, tmp_path):
    from click.testing import CliRunner

    from dpbench.cli import cli
    from dpbench.sample import generate_sample_suite
    from dpbench.store import list_runs

    generate_sample_suite(tmp_path / "data" / "sample", scale=0.25)
    args = ["run", "--model", "depth-anything-metric:v2", "--suite", "sample", "-d", "middlebury",
            "-d", "sintel", "--data-root", str(tmp_path / "data"), "--out", str(tmp_path / "runs"),
            "--limit", "1", "--device", "cpu", "--no-progress",
            "-o", f"indoor_repo={repos['indoor']}", "-o", f"outdoor_repo={repos['outdoor']}", "-o", "input_size=28"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (store,) = list_runs(tmp_path / "runs")
    rows = store.rows()
    assert (rows["status"] == "ok").all(), rows[["dataset", "task", "error"]]
    variants = rows.groupby("dataset")["model_variant"].unique().to_dict()
    assert {d: list(v) for d, v in variants.items()} == {"middlebury": ["v2-indoor"], "sintel": ["v2-outdoor"]}
    model = store.manifest["model"]
    assert model["name"] == "depth-anything-metric:v2" and model["route"] == "transformers"
    assert model["routing"]["by_domain"]["mixed"] == "outdoor"
    assert model["repos"] == {"v2-indoor": repos["indoor"], "v2-outdoor": repos["outdoor"]}


def test_routed_model_checks_both_configs_before_the_run(repos, monkeypatch):
    with pytest.raises(ModelError, match="v2-outdoor: .* has max_depth=20 .* scaled to 80 m"):
        load_model("depth-anything-metric:v2", indoor_repo=repos["indoor"], outdoor_repo=repos["indoor"],
                   device="cpu")
    monkeypatch.setenv("DPBENCH_OFFLINE", "1")
    with pytest.raises(ModelError, match="hf download depth-anything/Depth-Anything-V2-Metric-Outdoor-Large-hf"):
        load_model("depth-anything-metric:v2", indoor_repo=repos["indoor"], device="cpu")
    model = load_model("depth-anything-metric:v2", indoor_repo=repos["indoor"], outdoor_repo=repos["outdoor"],
                       device="cpu")
    assert model._networks == {}  # no network loaded before a dataset needs it
    assert set(model.describe()["revisions"]) == {"v2-indoor", "v2-outdoor"}
