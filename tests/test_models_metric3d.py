"""metric3d / metric3d-v2 with a stand-in of upstream's torch.hub repository (tests/standins/metric3d):
the exact tensor the network receives, the post-processing against values computed by hand, the
CPU work-around, weight loading and its checks, and a `dpbench run` on the sample suite."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import math
import shutil
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from dpbench.errors import MissingExtraError, ModelError
from dpbench.models import load_model
from dpbench.models.base import ModelOptionError
from dpbench.models.metric3d import (
    DOMAIN_CROPS,
    MEAN,
    STD,
    VARIANTS,
    decanonical,
    place_decoder_tensors,
)

torch = pytest.importorskip("torch")

STANDIN = Path(__file__).parent / "standins" / "metric3d"
#: The value the stand-in's decoder scale takes from the test checkpoint (1.0 when not loaded).
LOADED_SCALE = 2.0

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def _standin_module():
    """The stand-in hubconf imported as a module (to build its networks without torch.hub)."""
    spec = importlib.util.spec_from_file_location("metric3d_standin_hubconf", STANDIN / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_checkpoint(path: Path, drop: tuple[str, ...] = ()) -> Path:
    """A checkpoint in upstream's layout ({'model_state_dict': ...}) with the decoder scale set."""
    state = _standin_module().metric3d_convnext_large().state_dict()
    state["depth_model.decoder.scale"] = torch.tensor(LOADED_SCALE)
    for key in drop:
        del state[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model_state_dict": state}, path)
    return path


@pytest.fixture
def upstream_packages(tmp_path, monkeypatch):
    """Empty ``mmengine`` and ``mmcv`` packages: the extra's modules, which the stand-in does not use."""
    stubs = tmp_path / "stubs"
    for name in ("mmengine", "mmcv"):
        (stubs / name).mkdir(parents=True)
        (stubs / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(stubs))
    importlib.invalidate_caches()
    return stubs


@pytest.fixture
def checkpoint(tmp_path):
    return _write_checkpoint(tmp_path / "weights" / "metric3d.pth")


@pytest.fixture
def load(upstream_packages, checkpoint):
    """load(name, **options): the model on CPU from the stand-in repository and the test checkpoint."""
    def build(name="metric3d", **options):
        options.setdefault("repo", str(STANDIN))
        return load_model(name, checkpoint=str(checkpoint), device="cpu", **options)
    return build


def _received(model) -> np.ndarray:
    return model.network.received[-1].numpy()


def _bilinear_columns(values: np.ndarray, out_w: int) -> np.ndarray:
    """An independent 1-D bilinear resize (half-pixel centres, edge clamp) of a row of values."""
    in_w = values.size
    src = np.clip((np.arange(out_w) + 0.5) * in_w / out_w - 0.5, 0, in_w - 1)
    left = np.floor(src).astype(int)
    right = np.minimum(left + 1, in_w - 1)
    frac = src - left
    return values[left] * (1 - frac) + values[right] * frac


# --- the stand-in reproduces upstream's traps ------------------------------------------------------

@pytest.mark.skipif(torch.cuda.is_available(), reason="the trap shows only on a machine without CUDA")
def test_standin_reproduces_the_cuda_trap_of_upstreams_decoders():
    network = torch.hub.load(str(STANDIN), "metric3d_convnext_large", source="local")
    with pytest.raises(RuntimeError):  # the depth bins on "cuda"
        network.inference({"input": torch.zeros(1, 3, 32, 64)})
    decoder = network.depth_model.decoder
    decoder.register_buffer("depth_expectation_anchor", torch.ones(1, 512), persistent=False)
    with pytest.raises(RuntimeError):  # then the hourglass mesh grid on "cuda"
        network.inference({"input": torch.zeros(1, 3, 32, 64)})
    assert place_decoder_tensors(network, torch.device("cpu")) == {"depth_anchor_buffers": 1, "mesh_grids": 1}
    assert network.inference({"input": torch.zeros(1, 3, 32, 64)})[0].shape == (1, 1, 32, 64)


def test_standin_vit_returns_another_size_off_multiples_of_14():
    network = _standin_module().metric3d_vit_small()
    network.depth_model.decoder.register_buffer("depth_expectation_anchor", torch.ones(1, 256), persistent=False)
    assert network.inference({"input": torch.zeros(1, 3, 512, 1088)})[0].shape[-2:] == (516, 1092)
    assert network.inference({"input": torch.zeros(1, 3, 616, 1064)})[0].shape[-2:] == (616, 1064)


# --- pre-processing ----------------------------------------------------------------------------------

def test_input_is_resized_padded_with_the_mean_colour_and_normalised(load, rng):
    model = load(crop="64x96")
    image = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    model.predict(image, focal_px=500.0)
    x = _received(model)
    # s = min(64/30, 96/50) = 1.92 -> 57×96 (int(57.6)); 7 rows of padding: 3 on top, 4 below
    assert x.shape == (1, 3, 64, 96)
    mean, std = np.array(MEAN)[:, None, None], np.array(STD)[:, None, None]
    pad_colour = (np.array([124.0, 116.0, 104.0])[:, None, None] - mean) / std  # cv2 rounds the mean to uint8
    for rows in (slice(0, 3), slice(60, 64)):
        np.testing.assert_allclose(x[0, :, rows], np.broadcast_to(pad_colour, (3, x[0, :, rows].shape[1], 96)),
                                   atol=1e-6)
    resized = cv2.resize(image, (96, 57), interpolation=cv2.INTER_LINEAR).astype(np.float64).transpose(2, 0, 1)
    np.testing.assert_allclose(x[0, :, 3:60], (resized - mean) / std, atol=1e-5)
    assert not np.allclose(x[0, :, 3], pad_colour[:, 0])  # the image starts on row 3, not earlier


# --- post-processing ---------------------------------------------------------------------------------

def test_output_is_unpadded_resized_rescaled_by_fx_times_s(load, rng):
    model = load(crop="64x96")
    image = rng.integers(0, 256, (50, 30, 3), dtype=np.uint8)
    focal = 200.0
    prediction = model.predict(image, focal_px=focal)
    # s = min(64/50, 96/30) = 1.28 -> 64×38; 58 columns of padding, 29 each side. The stand-in's
    # canonical depth is 2·(1 + column); the unpadded columns 29..66 hold 2·(30..67).
    scale = 1.28
    assert prediction.meta["resize_scale"] == pytest.approx(scale)
    row = _bilinear_columns(LOADED_SCALE * (30.0 + np.arange(38)), 30) * focal * scale / 1000
    assert prediction.depth.shape == (50, 30) and prediction.depth.dtype == np.float32
    np.testing.assert_allclose(prediction.depth, np.broadcast_to(row, (50, 30)), rtol=1e-5)
    assert prediction.meta["focal_source"] == "given" and prediction.meta["native_hw"] == [64, 96]


def test_vit_output_is_resized_to_the_crop_before_unpadding(load, rng):
    model = load("metric3d-v2:vit-small", crop="domain")
    model.begin_dataset("middlebury")  # indoor: 512×1088, which the ViT returns as 516×1092
    image = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    focal = 10.0  # keeps every value below the 300 m clamp
    prediction = model.predict(image, focal_px=focal)
    assert _received(model).shape == (1, 3, 512, 1088)
    # s = min(512/40, 1088/60) = 12.8 -> 512×768; 160 columns of padding each side. Resized back
    # to 512×1088 the stand-in's map is 2·(1 + column), so the kept columns hold 2·(161..928).
    scale = 12.8
    row = _bilinear_columns(LOADED_SCALE * (161.0 + np.arange(768)), 60) * focal * scale / 1000
    np.testing.assert_allclose(prediction.depth, np.broadcast_to(row, (40, 60)), rtol=1e-4)


def test_metric_depth_is_clamped_to_a_positive_floor_and_300_m():
    canonical = torch.tensor([-5.0, 0.0, 1.0, 1000.0, 1e6])
    metric = decanonical(canonical, focal_px=500.0, scale=2.0)  # x 1.0
    np.testing.assert_allclose(metric.numpy(), [1e-3, 1e-3, 1.0, 300.0, 300.0])


def test_depth_beyond_300_m_is_clamped_in_a_prediction(load, rng):
    model = load(crop="64x96")
    prediction = model.predict(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8), focal_px=10000.0)
    # s = 1, canonical 2·(1 + column) · 10 -> 20..1920, clamped at 300
    assert prediction.depth.max() == pytest.approx(300.0)
    assert prediction.depth[0, 0] == pytest.approx(20.0 * 1.0, rel=1e-5)


