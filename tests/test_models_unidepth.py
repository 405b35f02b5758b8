"""UniDepth (``unidepth``): the torch.hub route with a local stand-in of upstream's repository.

The stand-in (tests/standins/unidepth) has upstream's entry name, keywords, ``infer`` signatures,
output keys and the V1 xformers trap; it records the tensors dpbench hands over and returns known
maps. No network: weights are written here and passed as a checkpoint.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dpbench.errors import ModelError  # noqa: E402
from dpbench.models import get_model_info, load_model  # noqa: E402
from dpbench.models import unidepth as ud  # noqa: E402
from dpbench.models.base import ModelOptionError  # noqa: E402
from dpbench.resources import load_toml, resource_path  # noqa: E402
from dpbench.types import Sample  # noqa: E402

STANDIN = Path(__file__).parent / "standins" / "unidepth"
H, W = 12, 16


def standin_network(version: str = "v1", backbone: str = "vitl14"):
    """Upstream's hub entry of the stand-in, built as dpbench builds it (no weights)."""
    return torch.hub.load(str(STANDIN), "UniDepth", source="local", version=version, backbone=backbone,
                          pretrained=False)


def write_weights(path: Path, version: str = "v1", depth_scale: float = 2.0, focal_factor: float = 0.5,
                  drop: str | None = None) -> Path:
    """A ``pytorch_model.bin`` for the stand-in with known parameter values."""
    state = standin_network(version).state_dict()
    state["depth_scale"] = torch.tensor(depth_scale)
    state["focal_factor"] = torch.tensor(focal_factor)
    if drop:
        state.pop(drop)
    torch.save(state, path)
    return path


@pytest.fixture
def image():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)


@pytest.fixture
def weights_v1(tmp_path):
    return write_weights(tmp_path / "pytorch_model.bin")


def known_depth(scale: float) -> np.ndarray:
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    return scale * (1.0 + xs / W + 2.0 * ys / H)


def needs_no_xformers():
    if ud.xformers_nystrom_available():
        pytest.skip("xformers with components installed: the trap does not occur")


# --------------------------------------------------------------------------------------- registry/card
def test_registry_and_card():
    info, arg = get_model_info("unidepth")
    assert arg == "v1-vitl14" and info.extra == "unidepth" and info.output_kind == "metric_depth"
    assert "CC BY-NC 4.0" in info.description
    card = load_toml(resource_path("baselines", "models/unidepth.toml"))
    for key in ("route", "route_reason", "paper_variant", "weights", "input_resolution", "intrinsics", "license"):
        assert card.get(key), key
    assert card["route"] == "torch.hub" and "CC BY-NC 4.0" in card["license"]
    assert [v["model"] for v in card["variants"] if v.get("paper_method")] == ["unidepth"]
    assert card["variants"][0]["paper_method"] == "unidepth"
    assert set(card["args"]) == set(ud.VARIANTS)
    from dpbench.models.listing import model_rows
    from dpbench.report.identity import card_paper_method

    assert card_paper_method("unidepth") == "unidepth"
    row = next(r for r in model_rows() if r["name"].startswith("unidepth"))
    assert "CC BY-NC 4.0" in row["notes"] and "lpiccinelli/unidepth-v1-vitl14" in row["weights"]


# --------------------------------------------------------------------------------------- NystromAttention
def attention_by_loops(q, k, v):
    """softmax(q·kᵀ/√d)·v over the second-to-last axis, element by element."""
    q, k, v = (t.double().numpy() for t in (q, k, v))
    out = np.zeros_like(q)
    b_n, n_n, s_n, d = q.shape
    for b in range(b_n):
        for n in range(n_n):
            for i in range(s_n):
                scores = [sum(q[b, n, i, c] * k[b, n, j, c] for c in range(d)) / math.sqrt(d) for j in range(s_n)]
                top = max(scores)
                weights = [math.exp(s - top) for s in scores]
                total = sum(weights)
                for j in range(s_n):
                    out[b, n, i] += weights[j] / total * v[b, n, j]
    return out


def test_exact_nystrom_is_softmax_attention_over_the_heads_axis():
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 4, 5, generator=gen) for _ in range(3))  # (B, tokens, heads, dim)
    module = ud.exact_nystrom_attention()(num_landmarks=128, num_heads=4, dropout=0.0).eval()
    assert list(module.parameters()) == []
    out = module(q, k, v, key_padding_mask=None)
    assert out.shape == q.shape
    np.testing.assert_allclose(out.double().numpy(), attention_by_loops(q, k, v), rtol=1e-5, atol=1e-6)


