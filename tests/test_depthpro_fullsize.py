"""Opt-in full-size checks (DPBENCH_FULLSIZE=1): minutes of CPU and ~12 GB of memory.

The full network is compared with transformers' independent implementation of Depth Pro, both
holding the same weights: the released checkpoint when one is found ($DPBENCH_CHECKPOINTS or the
cache), otherwise random weights. Outputs must agree to float32 round-off.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpbench.models.depthpro import weights
from dpbench.models.depthpro.config import DEFAULT
from dpbench.models.depthpro.hf_keys import native_to_hf
from dpbench.models.depthpro.inference import infer, normalize_images
from dpbench.models.depthpro.model import load_network
from dpbench.models.depthpro.network import build_network

pytestmark = pytest.mark.fullsize

# Looked up at import, before the test fixtures isolate the environment from the user's folders.
RELEASED_CHECKPOINT = next((path for _, path in weights.lookup_paths() if path.is_file()), None)


def released_hf_model():
    """transformers' DepthProForDepthEstimation with the released architecture (random weights)."""
    transformers = pytest.importorskip("transformers")
    vit = dict(model_type="dinov2", num_hidden_layers=24, patch_size=16, hidden_size=1024,
               num_attention_heads=16, image_size=384, use_mask_token=False)
    config = transformers.DepthProConfig(image_model_config=dict(vit), patch_model_config=dict(vit),
                                         fov_model_config=dict(vit), use_fov_model=True)
    return transformers.DepthProForDepthEstimation(config).eval()


@pytest.fixture(scope="module")
def native():
    if RELEASED_CHECKPOINT is not None:
        network, _ = load_network(DEFAULT, RELEASED_CHECKPOINT)
        return network, True
    torch.manual_seed(0)
    network = build_network(DEFAULT).eval().requires_grad_(False)
    with torch.no_grad():
        network.head[4].bias.fill_(0.1)
    return network, False


def test_full_model_matches_transformers(native):
    network, pretrained = native
    hf = released_hf_model()
    hf.load_state_dict(native_to_hf(network.state_dict(), list(hf.state_dict())), strict=True)
    image = np.random.default_rng(0).integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    x = torch.nn.functional.interpolate(normalize_images(image), size=(1536, 1536), mode="bilinear",
                                        align_corners=False)
    with torch.inference_mode():
        canonical, fov = network(x)
        del network
        expected = hf(pixel_values=x)
    scale = float(expected.predicted_depth.abs().max())
    assert scale > 0
    torch.testing.assert_close(canonical[:, 0], expected.predicted_depth, rtol=1e-4, atol=1e-5 * scale)
    torch.testing.assert_close(fov.flatten(), expected.field_of_view, rtol=1e-4, atol=1e-4)


def test_released_checkpoint_gives_plausible_metric_depth(native):
    network, pretrained = native
    if not pretrained:
        pytest.skip("no released checkpoint found")
    # a synthetic scene: a sloping floor, brighter far away
    rows = np.linspace(0, 255, 480, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(rows, (480, 640, 3)).astype(np.uint8)
    out = infer(network, image)
    depth = out.depth[0].numpy()
    assert np.isfinite(depth).all() and (depth > 0).all()
    assert 100 < out.focal_px[0] < 5000
