"""``depth-anything-metric:v1*``: the authors' metric_depth/ code (a stand-in clone with upstream's
call signature and traps, tests/standins/depth_anything_v1) built in the right working directory and
with the right dataset config, the exact input tensor, flip averaging and resize by hand, the strict
checkpoint load, and a routed two-dataset sample run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dpbench.errors import ModelError
from dpbench.models import load_model
from dpbench.models.base import ModelOptionError

STANDIN = Path(__file__).parent / "standins" / "depth_anything_v1"
H, W = 24, 36
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
#: The metric head (1×1 conv) of each stand-in checkpoint: weights per channel, bias.
HEADS = {"indoor": ([0.5, -0.25, 0.1], 0.2), "outdoor": ([-0.3, 0.4, 0.2], -0.1)}


def _core_state(prefix=""):
    torch.manual_seed(0)
    return {f"{prefix}pretrained.weight": torch.randn(3, 3), f"{prefix}pretrained.bias": torch.randn(3),
            f"{prefix}head.weight": torch.randn(1, 3, 1, 1), f"{prefix}head.bias": torch.randn(1)}


def _metric_state(domain):
    weight, bias = HEADS[domain]
    return {**_core_state("core."), "conv2.weight": torch.tensor(weight).view(1, 3, 1, 1),
            "conv2.bias": torch.tensor([bias])}


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A copy of the stand-in clone with the checkpoints where upstream's README puts them."""
    folder = tmp_path_factory.mktemp("da1") / "Depth-Anything"
    shutil.copytree(STANDIN, folder)
    checkpoints = folder / "metric_depth" / "checkpoints"
    checkpoints.mkdir()
    torch.save(_core_state(), checkpoints / "depth_anything_vitl14.pth")
    for domain in HEADS:
        torch.save({"model": _metric_state(domain)}, checkpoints / f"depth_anything_metric_depth_{domain}.pt")
    return folder


def _upstream(model, domain):
    return model._networks[domain].network


def resize_align_corners(array, height, width):
    """Bilinear resize with align_corners=True, one output pixel at a time."""
    h, w = array.shape
    out = np.empty((height, width))
    for i in range(height):
        y = i * (h - 1) / (height - 1)
        y0 = min(int(np.floor(y)), h - 1)
        y1, fy = min(y0 + 1, h - 1), y - y0
        for j in range(width):
            x = j * (w - 1) / (width - 1)
            x0 = min(int(np.floor(x)), w - 1)
            x1, fx = min(x0 + 1, w - 1), x - x0
            top = array[y0, x0] * (1 - fx) + array[y0, x1] * fx
            bottom = array[y1, x0] * (1 - fx) + array[y1, x1] * fx
            out[i, j] = top * (1 - fy) + bottom * fy
    return out


def _image(seed=1):
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_network_receives_rgb_in_unit_range_then_its_mirror(clone):
    model = load_model("depth-anything-metric:v1-indoor", device="cpu", repo=str(clone))
    image = _image()
    model.predict(image)
    network = _upstream(model, "indoor")
    assert not network.training
    first, second = network.calls
    expected = torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    assert first.shape == (1, 3, H, W) and first.dtype == torch.float32
    assert torch.equal(first, expected)
    assert torch.equal(second, expected.flip(3))
    assert network.kwargs == [{"dataset": "nyu"}, {"dataset": "nyu"}]


def test_flip_average_and_align_corners_resize_by_hand(clone):
    model = load_model("depth-anything-metric:v1-indoor", device="cpu", repo=str(clone))
    prediction = model.predict(_image(2))
    plain, mirrored = (o[0, 0].numpy().astype(np.float64) for o in _upstream(model, "indoor").outputs)
    assert plain.shape == (392, 518)  # eval mode: exactly upstream's img_size, aspect ignored
    expected = resize_align_corners(0.5 * (plain + mirrored[:, ::-1]), H, W)
    assert prediction.depth.shape == (H, W)
    np.testing.assert_allclose(prediction.depth, expected, rtol=1e-5, atol=1e-5)
    assert prediction.meta["native_hw"] == [392, 518] and prediction.meta["model_variant"] == "v1-indoor"


@pytest.mark.parametrize("domain, max_depth, dataset", [("indoor", 10, "nyu"), ("outdoor", 80, "kitti")])
def test_each_checkpoint_is_built_with_its_dataset_config_and_weights(clone, domain, max_depth, dataset):
    model = load_model(f"depth-anything-metric:v1-{domain}", device="cpu", repo=str(clone))
    assert _upstream(model, domain).max_depth == max_depth
    color = np.array([200, 100, 50], dtype=np.uint8)
    depth = model.predict(np.broadcast_to(color, (H, W, 3)).copy()).depth
    weight, bias = HEADS[domain]  # a flat image stays flat: max_depth · sigmoid(w · normalised + b)
    logit = float(np.dot(weight, (color / 255.0 - MEAN) / STD) + bias)
    np.testing.assert_allclose(depth, max_depth / (1 + np.exp(-logit)), rtol=1e-5)
    assert _upstream(model, domain).kwargs[0] == {"dataset": dataset}