def test_exact_nystrom_refuses_what_it_does_not_reproduce():
    module = ud.exact_nystrom_attention()(num_landmarks=2, num_heads=4)
    q = torch.zeros(1, 2, 3, 4)
    with pytest.raises(ModelError, match="approximate Nystrom branch"):
        module(q, q, q)
    with pytest.raises(ModelError, match="padding mask"):
        ud.exact_nystrom_attention()(num_landmarks=128)(q, q, q, key_padding_mask=torch.zeros(1, 3))


def test_v1_trap_reproduced_and_replaced(image):
    needs_no_xformers()
    network = standin_network("v1")
    with pytest.raises(NotImplementedError, match="NystromAttention"):
        network.infer(torch.from_numpy(image).permute(2, 0, 1))
    model = ud.UniDepthModel("v1-vitl14", network=network, device="cpu")
    assert model.nystrom_replaced == 1
    assert "dpbench exact softmax attention in 1 blocks" in model.describe()["nystrom_attention"]
    prediction = model.predict(image)
    assert prediction.depth.shape == (H, W)
    # the block's output is the exact attention of its own projections
    block = network.block
    tokens = float(image.mean()) / 255.0 * torch.ones(1, 6, 8)
    k, v = block.kv(tokens).reshape(1, 6, 2, 4, 2).unbind(dim=2)
    q = block.q(tokens).reshape(1, 6, 4, 2)
    expected = block.out(torch.from_numpy(attention_by_loops(q.detach(), k.detach(), v.detach())).float().reshape(1, 6, 8))
    torch.testing.assert_close(network.last_attention, expected, rtol=1e-5, atol=1e-6)


def test_v2_has_no_nystrom_blocks():
    model = ud.UniDepthModel("v2-vits14", network=standin_network("v2", "vits14"), device="cpu")
    assert model.nystrom_replaced == 0 and model.describe()["nystrom_attention"] == "not used (UniDepth V2)"


# --------------------------------------------------------------------------------------- pre/post-processing
def test_v1_with_a_focal_gets_k_at_the_input_resolution(image, weights_v1):
    model = load_model("unidepth", checkpoint=str(weights_v1), device="cpu", repo=str(STANDIN))
    assert model.name == "unidepth"
    prediction = model.predict(image, focal_px=20.0)
    call = model.network.calls[-1]
    rgbs = call["rgbs"]
    assert rgbs.dtype == torch.uint8 and tuple(rgbs.shape) == (1, 3, H, W)
    assert torch.equal(rgbs[0], torch.from_numpy(image).permute(2, 0, 1))
    expected_k = torch.tensor([[20.0, 0.0, (W - 1) / 2], [0.0, 20.0, (H - 1) / 2], [0.0, 0.0, 1.0]])
    assert call["intrinsics"].dtype == torch.float32 and torch.equal(call["intrinsics"], expected_k)
    # weights were loaded: depth_scale 2.0 and focal_factor 0.5 of the checkpoint
    np.testing.assert_allclose(prediction.depth, known_depth(2.0), rtol=1e-6)
    assert prediction.depth.dtype == np.float32
    assert prediction.focal_px == 20.0 and prediction.meta["focal_source"] == "given"
    assert prediction.meta["focal_px_estimated"] == pytest.approx(0.5 * W)
    assert prediction.meta["principal_point"] == "image_centre"
    assert prediction.meta["native_hw"] == (462, 616)
    from dpbench.tasks.focal import estimated_focal

    assert estimated_focal(prediction) == pytest.approx(0.5 * W)


def test_without_a_focal_unidepth_predicts_its_own(image, weights_v1):
    model = load_model("unidepth", checkpoint=str(weights_v1), device="cpu", repo=str(STANDIN))
    prediction = model.predict(Sample(id="s", image=image))
    assert model.network.calls[-1]["intrinsics"] is None
    assert prediction.focal_px == pytest.approx(0.5 * W) and prediction.meta["focal_source"] == "estimated"
    assert prediction.meta["intrinsics_estimated"] == pytest.approx([0.5 * W, 0.5 * W, W / 2, H / 2])


