"""ZeroDepth (``zerodepth``) with a stand-in of TRI-ML/vidar's hub entry (tests/standins/zerodepth).

The stand-in has upstream's entry name, keywords, call ``net(rgb, K)`` and output (B,1,H,W); its
depth is ``scale · fx/100 · (1 + red)`` so every value can be checked by hand, and it raises
torch's OOM error above ``max_pixels`` (its config) like ZeroDepth's per-pixel decoder.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from dpbench.errors import MissingExtraError, ModelError
from dpbench.models import get_model_info, load_model
from dpbench.models.base import ModelOptionError
from dpbench.resources import load_toml, resource_path
from dpbench.types import Sample

STANDIN = Path(__file__).parent / "standins" / "zerodepth"
CONFIG = "configs/papers/zerodepth/hub_zerodepth.yaml"


@pytest.fixture(autouse=True)
def fresh_upstream(monkeypatch, tmp_path):
    """Each test imports the stand-in anew, with an empty torch.hub cache and online."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("DPBENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield
    for name in [n for n in sys.modules if n == "vidar" or n.startswith("vidar.") or n == "hubconf"]:
        del sys.modules[name]


def clone(tmp_path: Path, max_pixels: int = 0, hubconf_prefix: str = "") -> Path:
    """A copy of the stand-in repository with its config's ``max_pixels`` set."""
    folder = tmp_path / "vidar"
    shutil.copytree(STANDIN, folder)
    (folder / CONFIG).write_text(f"networks:\n  perceiver:\n    max_pixels: {max_pixels}\n", encoding="utf-8")
    if hubconf_prefix:
        hubconf = folder / "hubconf.py"
        hubconf.write_text(hubconf_prefix + hubconf.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def write_checkpoint(path: Path, scale: float = 2.0, key: str = "module.networks.define.scale") -> Path:
    """A checkpoint in the upstream layout: {"state_dict": {"module.networks.define.<key>": ...}}."""
    torch.save({"state_dict": {key: torch.tensor([scale])}, "epoch": 3}, path)
    return path


def image(height=6, width=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_registered_with_a_card():
    info, arg = get_model_info("zerodepth")
    assert info.output_kind == "metric_depth" and info.extra == "zerodepth" and arg is None
    card = load_toml(resource_path("baselines", "models/zerodepth.toml"))
    assert card["route"] == "torch.hub" and "torch_scatter" in card["route_reason"]
    assert card["license"].lower().startswith("cc-by-nc-4.0") and card["needs_intrinsics"] is True
    paper_rows = [v for v in card["variants"] if v.get("paper_method")]
    assert [(v["model"], v["paper_method"]) for v in paper_rows] == [("zerodepth", "zerodepth")]


def test_hub_entry_gets_full_resolution_rgb_and_k(tmp_path, monkeypatch):
    repo = clone(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    model = load_model("zerodepth", device="cpu", repo=str(repo), build="hub")
    assert list(work.iterdir()) == []  # the entry's config file went to a scratch directory
    network = model.network
    assert network.pretrained is True and not network.training
    rgb = image(6, 8)
    prediction = model.predict(rgb, focal_px=250.0)
    (given_rgb, given_k), = network.received
    assert given_rgb.shape == (1, 3, 6, 8) and given_rgb.dtype == torch.float32
    np.testing.assert_allclose(given_rgb[0].permute(1, 2, 0).numpy(), rgb / 255.0, rtol=0, atol=1e-7)
    np.testing.assert_allclose(given_k[0].numpy(), [[250, 0, 3.5], [0, 250, 2.5], [0, 0, 1]])
    expected = 250.0 / 100.0 * (1.0 + rgb[..., 0] / 255.0)
    assert prediction.depth.shape == (6, 8) and prediction.depth.dtype == np.float32
    np.testing.assert_allclose(prediction.depth, expected, rtol=1e-6)
    assert prediction.meta["principal_point"] == "image_centre" and prediction.meta["native_hw"] == (6, 8)
    described = model.describe()
    assert described["route"] == "torch.hub (hub)" and described["entry"] == "ZeroDepth"
    assert described["code"] == "local" and len(described["hubconf_sha256"]) == 64


def test_principal_point_and_fy_from_the_sample(tmp_path):
    model = load_model("zerodepth", device="cpu", repo=str(clone(tmp_path)), build="hub")
    sample = Sample("s", image(10, 12), focal_px=100.0, meta={"intrinsics": [100.0, 110.0, 5.0, 4.0]})
    model.predict(sample, focal_px=80.0)  # e.g. an EXIF focal differing from the GT one
    k = model.network.received[-1][1][0].numpy()
    np.testing.assert_allclose(k, [[80, 0, 5], [0, 88, 4], [0, 0, 1]], rtol=1e-6)


def test_no_focal_is_a_clear_error(tmp_path):
    model = load_model("zerodepth", device="cpu", repo=str(clone(tmp_path)), build="hub")
    with pytest.raises(ModelError, match=r"sample 's' has no focal length.*--focal-mode gt or exif") as info:
        model.predict(Sample("s", image()), focal_px=None)
    assert "\n" not in str(info.value) and model.network.received == []


def test_config_build_loads_the_checkpoint_strictly(tmp_path):
    repo = clone(tmp_path)
    checkpoint = write_checkpoint(tmp_path / "ZeroDepth_unified.ckpt", scale=2.0)
    model = load_model("zerodepth", checkpoint=str(checkpoint), device="cpu", repo=str(repo))  # auto: config
    rgb = image(4, 6, seed=1)
    depth = model.predict(rgb, focal_px=50.0).depth
    np.testing.assert_allclose(depth, 2.0 * 0.5 * (1.0 + rgb[..., 0] / 255.0), rtol=1e-6)
    described = model.describe()
    assert described["route"] == "torch.hub (config)" and described["config"] == CONFIG
    import hashlib

    assert described["weights_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    bad = write_checkpoint(tmp_path / "bad.ckpt", key="module.networks.define.other")
    with pytest.raises(ModelError, match=r"bad\.ckpt does not fit the network: 1 missing key\(s\) \['scale'\]"):
        load_model("zerodepth", checkpoint=str(bad), device="cpu", repo=str(repo))


def test_config_build_offline_needs_the_files(tmp_path, monkeypatch):
    repo = clone(tmp_path)
    monkeypatch.setenv("DPBENCH_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"ZeroDepth_unified\.ckpt not found; download https://") as info:
        load_model("zerodepth", device="cpu", repo=str(repo))
    assert "\n" not in str(info.value)
    with pytest.raises(ModelOptionError, match="offline use build=config"):
        load_model("zerodepth", device="cpu", repo=str(repo), build="hub")
    checkpoints = tmp_path / "torch_home" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    write_checkpoint(checkpoints / "ZeroDepth_unified.ckpt", scale=1.0)
    with pytest.raises(ModelError, match=r"ImageNet ResNet-18.*resnet18-f37072fd\.pth"):
        load_model("zerodepth", device="cpu", repo=str(repo))
    (checkpoints / "resnet18-f37072fd.pth").write_bytes(b"stand-in")
    model = load_model("zerodepth", device="cpu", repo=str(repo))  # everything from the cache
    assert model.describe()["weights"] == str(checkpoints / "ZeroDepth_unified.ckpt")


def test_offline_without_a_cached_repository_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"offline and the torch.hub cache .* has no copy of TRI-ML/vidar") as info:
        load_model("zerodepth", device="cpu")
    assert "\n" not in str(info.value)


def test_missing_torch_scatter_says_how_to_install_it(tmp_path):
    repo = clone(tmp_path, hubconf_prefix="import torch_scatter  # noqa: F401 - as vidar's camera module\n")
    with pytest.raises(MissingExtraError, match=r'pip install "dpbench\[zerodepth\]".*torch-scatter has no PyPI '
                                                r"wheel.*data\.pyg\.org") as info:
        load_model("zerodepth", device="cpu", repo=str(repo), build="hub")
    assert "\n" not in str(info.value) and info.value.module == "torch_scatter"


def test_unknown_option_and_build(tmp_path):
    with pytest.raises(ModelOptionError, match=r"unknown option\(s\) \['size'\]"):
        load_model("zerodepth", device="cpu", repo=str(clone(tmp_path)), size=3)
    with pytest.raises(ModelOptionError, match="build must be one of auto, hub, config"):
        load_model("zerodepth", device="cpu", repo=str(tmp_path / "vidar"), build="pip")


def test_run_on_the_sample_suite_with_oom_rows_and_report(tmp_path):
    """Middlebury's images (180×120 at scale 0.5) exceed the stand-in's memory, Booster's fit:
    OOM rows, the run goes on, and the report prints the paper's OOM cell."""
    from dpbench.cli import cli
    from dpbench.sample import generate_sample_suite
    from dpbench.store import list_runs

    generate_sample_suite(tmp_path / "data" / "sample", scale=0.5)
    repo = clone(tmp_path, max_pixels=20000)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["run", "--model", "zerodepth", "-o", f"repo={repo}", "-o", "build=hub",
                                      "--suite", "sample", "--dataset", "middlebury", "--dataset", "booster",
                                      "--focal-mode", "gt", "--data-root", str(tmp_path / "data"),
                                      "--out", str(runs), "--no-progress", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    store, = list_runs(runs)
    # every sample was evaluated: the run is complete and its failures are in the coverage
    assert store.manifest["status"] == "complete" and "middlebury: sample" in result.output and "OOM: " in result.output
    records = {d["name"]: d for d in store.manifest["datasets"]}
    assert records["middlebury"]["num_errors"] == 3 and records["booster"]["num_errors"] == 0
    rows = store.rows()
    middlebury, booster = rows[rows["dataset"] == "middlebury"], rows[rows["dataset"] == "booster"]
    assert len(middlebury) and (middlebury["status"] == "error").all()
    assert middlebury["error"].str.startswith("OOM: OutOfMemoryError: CUDA out of memory").all()
    assert len(booster) and (booster["status"] == "ok").all()
    report = CliRunner().invoke(cli, ["report", "--runs-dir", str(runs), "--qualitative", "0"])
    assert report.exit_code == 0, report.output
    lines = report.output.splitlines()
    header = lines.index("| Model | middlebury | booster | Avg. Rank ↓ |")  # Table 1 style
    cells = [cell.strip() for cell in lines[header + 2].split("|")[2:-1]]
    assert cells[0] == "OOM" and re.fullmatch(r"\*\*\d+\.\d\*\*", cells[1]) and cells[2] == "**1.0**"
    assert "_OOM: every sample of the entry that could not be scored ran out of memory" in report.output
    worst = CliRunner().invoke(cli, ["report", "--runs-dir", str(runs), "--qualitative", "0", "--failures", "worst"])
    assert worst.exit_code == 0, worst.output
    lines = worst.output.splitlines()
    header = lines.index("| Model | middlebury | booster | Avg. Rank ↓ |")
    cells = [cell.strip() for cell in lines[header + 2].split("|")[2:-1]]
    assert cells[0] == "OOM"  # nothing scored anywhere to take the worst value from: still the OOM cell