def test_a_model_built_without_the_outdoor_dataset_is_refused(clone, monkeypatch):
    from dpbench.models import depth_anything_v1_metric

    monkeypatch.setitem(depth_anything_v1_metric.CONFIG_DATASET, "outdoor", "nyu")
    with pytest.raises(ModelError, match=r"outdoor model with max_depth=10, .* trained to 80 m"):
        load_model("depth-anything-metric:v1-outdoor", device="cpu", repo=str(clone))


def test_strict_load_refuses_a_wrong_checkpoint(clone, tmp_path):
    wrong = tmp_path / "wrong.pt"
    state = _metric_state("indoor")
    state["conv3.weight"] = state.pop("conv2.weight")
    torch.save({"model": state}, wrong)
    with pytest.raises(ModelError, match=r"wrong.pt does not fit upstream's ZoeDepth model \(.*conv2.weight") as err:
        load_model("depth-anything-metric:v1-indoor", checkpoint=str(wrong), device="cpu", repo=str(clone))
    assert "\n" not in str(err.value)


def test_working_directory_trap_is_handled_without_touching_cwd(clone, tmp_path, monkeypatch):
    import sys

    monkeypatch.chdir(tmp_path)
    # upstream's own build, from any other directory, fails on its relative paths
    sys.path.insert(0, str(clone / "metric_depth"))
    try:
        from zoedepth.models.builder import build_model
        from zoedepth.utils.config import get_config

        with pytest.raises(FileNotFoundError):
            build_model(get_config("zoedepth", "eval", "nyu"))
    finally:
        sys.path.remove(str(clone / "metric_depth"))
    # dpbench: relative weights from elsewhere (relative_checkpoint=), cwd unchanged
    elsewhere = tmp_path / "elsewhere.pth"
    shutil.copy(clone / "metric_depth" / "checkpoints" / "depth_anything_vitl14.pth", elsewhere)
    model = load_model("depth-anything-metric:v1-indoor", device="cpu", repo=str(clone),
                       relative_checkpoint=str(elsewhere))
    assert Path(os.getcwd()) == tmp_path
    described = model.describe()
    assert described["relative_weights"] == str(elsewhere) and described["variant"] == "v1-indoor"
    checkpoint = clone / "metric_depth" / "checkpoints" / "depth_anything_metric_depth_indoor.pt"
    assert described["repos"] == {"v1-indoor": str(checkpoint)} and described["max_depth"] == {"v1-indoor": 10.0}
    from dpbench.runner.provenance import file_sha256

    assert described["weights_sha256"] == {"v1-indoor": file_sha256(checkpoint)}
    assert described["config_dataset"] == {"v1-indoor": "nyu"} and described["parameters"] == 3 * 3 + 3 + 3 + 1 + 3 + 1


def test_infer_mode_keeps_the_aspect_ratio_and_flip_can_be_off(clone):
    model = load_model("depth-anything-metric:v1-indoor", device="cpu", repo=str(clone), mode="infer", flip="false")
    prediction = model.predict(_image())
    network = _upstream(model, "indoor")
    assert len(network.calls) == 1
    # upstream "minimal": scale 518/36 (closer to 1 than 392/24) -> 345.3 -> 350 (multiple of 14)
    assert prediction.meta["native_hw"] == [350, 518]
    expected = resize_align_corners(network.outputs[0][0, 0].numpy().astype(np.float64), H, W)
    np.testing.assert_allclose(prediction.depth, expected, rtol=1e-5, atol=1e-5)
    described = model.describe()
    assert described["mode"] == "infer" and described["flip_average"] is False


def test_routed_model_builds_each_network_when_its_dataset_begins(clone):
    model = load_model("depth-anything-metric:v1", device="cpu", repo=str(clone))
    assert model._networks == {}
    model.begin_dataset("middlebury")
    assert model.predict(_image()).meta["model_variant"] == "v1-indoor"
    model.begin_dataset("sintel")  # mixed -> outdoor by default
    assert model.predict(_image()).meta["model_variant"] == "v1-outdoor"
    assert set(model._networks) == {"outdoor"}
    described = model.describe()
    assert described["route"] == "clone" and described["config_dataset"] == {"v1-indoor": "nyu",
                                                                            "v1-outdoor": "kitti"}
    assert set(described["weights_sha256"]) == {"v1-indoor", "v1-outdoor"}