def test_principal_point_from_the_sample_and_intrinsics_none(image, weights_v1):
    model = load_model("unidepth", checkpoint=str(weights_v1), device="cpu", repo=str(STANDIN))
    sample = Sample(id="s", image=image, focal_px=30.0, meta={"intrinsics": [30.0, 31.0, 7.25, 5.5]})
    prediction = model.predict(sample, focal_px=30.0)
    k = model.network.calls[-1]["intrinsics"]
    assert (float(k[0, 2]), float(k[1, 2]), float(k[1, 1])) == (7.25, 5.5, 30.0)
    assert prediction.meta["principal_point"] == "meta"
    blind = load_model("unidepth", checkpoint=str(weights_v1), device="cpu", repo=str(STANDIN), intrinsics="none")
    prediction = blind.predict(sample, focal_px=30.0)
    assert blind.network.calls[-1]["intrinsics"] is None
    assert prediction.focal_px == pytest.approx(0.5 * W) and prediction.meta["focal_source"] == "estimated"
    assert prediction.meta["focal_px_given_ignored"] == 30.0
    assert blind.describe()["intrinsics"] == "none"


def test_v2_call_camera_and_resolution_level(image, tmp_path):
    weights = write_weights(tmp_path / "v2.bin", version="v2", depth_scale=3.0, focal_factor=0.25)
    model = load_model("unidepth:v2-vits14", checkpoint=str(weights), device="cpu", repo=str(STANDIN),
                       resolution_level=4)
    assert model.name == "unidepth:v2-vits14"
    prediction = model.predict(image, focal_px=11.0)
    call = model.network.calls[-1]
    assert call["rgb"].dtype == torch.uint8 and call["resolution_level"] == 4
    assert torch.equal(call["camera"], ud.intrinsics_matrix(11.0, (W - 1) / 2, (H - 1) / 2))
    np.testing.assert_allclose(prediction.depth, known_depth(3.0), rtol=1e-6)
    assert prediction.meta["focal_px_estimated"] == pytest.approx(0.25 * W)
    record = model.describe()
    assert record["variant"] == "v2-vits14" and record["resolution_level"] == 4
    assert record["hub_entry"] == "UniDepth(version='v2', backbone='vits14', pretrained=False)"


def test_describe_records_route_code_and_weights(weights_v1):
    from dpbench.runner.provenance import file_sha256

    record = load_model("unidepth", checkpoint=str(weights_v1), device="cpu", repo=str(STANDIN)).describe()
    assert record["route"] == "torch.hub" and record["upstream_code"] == "local"
    assert record["upstream_hubconf_sha256"] and record["upstream_entry"] == "UniDepth"
    assert record["checkpoint"] == str(weights_v1) and record["checkpoint_sha256"] == file_sha256(weights_v1)
    assert record["weights_repo"] == "lpiccinelli/unidepth-v1-vitl14" and record["paper_variant"] is True
    assert record["licence"].startswith("CC BY-NC 4.0")


# --------------------------------------------------------------------------------------- errors
def test_missing_weight_keys_are_an_error(tmp_path):
    weights = write_weights(tmp_path / "partial.bin", drop="block.q.weight")
    with pytest.raises(ModelError, match=r"lack 1 of the network's keys \(block.q.weight\)"):
        load_model("unidepth", checkpoint=str(weights), device="cpu", repo=str(STANDIN))


@pytest.mark.parametrize("name, options, message", [
    ("unidepth:v3-vitl14", {}, "unknown UniDepth variant"),
    ("unidepth", {"intrinsics": "exif"}, "choose one of gt, none"),
    ("unidepth", {"resolution_level": 3}, "V2 only"),
    ("unidepth:v2-vitl14", {"resolution_level": 10}, "integer 0..9"),
    ("unidepth", {"colour": 1}, r"unknown option\(s\) \['colour'\]"),
])
def test_bad_options(name, options, message):
    with pytest.raises(ModelOptionError, match=message):
        load_model(name, device="cpu", repo=str(STANDIN), **options)


def test_only_fp32():
    with pytest.raises(ModelOptionError, match="use fp32"):
        load_model("unidepth", device="cpu", precision="fp16")


