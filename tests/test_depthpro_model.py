"""The registered ``depthpro`` model: predictions, batching, focal handling, provenance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dpbench.models import get_model_info, load_model
from dpbench.models.depthpro.config import TINY
from dpbench.models.depthpro.network import build_network
from dpbench.types import Prediction, Sample

FOV_DEG = 40.0

pytestmark = pytest.mark.usefixtures("torch_single_thread")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(11)
    network = build_network(TINY)
    with torch.no_grad():
        network.head[4].bias.fill_(0.3)
        network.fov.head[4].weight.zero_()
        network.fov.head[4].bias.fill_(FOV_DEG)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    torch.save(network.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def model(checkpoint):
    return load_model("depthpro", checkpoint=str(checkpoint), device="cpu", config="tiny", batch_size=2)


def image(seed, h, w):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_registry_card():
    info, arg = get_model_info("depthpro")
    assert arg is None and info.output_kind == "metric_depth" and not info.reads_ground_truth
    assert info.weights is not None and all(isinstance(p, str) for p, _ in info.weights())


def test_predict_returns_metric_depth_at_input_size(model):
    prediction = model.predict(image(0, 60, 90))
    assert isinstance(prediction, Prediction)
    assert prediction.depth.shape == (60, 90) and prediction.depth.dtype == np.float32
    assert np.isfinite(prediction.depth).all() and (prediction.depth > 0).all()
    focal = 0.5 * 90 / math.tan(0.5 * math.radians(FOV_DEG))
    assert prediction.focal_px == pytest.approx(focal, rel=1e-5)
    meta = prediction.meta
    assert meta["focal_source"] == "estimated" and meta["focal_px_estimated"] == prediction.focal_px
    assert meta["fov_deg_estimated"] == pytest.approx(FOV_DEG, abs=1e-4)
    assert meta["native_hw"] == [512, 512] and meta["seconds"] > 0 and meta["precision"] == "fp32"


def test_known_focal_from_a_sample(model):
    sample = Sample(id="s0", image=image(1, 48, 64), focal_px=70.0)
    estimated = model.predict(sample)
    given = model.predict(sample, focal_px=sample.focal_px)
    assert given.focal_px == 70.0 and given.meta["focal_source"] == "given"
    assert given.meta["focal_px_estimated"] == pytest.approx(estimated.focal_px)
    np.testing.assert_allclose(given.depth / estimated.depth, 70.0 / estimated.focal_px, rtol=1e-5)


def test_predict_batch_groups_sizes_and_keeps_order(model):
    inputs = [image(2, 40, 50), image(3, 30, 30), image(4, 40, 50), image(5, 40, 50)]
    focals = [None, 80.0, None, 90.0]
    batch = model.predict_batch(inputs, focals)
    assert [p.depth.shape for p in batch] == [(40, 50), (30, 30), (40, 50), (40, 50)]
    # three 40×50 images with batch_size 2 → chunks of 2 and 1; one 30×30 → a chunk of 1
    assert [p.meta["batch_size"] for p in batch] == [2, 1, 2, 1]
    for prediction, x, f in zip(batch, inputs, focals, strict=True):
        single = model.predict(x, focal_px=f)
        np.testing.assert_allclose(prediction.depth, single.depth, rtol=1e-5)
        assert prediction.meta["focal_source"] == ("estimated" if f is None else "given")
    with pytest.raises(ValueError, match="2 inputs but 1 focal"):
        model.predict_batch(inputs[:2], [None])


def test_describe_records_provenance(model, checkpoint):
    import hashlib

    info = model.describe()
    assert info["name"] == "depthpro" and info["output_kind"] == "metric_depth"
    assert info["checkpoint"] == str(checkpoint)
    assert info["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert info["checkpoint_layout"] == "native" and info["config"] == "tiny"
    assert info["device"] == "cpu" and info["precision"] == "fp32" and info["native_hw"] == [512, 512]


def test_bad_images_are_refused(model):
    with pytest.raises(ValueError, match="uint8"):
        model.predict(np.zeros((10, 10), np.uint8))


def test_unusable_focal_estimate_is_not_reported_as_a_focal(tmp_path):
    network = build_network(TINY)
    with torch.no_grad():
        network.fov.head[4].weight.zero_()
        network.fov.head[4].bias.fill_(-10.0)  # a negative FoV: only broken weights do this
    path = tmp_path / "neg.pt"
    torch.save(network.state_dict(), path)
    model = load_model("depthpro", checkpoint=str(path), device="cpu", config="tiny")
    prediction = model.predict(image(7, 32, 32))
    assert prediction.focal_px is None and prediction.meta["focal_px_estimated"] < 0


def test_random_weights_and_compile_option(monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda module: compiled.append(module) or module)
    model = load_model("depthpro", device="cpu", precision="bf16", config="tiny", pretrained=False, compile=True)
    assert compiled == [model.network] and model.describe()["compiled"] is True
    assert model.describe()["checkpoint"] is None and model.describe()["precision"] == "bf16"
    prediction = model.predict(image(8, 32, 48))
    assert prediction.depth.shape == (32, 48) and prediction.meta["precision"] == "bf16"


def test_unknown_precision_is_refused(checkpoint):
    with pytest.raises(ValueError, match="precision must be one of"):
        load_model("depthpro", checkpoint=str(checkpoint), device="cpu", precision="fp8", config="tiny")