# --- focal --------------------------------------------------------------------------------------------

def test_no_focal_is_an_error_unless_the_canonical_focal_is_asked_for(load, rng):
    image = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    with pytest.raises(ModelError, match="needs the focal length .*--focal-mode gt or exif.*missing_focal=canonical"):
        load(crop="64x96").predict(image)
    model = load(crop="64x96", missing_focal="canonical")
    prediction = model.predict(image)
    assert prediction.meta["focal_source"] == "assumed_canonical_1000px"
    assert prediction.depth[0, 0] == pytest.approx(LOADED_SCALE * 1.0, rel=1e-5)  # · 1000·1/1000
    assert "1000 px" in model.describe()["focal"]


# --- crops --------------------------------------------------------------------------------------------

def test_crops_follow_the_dataset_domain_and_are_recorded(load):
    v1 = load()
    for dataset, domain in (("middlebury", "indoor"), ("eth3d", "outdoor"), ("sintel", "mixed")):
        v1.begin_dataset(dataset)
        assert v1.observed()["crops_by_dataset"][dataset] == {"domain": domain,
                                                              "crop": list(DOMAIN_CROPS.get(domain, (512, 992)))}
    assert v1.describe()["crop_by_domain"] == {"indoor": [512, 1088], "outdoor": [512, 992], "mixed": [512, 992]}
    v2 = load("metric3d-v2")
    v2.begin_dataset("middlebury")
    assert v2.crop == (616, 1064)
    v2_domain = load("metric3d-v2", crop="domain")
    v2_domain.begin_dataset("middlebury")
    assert v2_domain.crop == (512, 1088)
    assert load(crop="native").crop == (544, 1216) and load(crop="indoor").crop == (512, 1088)


