"""Depth Pro network: exact state-dict layout, geometry of the patch split/merge, forward shapes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from dpbench.models.depthpro.config import DEFAULT, TINY, DepthProConfig, ViTConfig, get_config
from dpbench.models.depthpro.encoder import merge_windows, split_windows, tokens_to_map
from dpbench.models.depthpro.network import build_network

# The shared reference list sits beside the repository (../shared); CI gets a copy there too.
REFERENCE_KEYS = Path(__file__).resolve().parents[2] / "shared" / "depthpro" / "state_dict_keys.txt"
# The same list, shipped with the tests so that they do not depend on the shared folder.
LOCAL_KEYS = Path(__file__).parent / "data" / "depthpro_state_dict_keys.txt"

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def read_key_list(path: Path) -> list[tuple[str, tuple[int, ...]]]:
    rows = []
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, shape, dtype = line.split("\t")
        assert dtype == "float32"
        rows.append((key, tuple(int(v) for v in shape.strip("[]").split(","))))
    return rows


@pytest.fixture(scope="module")
def meta_default():
    return build_network(DEFAULT, "meta")


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_network(TINY).eval()


def test_default_state_dict_matches_the_released_key_list(meta_default):
    path = REFERENCE_KEYS if REFERENCE_KEYS.is_file() else LOCAL_KEYS
    expected = read_key_list(path)
    assert len(expected) == 1119
    got = [(k, tuple(v.shape)) for k, v in meta_default.state_dict().items()]
    assert got == expected  # same keys, same shapes, same order
    assert sum(math.prod(s) for _, s in expected) == 951_991_330
    assert all(v.dtype == torch.float32 for v in meta_default.state_dict().values())


def test_shipped_key_list_is_the_reference_list():
    if not REFERENCE_KEYS.is_file():
        pytest.skip("shared reference list not present")
    assert read_key_list(LOCAL_KEYS) == read_key_list(REFERENCE_KEYS)


def test_default_geometry_is_the_released_one():
    assert DEFAULT.image_size == 1536
    assert [DEFAULT.window_stride(i) for i in (0, 1)] == [288, 192]
    assert [DEFAULT.window_steps(i) for i in (0, 1)] == [5, 3]
    assert [DEFAULT.merge_padding(i) for i in (0, 1)] == [3, 6]
    assert DEFAULT.fov_kernel_size == 6
    assert DEFAULT.vit.grid_size == 24


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"vit": ViTConfig(patch_size=14)}, "patch_size must be 16"),
        ({"hook_block_ids": (5, 24)}, "hook_block_ids"),
        ({"patch_overlaps": (0.3, 0.5)}, "pyramid level 0"),
        ({"decoder_features": 100}, "multiple of 8"),
    ],
)
def test_invalid_configs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        DepthProConfig(**changes)


def test_presets_by_name():
    assert get_config("default") is DEFAULT and get_config(None) is DEFAULT
    assert get_config("tiny") is TINY
    with pytest.raises(KeyError, match="tiny"):
        get_config("tiyn")


@pytest.mark.parametrize("config", [DEFAULT, TINY], ids=["default", "tiny"])
def test_split_then_merge_recovers_the_layout(config):
    """An image whose 16-px cells carry their own (row, col) merges back to the cell grid."""
    for level, scale in ((0, 1), (1, 2)):
        size = config.image_size // scale
        cells = size // config.vit.patch_size
        rows = torch.arange(cells, dtype=torch.float32).repeat_interleave(config.vit.patch_size)
        image = torch.stack([rows[:, None].expand(size, size), rows[None, :].expand(size, size)])
        image = torch.stack([image, image + 1000])  # batch of 2, distinguishable
        windows = split_windows(image, config.vit.img_size, config.patch_overlaps[level])
        steps = config.window_steps(level)
        assert windows.shape == (2 * steps * steps, 2, config.vit.img_size, config.vit.img_size)
        # window k of image b sits at k*B + b; window (row r, col c) has k = r*steps + c
        stride = config.window_stride(level)
        assert torch.equal(windows[2 * (1 * steps + 2) + 1], image[1, :, stride : stride + config.vit.img_size,
                                                                   2 * stride : 2 * stride + config.vit.img_size])
        # one value per token, as a ViT would emit
        grid = config.vit.grid_size
        tokens = windows[..., :: config.vit.patch_size, :: config.vit.patch_size]
        assert tokens.shape[-1] == grid
        merged = merge_windows(tokens, batch_size=2, padding=config.merge_padding(level))
        expected_cells = torch.arange(cells, dtype=torch.float32)
        assert merged.shape == (2, 2, cells, cells)
        assert torch.equal(merged[0, 0], expected_cells[:, None].expand(cells, cells))
        assert torch.equal(merged[0, 1], expected_cells[None, :].expand(cells, cells))
        assert torch.equal(merged[1], merged[0] + 1000)


def test_tokens_to_map_is_row_major_without_class_token():
    tokens = torch.arange(2 * 10 * 3, dtype=torch.float32).reshape(2, 10, 3)  # 1 class + 3×3 grid
    grid = tokens_to_map(tokens, 3)
    assert grid.shape == (2, 3, 3, 3)
    assert torch.equal(grid[1, :, 0, 2], tokens[1, 1 + 2])  # row 0, col 2 = token 3
    assert torch.equal(grid[0, :, 2, 0], tokens[0, 1 + 6])  # row 2, col 0 = token 7


def test_tiny_forward_shapes(tiny):
    x = torch.rand(2, 3, TINY.image_size, TINY.image_size) * 2 - 1
    with torch.inference_mode():
        canonical, fov = tiny(x)
        levels = tiny.encoder(x)
    assert canonical.shape == (2, 1, 512, 512)
    assert fov.shape == (2, 1, 1, 1)
    assert torch.isfinite(canonical).all() and (canonical >= 0).all()
    grid = TINY.vit.grid_size
    dims = TINY.encoder_feature_dims
    assert [tuple(t.shape[1:]) for t in levels] == [
        (TINY.decoder_features, 32 * grid, 32 * grid),
        (dims[0], 16 * grid, 16 * grid),
        (dims[1], 8 * grid, 8 * grid),
        (dims[2], 4 * grid, 4 * grid),
        (dims[3], 2 * grid, 2 * grid),
    ]


def test_forward_rejects_wrong_input_size(tiny):
    with pytest.raises(ValueError, match="B×3×512×512"):
        tiny(torch.zeros(1, 3, 256, 256))


def test_block_outputs_match_the_plain_forward(tiny):
    vit = tiny.encoder.patch_encoder
    x = torch.rand(3, 3, 128, 128)
    with torch.inference_mode():
        tokens, (first, second) = vit.forward_with_block_outputs(x, (1, 2), keep_first=2)
        assert torch.equal(tokens, vit.forward_features(x))
        assert torch.equal(tokens, vit(x))
        # the hooked outputs are those of blocks 1 and 2, before the final norm
        h = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(x))))
        outs = []
        for block in vit.blocks:
            h = block(h)
            outs.append(h)
    assert first.shape == (2, 65, 64)
    assert torch.equal(first, outs[1][:2]) and torch.equal(second, outs[2][:2])


def test_lowres_features_are_detached_for_the_fov_head(tiny):
    """The FoV loss must not reach the decoder: its input is the detached low-res map."""
    net = build_network(TINY)
    x = torch.rand(1, 3, 512, 512) * 2 - 1
    _, fov = net(x)
    fov.sum().backward()
    assert net.decoder.convs[4].weight.grad is None
    assert net.fov.downsample[0].weight.grad is not None
    assert net.fov.encoder[0].blocks[0].attn.qkv.weight.grad is not None


def _reference_forward(net, x):
    """The unbanded, unchunked order: all windows in one ViT pass, full maps through the head."""
    patch_chunk = net.encoder.patch_chunk
    net.encoder.patch_chunk = None
    try:
        levels = net.encoder(x)
        features, lowres = net.decoder(levels)
    finally:
        net.encoder.patch_chunk = patch_chunk
    for layer in net.head:
        features = layer(features)
    return features, net.fov(x, lowres)


@pytest.mark.parametrize("bands, chunk", [(1, None), (4, 8), (3, 1), (5, 7), (100, 35)])
def test_banded_head_and_chunked_patch_encoder_equal_the_plain_order(tiny, bands, chunk):
    """Bands of the finest level (any count, even one 8-row band per step) and patch-encoder
    chunks of any size give the same outputs as the whole-map, single-pass computation."""
    torch.manual_seed(1)
    x = torch.rand(2, 3, TINY.image_size, TINY.image_size) * 2 - 1
    tiny.fine_bands, tiny.encoder.patch_chunk = bands, chunk
    try:
        with torch.inference_mode():
            canonical, fov = tiny(x)
            expected, expected_fov = _reference_forward(tiny, x)
    finally:
        tiny.fine_bands, tiny.encoder.patch_chunk = 4, 8
    assert canonical.shape == expected.shape == (2, 1, 512, 512)
    assert float(expected.abs().max()) > 0
    torch.testing.assert_close(canonical, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fov, expected_fov, rtol=1e-5, atol=1e-5)


def test_band_edges_are_not_visible(tiny, monkeypatch):
    """A halo too small would corrupt rows next to band edges: compare row by row near them.

    With direct convolutions; the Winograd path's rounding depends on its tile grid (1e-6 level).
    """
    from dpbench.models.depthpro import conv

    monkeypatch.setattr(conv, "FAST_CPU_CONV", False)
    torch.manual_seed(2)
    x = torch.rand(1, 3, TINY.image_size, TINY.image_size) * 2 - 1
    with torch.inference_mode():
        tiny.fine_bands = 1
        whole, _ = tiny(x)
        tiny.fine_bands = 32  # 8-row bands at 256 rows: an edge every 16 output rows
        banded, _ = tiny(x)
    tiny.fine_bands = 4
    assert float(whole.abs().max()) > 0
    assert (banded - whole).abs().amax(dim=(0, 1, 3)).max() <= 1e-6 * float(whole.abs().max())


def test_encoder_deferred_level0_equals_forward(tiny):
    x = torch.rand(1, 3, TINY.image_size, TINY.image_size) * 2 - 1
    with torch.inference_mode():
        levels = tiny.encoder(x)
        latent0, rest = tiny.encoder.forward_deferred(x)
        upsampled = tiny.encoder.upsample_latent0(latent0)
    assert latent0.shape == (1, TINY.vit.embed_dim, 4 * TINY.vit.grid_size, 4 * TINY.vit.grid_size)
    assert torch.equal(upsampled, levels[0])
    assert all(torch.equal(a, b) for a, b in zip(rest, levels[1:], strict=True))


@pytest.mark.parametrize("bias", [True, False])
def test_conv3x3_fast_path_equals_the_direct_convolution(bias):
    from dpbench.models.depthpro import conv

    torch.manual_seed(3)
    layer = conv.Conv3x3(24, 16, bias=bias).eval()
    x = torch.randn(2, 24, 37, 29)
    with torch.inference_mode():
        expected = torch.nn.functional.conv2d(x.double(), layer.weight.double(),
                                              None if layer.bias is None else layer.bias.double(), padding=1)
        fast = layer(x)
        channels_last = layer(x.contiguous(memory_format=torch.channels_last))
        previous, conv.FAST_CPU_CONV = conv.FAST_CPU_CONV, False
        try:
            direct = layer(x)
        finally:
            conv.FAST_CPU_CONV = previous
    scale = float(expected.abs().max())
    for out in (fast, channels_last, direct):
        assert out.shape == (2, 16, 37, 29) and out.dtype == torch.float32
        assert float((out.double() - expected).abs().max()) <= 1e-5 * scale


def test_conv3x3_takes_nnpack_only_for_float32_cpu_inference(monkeypatch):
    from dpbench.models.depthpro import conv

    calls = []

    def fake_nnpack(x, weight, bias, padding, stride):
        calls.append(1)
        return torch.nn.functional.conv2d(x, weight, bias, padding=padding, stride=stride)

    monkeypatch.setattr(conv, "nnpack_available", lambda: True)
    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", fake_nnpack)
    layer = conv.Conv3x3(4, 4)
    x = torch.randn(1, 4, 8, 8)
    layer(x).sum().backward()  # training: autograd needs the regular conv
    assert calls == [] and layer.weight.grad is not None
    with torch.no_grad():
        layer(x)
    assert calls == [1]
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        layer(x)  # reduced precision: the regular (autocast) conv
    with torch.inference_mode():
        layer(x)
    assert calls == [1, 1]
    monkeypatch.setattr(conv, "FAST_CPU_CONV", False)
    with torch.inference_mode():
        layer(x)
    assert calls == [1, 1]


@pytest.mark.parametrize("bias", [True, False])
def test_transposed_conv_as_matrix_product_equals_conv_transpose2d(bias):
    from dpbench.models.depthpro import conv

    torch.manual_seed(4)
    layer = conv.ConvTranspose2x2(12, 20, bias=bias).eval()
    x = torch.randn(2, 12, 7, 5)
    with torch.inference_mode():
        expected = torch.nn.functional.conv_transpose2d(
            x.double(), layer.weight.double(), None if layer.bias is None else layer.bias.double(), stride=2)
        fast = layer(x)
        from_channels_last = layer(x.contiguous(memory_format=torch.channels_last))
    scale = float(expected.abs().max())
    for out in (fast, from_channels_last):
        assert out.shape == (2, 20, 14, 10)
        assert float((out.double() - expected).abs().max()) <= 1e-6 * scale


def test_upsample_then_project_folds_the_1x1_conv():
    from dpbench.models.depthpro import conv

    torch.manual_seed(5)
    deconv = conv.ConvTranspose2x2(8, 6, bias=False)
    project = torch.nn.Conv2d(6, 10, kernel_size=1, bias=True)
    x = torch.randn(1, 8, 6, 9)
    with torch.inference_mode():
        expected = project(deconv(x))
        folded = conv.upsample_then_project(deconv, project, x)
    torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-6)
    # with autograd the modules run as they are, so gradients reach both
    conv.upsample_then_project(deconv, project, x).sum().backward()
    assert deconv.weight.grad is not None and project.weight.grad is not None
    with pytest.raises(ValueError, match="bias"):
        conv.deconv2x2_matmul(x, deconv.weight, torch.zeros(6), project.weight, project.bias)