def test_offline_without_hub_cache_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("DPBENCH_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(ModelError, match="offline and the torch.hub cache .* no copy of lpiccinelli-eth/UniDepth") as err:
        load_model("unidepth", device="cpu")
    assert time.monotonic() - started < 30 and "\n" not in str(err.value)


def test_offline_without_cached_weights_names_the_download(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"hf download lpiccinelli/unidepth-v1-vitl14 pytorch_model.bin") as err:
        load_model("unidepth", device="cpu", repo=str(STANDIN))
    assert "offline and not in the Hugging Face cache" in str(err.value) and "\n" not in str(err.value)


def test_missing_upstream_package_names_the_extra(tmp_path, weights_v1):
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "hubconf.py").write_text("import einops_not_installed_for_dpbench\n"
                                      "def UniDepth(version='v2', backbone='vitl14', pretrained=True):\n"
                                      "    return None\n")
    from dpbench.errors import MissingExtraError

    with pytest.raises(MissingExtraError, match=r'dpbench\[unidepth\]'):
        load_model("unidepth", checkpoint=str(weights_v1), device="cpu", repo=str(clone))


# --------------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    from click.testing import CliRunner

    from dpbench.cli import cli
    from dpbench.sample import generate_sample_suite
    from dpbench.store import list_runs

    base = tmp_path_factory.mktemp("unidepth_e2e")
    generate_sample_suite(base / "data" / "sample", scale=0.5)
    weights = write_weights(base / "pytorch_model.bin", depth_scale=2.0, focal_factor=0.5)
    result = CliRunner().invoke(cli, ["run", "--model", "unidepth", "-o", f"repo={STANDIN}",
                                      "--checkpoint", str(weights), "--device", "cpu", "--suite", "sample",
                                      "--data-root", str(base / "data"), "--out", str(base / "runs"),
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    (store,) = list_runs(base / "runs")
    return store, weights, base / "data"


def test_sample_suite_runs_end_to_end(sample_run):
    store, weights, _ = sample_run
    store.validate()
    manifest = store.manifest
    assert manifest["status"] == "complete" and manifest["model"]["name"] == "unidepth"
    assert manifest["model"]["route"] == "torch.hub" and manifest["model"]["checkpoint"] == str(weights)
    assert manifest["model"]["checkpoint_sha256"]
    rows = store.rows()
    assert (rows["status"] == "ok").all()
    assert {"metric_depth", "focal"} <= set(rows["task"])


def image_width(data: Path, sample_id: str) -> int:
    """Width of a focal sample's image as the loader sees it (EXIF orientation applied)."""
    from PIL import Image, ImageOps

    (path,) = data.rglob(sample_id)
    with Image.open(path) as img:
        return ImageOps.exif_transpose(img).width


def test_focal_task_scores_unidepths_predicted_focal(sample_run):
    store, _, data = sample_run
    rows = store.rows()
    focal = rows[rows["task"] == "focal"]
    assert len(focal) > 0
    for _, row in focal.iterrows():  # the stand-in predicts fx = 0.5 · W of the image it was given
        assert row["focal_pred"] == pytest.approx(0.5 * image_width(data, row["sample_id"]))
        assert row["focal_rel_err"] == pytest.approx(abs(row["focal_pred"] - row["focal_gt"]) / row["focal_gt"])
    depth = rows[rows["task"] == "metric_depth"]  # the sample suite gives no focal: UniDepth's own
    assert (depth["focal_source"] == "estimated").all()


def test_focal_mode_gt_gives_unidepth_k_and_the_focal_task_still_scores_its_own(sample_run, tmp_path):
    from click.testing import CliRunner

    from dpbench.cli import cli
    from dpbench.store import list_runs

    _, weights, data = sample_run
    result = CliRunner().invoke(cli, ["run", "--model", "unidepth", "-o", f"repo={STANDIN}",
                                      "--checkpoint", str(weights), "--device", "cpu", "--suite", "sample",
                                      "--focal-mode", "gt", "--limit", "1", "--data-root", str(data),
                                      "--out", str(tmp_path / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    (store,) = list_runs(tmp_path / "runs")
    rows = store.rows()
    assert (rows["status"] == "ok").all()
    depth = rows[rows["task"] == "metric_depth"]
    assert len(depth) > 0 and (depth["focal_source"] == "gt").all() and (depth["focal_px_used"] > 0).all()
    (focal,) = (row for _, row in rows[rows["task"] == "focal"].iterrows())
    assert focal["focal_pred"] == pytest.approx(0.5 * image_width(data, focal["sample_id"]))