@pytest.mark.parametrize("crop", ["wide", "0x10", "512x"])
def test_bad_crop_is_refused(load, crop):
    with pytest.raises(ModelOptionError, match="crop must be one of"):
        load(crop=crop)


# --- loading --------------------------------------------------------------------------------------------

def test_cpu_workaround_registers_the_depth_bins_on_the_device(load):
    model = load()
    decoder = model.network.depth_model.decoder
    expected = torch.exp(torch.linspace(math.log(0.3), math.log(150), 512))[None]
    assert decoder.depth_expectation_anchor.device.type == "cpu"
    torch.testing.assert_close(decoder.depth_expectation_anchor, expected)
    assert "depth_expectation_anchor" not in model.network.state_dict()  # not persistent, as upstream
    assert model.describe()["cpu_workaround"] == {"depth_anchor_buffers": 1, "mesh_grids": 1}


def test_weights_come_from_the_hub_cache_with_pretrain_true(upstream_packages, tmp_path, monkeypatch, rng):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = _write_checkpoint(tmp_path / "torch" / "hub" / "checkpoints" / VARIANTS["metric3d"]["convnext-large"]
                               .weights_file)
    model = load_model("metric3d", device="cpu", repo=str(STANDIN), crop="64x96")
    assert model.name == "metric3d:convnext-large"
    prediction = model.predict(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8), focal_px=1000.0)
    assert prediction.depth[0, 0] == pytest.approx(LOADED_SCALE)  # the checkpoint's scale, not 1.0
    record = model.describe()
    assert record["checkpoint"] == str(cached) and record["missing_keys"] == 0
    assert record["route"] == "torch.hub" and record["entry"] == "metric3d_convnext_large"
    from dpbench.runner.provenance import describe_model

    assert describe_model(model, None)["checkpoint_sha256"] == hashlib.sha256(cached.read_bytes()).hexdigest()


def test_offline_without_weights_names_the_file_and_url(upstream_packages, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ModelError, match=r"offline and the weights .*metric_depth_vit_giant2_800k\.pth are missing; "
                                         r"download https://huggingface\.co/JUGGHM/Metric3D"):
        load_model("metric3d-v2", device="cpu", repo=str(STANDIN))