@pytest.mark.parametrize("name, options, error, message", [
    ("depth-anything-metric:v1-indoor", {}, ModelOptionError, "clone https://github.com/LiheYoung/Depth-Anything"),
    ("depth-anything-metric:v1", {"repo": "."}, ModelError, "is not a clone of LiheYoung/Depth-Anything"),
    ("depth-anything-metric:v1-indoor", {"repo": "<clone>", "mode": "train"}, ModelOptionError, "mode must be one of"),
    ("depth-anything-metric:v1-indoor", {"repo": "<clone>", "flip": "maybe"}, ModelOptionError,
     "flip= must be true or false"),
    ("depth-anything-metric:v1-indoor", {"repo": "<clone>", "route": "sintel:indoor"}, ModelOptionError, "route"),
    ("depth-anything-metric:v1", {"repo": "<clone>", "input_size": 518}, ModelOptionError, "input_size"),
])
def test_bad_options_are_one_line_errors(clone, name, options, error, message):
    options = {k: str(clone) if v == "<clone>" else v for k, v in options.items()}
    with pytest.raises(error, match=message) as err:
        load_model(name, device="cpu", **options)
    assert "\n" not in str(err.value)


def test_fp16_and_a_single_checkpoint_on_the_routed_model_are_refused(clone):
    with pytest.raises(ModelOptionError, match="only fp32"):
        load_model("depth-anything-metric:v1-indoor", device="cpu", precision="fp16", repo=str(clone))
    with pytest.raises(ModelOptionError, match="indoor_checkpoint="):
        load_model("depth-anything-metric:v1", checkpoint="x.pt", device="cpu", repo=str(clone))


def test_offline_missing_checkpoint_names_the_download(clone, tmp_path, monkeypatch):
    bare = tmp_path / "bare"
    shutil.copytree(clone, bare, ignore=shutil.ignore_patterns("*_outdoor.pt"))
    monkeypatch.setenv("DPBENCH_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pytest.importorskip("huggingface_hub")
    expected = ("hf download LiheYoung/Depth-Anything checkpoints_metric_depth/depth_anything_metric_depth_"
                "outdoor.pt --repo-type space")
    with pytest.raises(ModelError, match="offline and not in the Hugging Face cache.*" + expected.replace(".", r"\.")):
        load_model("depth-anything-metric:v1", device="cpu", repo=str(bare))


def test_sample_run_routes_two_datasets_and_records_the_variants(clone, tmp_path):
    from click.testing import CliRunner

    from dpbench.cli import cli
    from dpbench.sample import generate_sample_suite
    from dpbench.store import list_runs

    generate_sample_suite(tmp_path / "data" / "sample", scale=0.25)
    args = ["run", "--model", "depth-anything-metric:v1", "--suite", "sample", "-d", "middlebury",
            "-d", "sintel", "--data-root", str(tmp_path / "data"), "--out", str(tmp_path / "runs"),
            "--limit", "1", "--device", "cpu", "--no-progress", "-o", f"repo={clone}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (store,) = list_runs(tmp_path / "runs")
    rows = store.rows()
    assert (rows["status"] == "ok").all(), rows[["dataset", "task", "error"]]
    variants = rows.groupby("dataset")["model_variant"].unique().to_dict()
    assert {d: list(v) for d, v in variants.items()} == {"middlebury": ["v1-indoor"], "sintel": ["v1-outdoor"]}
    model = store.manifest["model"]
    assert model["name"] == "depth-anything-metric:v1" and model["route"] == "clone"
    assert model["routing"]["by_domain"]["mixed"] == "outdoor"
    assert model["max_depth"] == {"v1-indoor": 10.0, "v1-outdoor": 80.0}
    checkpoints = clone / "metric_depth" / "checkpoints"
    assert model["repos"] == {f"v1-{d}": str(checkpoints / f"depth_anything_metric_depth_{d}.pt") for d in HEADS}
    assert len(model["weights_sha256"]["v1-indoor"]) == 64


def test_a_zoedepth_package_imported_from_elsewhere_is_not_used(clone, monkeypatch):
    import sys
    import types

    foreign = types.ModuleType("zoedepth")  # e.g. PatchFusion's vendored copy, imported earlier
    foreign.__file__ = "/elsewhere/external/zoedepth/__init__.py"
    monkeypatch.setitem(sys.modules, "zoedepth", foreign)
    for name in [n for n in sys.modules if n.startswith("zoedepth.")]:
        monkeypatch.delitem(sys.modules, name)
    model = load_model("depth-anything-metric:v1-indoor", device="cpu", repo=str(clone))
    assert type(_upstream(model, "indoor")).__module__ == "zoedepth.models.zoedepth"
    assert sys.modules["zoedepth"].__file__.startswith(str(clone / "metric_depth"))
