"""Depth Pro checkpoints: round trips (native and Hugging Face layouts), refusals, look-up, download."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from dpbench.errors import CheckpointError
from dpbench.models.depthpro import weights
from dpbench.models.depthpro.config import TINY
from dpbench.models.depthpro.hf_keys import hf_to_native, native_to_hf
from dpbench.models.depthpro.model import load_network
from dpbench.models.depthpro.network import build_network

pytestmark = pytest.mark.usefixtures("torch_single_thread")


@pytest.fixture(scope="module")
def tiny_state():
    torch.manual_seed(3)
    network = build_network(TINY)
    with torch.no_grad():
        network.head[4].bias.fill_(0.25)
    return {k: v.clone() for k, v in network.state_dict().items()}


@pytest.fixture(scope="module")
def image_batch():
    generator = torch.Generator().manual_seed(5)
    return torch.rand(2, 3, 512, 512, generator=generator) * 2 - 1


def run(network, x):
    with torch.inference_mode():
        return network.eval()(x)


# -- native layout --------------------------------------------------------------------------------

def test_native_round_trip_is_exact(tmp_path, tiny_state, image_batch):
    path = tmp_path / "tiny.pt"
    torch.save(tiny_state, path)
    network, provenance = load_network(TINY, path)
    assert provenance == {"checkpoint": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                          "layout": "native"}
    reference = build_network(TINY)
    reference.load_state_dict(tiny_state, strict=True)
    got, want = run(network, image_batch), run(reference, image_batch)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert not any(p.requires_grad for p in network.parameters())


def test_half_precision_checkpoint_is_upcast(tmp_path, tiny_state):
    path = tmp_path / "tiny16.pt"
    torch.save({k: v.half() for k, v in tiny_state.items()}, path)
    network, _ = load_network(TINY, path)
    assert all(p.dtype == torch.float32 for p in network.parameters())
    key = "encoder.patch_encoder.blocks.0.attn.qkv.weight"
    assert torch.equal(network.state_dict()[key], tiny_state[key].half().float())


def test_missing_and_unexpected_keys_are_listed(tmp_path, tiny_state):
    state = dict(tiny_state)
    dropped = [k for k in state if ".blocks.3." in k and k.startswith("encoder.patch_encoder")]
    assert len(dropped) == 14
    for key in dropped:
        del state[key]
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        load_network(TINY, path)
    message = str(info.value)
    assert "14 missing key(s)" in message and "... and 4 more" in message
    assert sum(key in message for key in dropped) == 10  # the first 10 are named
    assert "1 unexpected key(s): extra.weight" in message
    assert str(path) in message


def test_wrong_shape_is_named(tmp_path, tiny_state):
    state = dict(tiny_state)
    state["decoder.convs.2.weight"] = torch.zeros(16, 8, 3, 3)
    path = tmp_path / "shape.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"decoder\.convs\.2\.weight: \(16, 8, 3, 3\) in the file, "
                                              r"\(16, 24, 3, 3\) expected"):
        load_network(TINY, path)


def test_default_architecture_refuses_a_tiny_checkpoint(tmp_path, tiny_state):
    path = tmp_path / "tiny.pt"
    torch.save(tiny_state, path)
    with pytest.raises(CheckpointError, match="missing key"):
        load_network("default", path)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_files_give_a_clear_error(tmp_path, tiny_state, damage):
    path = tmp_path / "broken.pt"
    torch.save(tiny_state, path)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00not a checkpoint" * 50,
                      "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        weights.read_state_dict(path)


class Payload:
    """An arbitrary object: a pickle containing it must not be loaded."""

    def __reduce__(self):
        return (print, ("this would run on unpickling",))


def test_arbitrary_pickles_are_refused(tmp_path):
    path = tmp_path / "pickle.pt"
    torch.save({"weight": torch.zeros(1), "payload": Payload()}, path)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        weights.read_state_dict(path)


def test_non_tensor_contents_are_refused(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(CheckpointError, match="mapping of parameter names to tensors"):
        weights.read_state_dict(path)


def test_explicit_path_must_exist(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found: .*nope.pt"):
        load_network(TINY, tmp_path / "nope.pt")


def test_folder_without_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint inside"):
        weights.read_state_dict(tmp_path)


def test_other_configs_need_an_explicit_checkpoint():
    with pytest.raises(CheckpointError, match="explicit checkpoint"):
        load_network(TINY)


# -- Hugging Face layout -------------------------------------------------------------------------

def tiny_hf_model():
    """A random transformers DepthProForDepthEstimation with the TINY architecture."""
    transformers = pytest.importorskip("transformers")
    vit = dict(model_type="dinov2", hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
               patch_size=16, image_size=128, mlp_ratio=4, layer_norm_eps=1e-6, use_mask_token=False)
    config = transformers.DepthProConfig(
        fusion_hidden_size=16, patch_size=128,
        intermediate_hook_ids=[2, 1], intermediate_feature_dims=[16, 16],  # later hook first
        scaled_images_ratios=[0.25, 0.5, 1], scaled_images_overlap_ratios=[0.0, 0.5, 0.25],
        scaled_images_feature_dims=[32, 32, 24], merge_padding_value=1, use_fov_model=True,
        image_model_config=dict(vit), patch_model_config=dict(vit), fov_model_config=dict(vit),
    )
    torch.manual_seed(7)
    model = transformers.DepthProForDepthEstimation(config).eval()
    with torch.no_grad():  # every tensor random, so that a mis-mapped one cannot go unnoticed
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.1)
        model.head.layers[4].bias.fill_(0.5)
    return model


@pytest.fixture(scope="module")
def hf_model():
    return tiny_hf_model()


def test_hf_checkpoint_gives_the_same_outputs_as_transformers(tmp_path, hf_model, image_batch):
    hf_model.save_pretrained(tmp_path / "hf")
    assert (tmp_path / "hf" / "model.safetensors").is_file()
    network, provenance = load_network(TINY, tmp_path / "hf")
    safetensors_file = tmp_path / "hf" / "model.safetensors"
    assert provenance["layout"] == "hf"
    assert provenance["sha256"] == hashlib.sha256(safetensors_file.read_bytes()).hexdigest()
    canonical, fov = run(network, image_batch)
    with torch.inference_mode():
        expected = hf_model(pixel_values=image_batch)
    assert float(expected.predicted_depth.abs().max()) > 0.1  # not a degenerate all-zero map
    torch.testing.assert_close(canonical[:, 0], expected.predicted_depth, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fov.flatten(), expected.field_of_view, rtol=1e-5, atol=1e-5)


def test_hf_legacy_attention_names_are_accepted(tmp_path, hf_model):
    safetensors = pytest.importorskip("safetensors.torch")
    legacy = {}
    for key, value in hf_model.state_dict().items():
        key = key.replace("attention.q_proj", "attention.attention.query")
        key = key.replace("attention.k_proj", "attention.attention.key")
        key = key.replace("attention.v_proj", "attention.attention.value")
        key = key.replace("attention.o_proj", "attention.output.dense")
        legacy[key] = value.contiguous()
    assert any("attention.attention.query" in k for k in legacy)
    path = tmp_path / "legacy.safetensors"
    safetensors.save_file(legacy, str(path))
    state, layout = weights.read_state_dict(path)
    assert layout == "hf"
    current = hf_to_native(hf_model.state_dict())
    assert state.keys() == current.keys()
    assert all(torch.equal(state[k], current[k]) for k in state)


def test_native_hf_native_round_trip(tiny_state, hf_model):
    hf_keys = list(hf_model.state_dict())
    converted = native_to_hf(tiny_state, hf_keys)
    assert set(converted) == set(hf_keys)
    back = hf_to_native(converted)
    assert back.keys() == tiny_state.keys()
    assert all(torch.equal(back[k], tiny_state[k]) for k in back)


def test_unknown_hf_keys_are_refused(hf_model):
    state = dict(hf_model.state_dict())
    state["depth_pro.something_new.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="something_new"):
        hf_to_native(state)
    state = {k: v for k, v in hf_model.state_dict().items() if "layer.0.attention.k_proj.weight" not in k}
    with pytest.raises(CheckpointError, match="lacks the k part"):
        hf_to_native(state)


# -- where the weights are looked up ------------------------------------------------------------

def test_lookup_order(tmp_path, monkeypatch):
    cache_file = weights.cache_dir() / "checkpoints" / "depth_pro.pt"
    env_folder = tmp_path / "env"
    env_folder.mkdir()
    explicit = tmp_path / "explicit.pt"
    explicit.write_bytes(b"x")
    monkeypatch.setenv("DPBENCH_CHECKPOINTS", str(env_folder))
    assert [path for _, path in weights.lookup_paths()] == [env_folder / "depth_pro.pt", cache_file]
    assert weights.weight_locations() == [(str(env_folder / "depth_pro.pt"), False), (str(cache_file), False)]
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"c")
    assert weights.resolve_checkpoint() == cache_file
    (env_folder / "depth_pro.pt").write_bytes(b"e")
    assert weights.resolve_checkpoint() == env_folder / "depth_pro.pt"
    assert weights.resolve_checkpoint(explicit) == explicit
    assert weights.weight_locations()[0][1] is True


def test_offline_error_says_where_to_put_the_file(monkeypatch):
    monkeypatch.setenv("DPBENCH_CHECKPOINTS", "/some/where")
    called = []
    monkeypatch.setattr(weights, "download_checkpoint", lambda **kw: called.append(kw))
    with pytest.raises(CheckpointError) as info:
        weights.resolve_checkpoint()  # HF_HUB_OFFLINE=1 is set for every test
    assert not called
    message = str(info.value)
    cache_file = weights.cache_dir() / "checkpoints" / "depth_pro.pt"
    assert "/some/where/depth_pro.pt" in message and str(cache_file) in message
    assert "https://ml-site.cdn-apple.com/models/depth-pro/depth_pro.pt" in message
    assert "apple/DepthPro" in message and "--checkpoint" in message and "Offline" in message


# -- download -------------------------------------------------------------------------------------

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/served."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def card_with(**changes):
    card = weights.model_card()
    card["weights"].update(changes)
    return card


def test_download_is_verified_and_atomic(monkeypatch, local_server, tiny_state):
    served, base = local_server
    torch.save(tiny_state, served / "depth_pro.pt")
    data = (served / "depth_pro.pt").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    card = card_with(url=f"{base}/depth_pro.pt", hf_repo="", size_bytes=len(data), sha256=digest)
    monkeypatch.setattr(weights, "model_card", lambda: card)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    path = weights.resolve_checkpoint(progress=False)
    target = weights.cache_dir() / "checkpoints" / "depth_pro.pt"
    assert path == target and target.read_bytes() == data
    assert list(target.parent.iterdir()) == [target]  # no partial file left behind
    assert weights.sha256_file(target) == digest
    network, provenance = load_network(TINY, path)
    assert provenance["sha256"] == digest


def test_download_with_wrong_hash_is_refused(monkeypatch, local_server):
    served, base = local_server
    (served / "depth_pro.pt").write_bytes(b"not the real weights")
    card = card_with(url=f"{base}/depth_pro.pt", hf_repo="", sha256="0" * 64)
    monkeypatch.setattr(weights, "model_card", lambda: card)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(CheckpointError) as info:
        weights.resolve_checkpoint(progress=False)
    assert "differs from the model card" in str(info.value)
    assert "Download attempts failed" in str(info.value)
    assert list((weights.cache_dir() / "checkpoints").iterdir()) == []


def test_download_falls_back_to_the_hub(monkeypatch, local_server):
    _, base = local_server
    calls = []

    def fake_hub(repo, filename, destination):
        calls.append((repo, filename))
        destination.write_bytes(b"weights from the hub")
        return hashlib.sha256(b"weights from the hub").hexdigest()

    card = card_with(url=f"{base}/missing.pt")  # the first source answers 404
    monkeypatch.setattr(weights, "model_card", lambda: card)
    monkeypatch.setattr(weights, "fetch_hf_hub", fake_hub)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    path = weights.resolve_checkpoint(progress=False)
    assert calls == [("apple/DepthPro", "depth_pro.pt")]
    assert path.read_bytes() == b"weights from the hub"


def test_sha256_is_streamed_and_memoised(tmp_path):
    path = tmp_path / "blob.bin"
    data = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)
    path.write_bytes(data)
    assert weights.sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert weights.sha256_file(Path(str(path))) == hashlib.sha256(data).hexdigest()
