"""``marigold``: the error path without diffusers, the card defaults, and post-processing of faked
pipeline outputs in both diffusers output layouts (weights cannot be fetched offline)."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from dpbench.errors import MissingExtraError, ModelError
from dpbench.models import get_model_info, load_model
from dpbench.models.marigold import MarigoldDepth, marigold_card, prediction_to_depth
from dpbench.types import Sample

H, W = 12, 20


class Output:
    def __init__(self, prediction):
        self.prediction = prediction


class NewStylePipeline:
    """Mimics diffusers >= 0.32: ``output_type``, predictions N×H×W×1 numpy."""

    device = torch.device("cpu")

    def __init__(self, result):
        self.result = result
        self.calls = []

    def __call__(self, image, num_inference_steps=None, ensemble_size=1, processing_resolution=None,
                 match_input_resolution=True, generator=None, output_type="np",
                 output_uncertainty=False, **kwargs):
        self.calls.append(dict(image=image, num_inference_steps=num_inference_steps,
                               ensemble_size=ensemble_size, processing_resolution=processing_resolution,
                               match_input_resolution=match_input_resolution, generator=generator,
                               output_type=output_type, output_uncertainty=output_uncertainty, **kwargs))
        return Output(self.result)


class OldStylePipeline:
    """Mimics diffusers 0.28-0.31: ``output_prediction_format`` and visualisations, N×1×H×W."""

    device = None

    def __init__(self, result):
        self.result = result
        self.kwargs = None

    def __call__(self, image, num_inference_steps=None, ensemble_size=1, processing_resolution=None,
                 match_input_resolution=True, generator=None, output_prediction_format="np",
                 output_visualization=True, output_uncertainty=True):
        self.kwargs = dict(output_prediction_format=output_prediction_format,
                           output_visualization=output_visualization, output_uncertainty=output_uncertainty,
                           generator=generator)
        return Output(self.result)


@pytest.fixture
def image(rng):
    return rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)


def test_card_and_registry():
    card = marigold_card()
    assert card["output_kind"] == "relative_depth"
    repo = card["defaults"]["repo"]
    info, arg = get_model_info("marigold")
    assert arg == repo and info.extra == "marigold" and info.output_kind == "relative_depth"
    assert "diffusers" in info.requires
    _, arg = get_model_info("marigold:prs-eth/marigold-depth-lcm-v1-0")
    assert arg == "prs-eth/marigold-depth-lcm-v1-0"


def test_missing_diffusers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(MissingExtraError, match=r'pip install "dpbench\[marigold\]"') as info:
        load_model("marigold")
    assert info.value.extra == "marigold" and info.value.module == "diffusers"
    with pytest.raises(MissingExtraError, match="marigold"):
        MarigoldDepth("prs-eth/marigold-depth-v1-0")  # the wrapper's own import says the same


def test_new_style_pipeline_output(image, rng):
    values = rng.uniform(0, 1, size=(1, H, W, 1)).astype(np.float32)
    pipeline = NewStylePipeline(values)
    model = MarigoldDepth("some/repo", pipeline=pipeline, num_inference_steps=4)
    assert model.output_kind == "relative_depth"
    pred = model.predict(Sample("s", image))
    np.testing.assert_array_equal(pred.depth, values[0, :, :, 0])
    call = pipeline.calls[0]
    assert isinstance(call["image"], Image.Image) and call["image"].size == (W, H)
    np.testing.assert_array_equal(np.asarray(call["image"]), image)
    assert call["num_inference_steps"] == 4 and call["ensemble_size"] == 1  # card default
    assert call["output_type"] == "np" and call["match_input_resolution"] is True
    assert call["processing_resolution"] is None  # left to the checkpoint's config
    assert "output_prediction_format" not in call and "output_visualization" not in call
    # the seed makes the generator deterministic
    g1 = call["generator"]
    model.predict(image)
    g2 = pipeline.calls[1]["generator"]
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


def test_old_style_pipeline_output_and_resize(image, rng):
    small = rng.uniform(0, 1, size=(1, 1, 6, 10)).astype(np.float32)
    pipeline = OldStylePipeline(torch.from_numpy(small))
    pred = MarigoldDepth("some/repo", pipeline=pipeline, seed=7).predict(image)
    expected = cv2.resize(small[0, 0], (W, H), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(pred.depth, expected, rtol=1e-6)
    assert pipeline.kwargs["output_prediction_format"] == "np"
    assert pipeline.kwargs["output_visualization"] is False and pipeline.kwargs["output_uncertainty"] is False


def test_prediction_formats_by_hand():
    pil16 = Image.fromarray(np.array([[0, 65535], [32768, 13107]], dtype=np.uint16))
    np.testing.assert_allclose(prediction_to_depth(pil16, 2, 2), [[0.0, 1.0], [32768 / 65535, 0.2]], rtol=1e-6)
    np.testing.assert_array_equal(prediction_to_depth(np.ones((2, 3)), 2, 3), np.ones((2, 3), np.float32))
    with pytest.raises(ModelError, match=r"single-channel prediction, got shape \(2, 2, 3, 3\)"):
        prediction_to_depth(np.zeros((2, 2, 3, 3)), 3, 3)


def test_pipeline_without_prediction_field(image):
    class Broken:
        def __call__(self, image):
            return object()

    with pytest.raises(ModelError, match="no 'prediction' field"):
        MarigoldDepth("x", pipeline=Broken()).predict(image)


def test_describe_records_settings(image):
    model = MarigoldDepth("some/repo", pipeline=NewStylePipeline(np.zeros((1, H, W, 1))), ensemble_size=5)
    info = model.describe()
    assert info["repo"] == "some/repo" and info["ensemble_size"] == 5 and info["seed"] == 0
    assert info["num_inference_steps"] == "pipeline default" and info["output_kind"] == "relative_depth"


def test_offline_loads_from_the_cache_only_and_hints_hf_download(monkeypatch):
    import types

    seen = {}

    class Pipeline:
        @staticmethod
        def from_pretrained(repo, **kwargs):
            seen.update(kwargs)
            raise OSError("not in the cache")

    monkeypatch.setitem(sys.modules, "diffusers", types.SimpleNamespace(MarigoldDepthPipeline=Pipeline))
    monkeypatch.setenv("DPBENCH_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"`hf download some/repo`") as info:
        MarigoldDepth._load_pipeline("some/repo", "cpu", "fp32")
    assert seen["local_files_only"] is True and "huggingface-cli" not in str(info.value)