def test_a_failed_download_is_one_error_naming_the_file(upstream_packages, tmp_path, monkeypatch):
    import urllib.error

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("DPBENCH_OFFLINE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    calls = []

    def no_network(url, dst, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(ModelError, match=r"cannot load upstream \(URLError: .*no route to host.*\); without internet "
                                         r"pass -o repo=.* and put https://huggingface\.co/JUGGHM/Metric3D/resolve/main/"
                                         r"convlarge_hourglass_0\.3_150_step750k_v1\.1\.pth at .*torch/hub/checkpoints"):
        load_model("metric3d", device="cpu", repo=str(STANDIN))
    assert calls == ["https://huggingface.co/JUGGHM/Metric3D/resolve/main/convlarge_hourglass_0.3_150_step750k_v1.1.pth"]


def test_missing_keys_are_refused_unless_allowed(upstream_packages, tmp_path):
    partial = _write_checkpoint(tmp_path / "partial.pth", drop=("depth_model.encoder.weight",))
    with pytest.raises(ModelError, match="lacks 1 of the network's 2 weights .*depth_model.encoder.weight"):
        load_model("metric3d", checkpoint=str(partial), device="cpu", repo=str(STANDIN))
    model = load_model("metric3d", checkpoint=str(partial), device="cpu", repo=str(STANDIN), allow_missing_keys=True)
    assert model.describe()["missing_keys"] == 1


def test_an_entry_that_loads_no_weights_is_refused(upstream_packages, checkpoint, tmp_path):
    clone = tmp_path / "clone"
    shutil.copytree(STANDIN, clone)
    hubconf = clone / "hubconf.py"
    # an upstream entry whose keyword is spelt otherwise leaves random weights
    hubconf.write_text(hubconf.read_text().replace("def metric3d_convnext_large(pretrain=False",
                                                   "def metric3d_convnext_large(pretrained=False").replace(
        'return _build(HourglassDecoder(), "convlarge_hourglass_0.3_150_step750k_v1.1.pth", pretrain)',
        'return _build(HourglassDecoder(), "convlarge_hourglass_0.3_150_step750k_v1.1.pth", pretrained)'))
    with pytest.raises(ModelError, match="loaded no weights"):
        load_model("metric3d", checkpoint=str(checkpoint), device="cpu", repo=str(clone))


def test_missing_extra_is_named(tmp_path):
    if importlib.util.find_spec("mmengine") is not None:
        pytest.skip("mmengine is installed here")
    with pytest.raises(MissingExtraError, match=r'dpbench\[metric3d\]'):
        load_model("metric3d", device="cpu", repo=str(STANDIN))


def test_upstream_import_error_names_the_extra(upstream_packages, checkpoint, tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "hubconf.py").write_text(textwrap.dedent("""
        from mmcv.utils import collect_env  # upstream's unguarded import (mono/utils/comm.py)
        def metric3d_convnext_large(pretrain=False, **kwargs):
            return None
    """))
    with pytest.raises(MissingExtraError, match=r'dpbench\[metric3d\]'):
        load_model("metric3d", checkpoint=str(checkpoint), device="cpu", repo=str(clone))


def test_bad_options_are_refused(load):
    with pytest.raises(ModelOptionError, match="unknown variant 'vit-huge'"):
        load("metric3d-v2:vit-huge")
    with pytest.raises(ModelOptionError, match="unknown option"):
        load(pretrained=True)
    with pytest.raises(ModelOptionError, match="fp32 only"):
        load_model("metric3d", device="cpu", precision="fp16", repo=str(STANDIN))
    with pytest.raises(ModelOptionError, match="missing_focal must be one of"):
        load(missing_focal="guess")


def test_only_the_paper_variants_stand_for_paper_rows():
    from dpbench.report.identity import card_paper_method

    assert card_paper_method("metric3d:convnext-large") == "metric3d"
    assert card_paper_method("metric3d-v2:vit-giant2") == "metric3d_v2"
    assert card_paper_method("metric3d:convnext-tiny") is None
    assert card_paper_method("metric3d-v2:vit-small") is None


# --- end to end -----------------------------------------------------------------------------------------

def test_dpbench_run_on_the_sample_suite_uses_one_crop_per_domain(upstream_packages, checkpoint, tmp_path,
                                                                   monkeypatch):
    from click.testing import CliRunner

    from dpbench.cli import cli
    from dpbench.sample import generate_sample_suite
    from dpbench.store import list_runs

    generate_sample_suite(tmp_path / "data" / "sample", scale=0.25)
    log = tmp_path / "inputs.txt"
    monkeypatch.setenv("METRIC3D_STANDIN_LOG", str(log))
    result = CliRunner().invoke(cli, [
        "run", "--model", "metric3d", "-o", f"repo={STANDIN}", "--checkpoint", str(checkpoint),
        "--suite", "sample", "-d", "middlebury", "-d", "sintel", "--focal-mode", "gt", "--limit", "2",
        "--data-root", str(tmp_path / "data"), "--out", str(tmp_path / "runs"), "--no-progress", "--workers", "0",
    ])
    assert result.exit_code == 0, result.output
    (store,) = list_runs(tmp_path / "runs")
    manifest = store.manifest
    assert manifest["status"] == "complete"
    record = manifest["model"]
    assert record["name"] == "metric3d:convnext-large" and record["route"] == "torch.hub"
    assert record["crop_by_domain"]["indoor"] == [512, 1088] and record["crop_by_domain"]["mixed"] == [512, 992]
    assert record["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    rows = store.rows()
    assert (rows["status"] == "ok").all() and set(rows["dataset"]) == {"middlebury", "sintel"}
    assert set(rows.loc[rows["task"] == "metric_depth", "focal_source"]) == {"gt"}
    # middlebury (indoor) ran at 512×1088, sintel (mixed -> the outdoor crop) at 512×992
    shapes = log.read_text().split()
    assert shapes == ["1x3x512x1088"] * 2 + ["1x3x512x992"] * 2
    variants = rows.groupby("dataset")["model_variant"].agg(set).to_dict()  # recorded on every row
    assert variants == {"middlebury": {"crop 512x1088"}, "sintel": {"crop 512x992"}}
    json.dumps(record)  # the record is plain JSON
    # chosen while predicting, so recorded when the run ends
    assert manifest["model_observed"]["crops_by_dataset"] == {
        "middlebury": {"domain": "indoor", "crop": [512, 1088]},
        "sintel": {"domain": "mixed", "crop": [512, 992]}}
