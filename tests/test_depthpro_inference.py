"""Depth Pro inference recipe: normalisation, FoV → focal → metric depth, focal override, batching."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from dpbench.models.depthpro.config import TINY
from dpbench.models.depthpro.inference import infer, normalize_images
from dpbench.models.depthpro.network import build_network

FOV_DEG = 50.0

pytestmark = pytest.mark.usefixtures("torch_single_thread")


@pytest.fixture(scope="module")
def net():
    """Tiny network with random weights whose FoV head outputs exactly FOV_DEG."""
    torch.manual_seed(1)
    network = build_network(TINY).eval()
    with torch.no_grad():
        network.head[4].bias.fill_(0.2)  # keep the canonical inverse depth away from zero
        network.fov.head[4].weight.zero_()
        network.fov.head[4].bias.fill_(FOV_DEG)
    return network


def random_image(rng, h, w):
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_normalisation_is_the_released_transform(rng):
    image = random_image(rng, 5, 7)
    x = normalize_images(image)
    assert x.shape == (1, 3, 5, 7) and x.dtype == torch.float32
    expected = (image.astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
    np.testing.assert_array_equal(x[0].permute(1, 2, 0).numpy(), expected)
    assert x.min() >= -1 and x.max() <= 1


def test_normalisation_refuses_bad_images(rng):
    with pytest.raises(ValueError, match="uint8"):
        normalize_images(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="share a size"):
        normalize_images([random_image(rng, 4, 4), random_image(rng, 4, 5)])


def test_depth_at_network_size_is_hand_computable(net, rng):
    """No resize: depth = 1 / clamp(C · W / f), f = 0.5 W / tan(0.5 · FoV)."""
    image = random_image(rng, 512, 512)
    out = infer(net, image)
    width = 512
    focal = 0.5 * width / math.tan(0.5 * math.radians(FOV_DEG))
    assert out.focal_source == ["estimated"]
    assert out.focal_px[0] == pytest.approx(focal, rel=1e-6)
    assert out.focal_px_estimated[0] == out.focal_px[0]
    assert float(out.fov_deg[0]) == pytest.approx(FOV_DEG, abs=1e-4)
    canonical = out.canonical_inverse_depth[0].double().numpy()
    expected = 1.0 / np.clip(canonical * width / focal, 1e-4, 1e4)
    np.testing.assert_allclose(out.depth[0].numpy(), expected, rtol=2e-6)


def test_resized_depth_follows_the_recipe(net, rng):
    """H×W ≠ S: the input and the inverse depth are resampled bilinearly with half-pixel centres."""
    height, width = 96, 200
    image = random_image(rng, height, width)
    out = infer(net, image)
    assert out.depth.shape == (1, height, width)
    # the network saw the normalised image stretched to S×S (independent resampler: OpenCV)
    normalised = (image.astype(np.float32) / 255 - 0.5) / 0.5
    stretched = cv2.resize(normalised, (512, 512), interpolation=cv2.INTER_LINEAR)
    with torch.inference_mode():
        canonical, _ = net(torch.from_numpy(stretched).permute(2, 0, 1)[None].contiguous())
    np.testing.assert_allclose(out.canonical_inverse_depth[0].numpy(), canonical[0, 0].numpy(), atol=2e-4)
    focal = 0.5 * width / math.tan(0.5 * math.radians(FOV_DEG))  # ORIGINAL width
    assert out.focal_px[0] == pytest.approx(focal, rel=1e-6)
    inverse = out.canonical_inverse_depth[0].numpy() * np.float32(width / focal)
    inverse_small = cv2.resize(inverse, (width, height), interpolation=cv2.INTER_LINEAR)
    expected = 1.0 / np.clip(inverse_small, 1e-4, 1e4)
    np.testing.assert_allclose(out.depth[0].numpy(), expected, rtol=1e-4)


def test_given_focal_overrides_the_estimate(net, rng):
    image = random_image(rng, 64, 80)
    estimated = infer(net, image)
    given = infer(net, image, f_px=123.0)
    assert given.focal_source == ["given"] and given.focal_px == [123.0]
    assert given.focal_px_estimated == estimated.focal_px_estimated  # still reported
    # depth ∝ f: the ratio of the two maps is the ratio of the focals (before the clamp)
    ratio = given.depth[0].numpy() / estimated.depth[0].numpy()
    np.testing.assert_allclose(ratio, 123.0 / estimated.focal_px[0], rtol=1e-5)


def test_mixed_batch_equals_single_runs(net, rng):
    images = [random_image(rng, 64, 80) for _ in range(3)]
    batch = infer(net, images, f_px=[None, 200.0, None])
    assert batch.focal_source == ["estimated", "given", "estimated"]
    for i, (image, f) in enumerate(zip(images, [None, 200.0, None], strict=True)):
        single = infer(net, image, f_px=f)
        np.testing.assert_allclose(batch.depth[i].numpy(), single.depth[0].numpy(), rtol=1e-5)
        assert batch.focal_px[i] == pytest.approx(single.focal_px[0], rel=1e-6)


def test_focal_arguments_are_checked(net, rng):
    image = random_image(rng, 64, 64)
    with pytest.raises(ValueError, match="2 focal lengths for 1 images"):
        infer(net, image, f_px=[1.0, 2.0])
    with pytest.raises(ValueError, match="finite positive"):
        infer(net, image, f_px=-3.0)


def test_tensor_input_is_accepted(net, rng):
    image = random_image(rng, 64, 64)
    from_array = infer(net, image)
    from_tensor = infer(net, normalize_images(image)[0])
    assert torch.equal(from_array.depth, from_tensor.depth)


def test_without_fov_head_a_focal_is_required(rng):
    network = build_network(TINY.with_(use_fov_head=False)).eval()
    assert not hasattr(network, "fov")
    image = random_image(rng, 64, 64)
    with pytest.raises(ValueError, match="no FoV head"):
        infer(network, image)
    out = infer(network, image, f_px=60.0)
    assert out.focal_px_estimated == [None] and out.fov_deg is None


def test_bfloat16_stays_close_to_float32(net, rng):
    image = random_image(rng, 64, 64)
    reference = infer(net, image)
    low = infer(net, image, dtype=torch.bfloat16)
    assert low.depth.dtype == torch.float32  # the final arithmetic stays float32
    rel = (low.depth - reference.depth).abs() / reference.depth
    assert float(rel.median()) < 0.05
    assert low.focal_px[0] == pytest.approx(reference.focal_px[0], rel=0.02)
