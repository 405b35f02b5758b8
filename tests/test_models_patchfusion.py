"""PatchFusion (``patchfusion``) with a stand-in clone of zhyever/PatchFusion (tests/standins/patchfusion).

The stand-in has upstream's class, ``from_pretrained``, ``resizer``, ``tile_cfg`` and ``forward``
signature; its depth is 1 + 10 · red of ``image_hr``, so the post-processing can be checked by hand.
It needs ``external/`` on sys.path and the clone as working directory, like upstream.
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from click.testing import CliRunner

from dpbench.errors import MissingExtraError, ModelError
from dpbench.models import get_model_info, load_model
from dpbench.models.base import ModelOptionError
from dpbench.resources import load_toml, resource_path

STANDIN = Path(__file__).parent / "standins" / "patchfusion"


@pytest.fixture(autouse=True)
def fresh_upstream(monkeypatch):
    """Online, and each test imports the stand-in's modules anew."""
    monkeypatch.delenv("DPBENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield
    for name in [n for n in sys.modules if n.split(".")[0] in ("estimator", "depth_anything")]:
        del sys.modules[name]


def image(height=4, width=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_registered_with_a_card():
    info, arg = get_model_info("patchfusion")
    assert info.family and arg == "depth-anything-vitb14" and info.extra == "patchfusion"
    assert get_model_info("patchfusion:zoedepth")[1] == "zoedepth"
    card = load_toml(resource_path("baselines", "models/patchfusion.toml"))
    assert card["route"] == "clone" and card["license"].startswith("mit")
    assert "UNCONFIRMED" in card["paper_variant"] and "203M" in card["paper_variant"]
    paper_rows = [v["model"] for v in card["variants"] if v.get("paper_method") == "patchfusion"]
    assert paper_rows == ["patchfusion"]
    assert {v["model"] for v in card["variants"]} == {"patchfusion", "patchfusion:depth-anything-vits14",
                                                      "patchfusion:depth-anything-vitl14", "patchfusion:zoedepth"}


def test_exact_inputs_and_bilinear_resize_back(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the loader must work from any directory
    model = load_model("patchfusion", device="cpu", repo=str(STANDIN), image_raw_shape="8x8")
    network = model.network
    assert network.config == {"name": "Zhyever/patchfusion_depth_anything_vitb14"} and network.loaded_with == {}
    rgb = image(4, 4)
    prediction = model.predict(rgb)
    call, = network.calls
    assert call["mode"] == "infer" and call["cai_mode"] == "r128" and call["process_num"] == 4
    assert call["tile_cfg"] == {"image_raw_shape": [8, 8], "patch_split_num": [4, 4]}
    as_tensor = torch.from_numpy(rgb).permute(2, 0, 1)[None].double() / 255.0
    lr, hr = call["image_lr"], call["image_hr"]
    assert lr.shape == (1, 3, 392, 518) and lr.dtype == torch.float32
    torch.testing.assert_close(lr, F.interpolate(as_tensor, (392, 518), mode="bilinear", align_corners=True).float())
    assert hr.shape == (1, 3, 8, 8) and hr.dtype == torch.float32
    # bicubic with align_corners=True keeps the corner pixels exactly, in [0, 1]
    for y, x in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
        np.testing.assert_allclose(hr[0, :, y, x].numpy(), rgb[y, x] / 255.0, rtol=0, atol=1e-6)
    # the 8×8 output back to 4×4: bilinear with half-pixel centres = the mean of each 2×2 block
    raw = 1.0 + 10.0 * hr[0, 0].numpy().astype(np.float64)
    expected = raw.reshape(4, 2, 4, 2).mean(axis=(1, 3))
    assert prediction.depth.shape == (4, 4) and prediction.depth.dtype == np.float32
    np.testing.assert_allclose(prediction.depth, expected, rtol=1e-5)
    assert prediction.meta["native_hw"] == (8, 8)
    described = model.describe()
    assert described["variant"] == "depth-anything-vitb14" and described["mode"] == "r128"
    assert described["image_raw_shape"] == [8, 8] and described["route"] == "clone"


def test_default_tiling_is_the_models_own(tmp_path):
    model = load_model("patchfusion:zoedepth", device="cpu", repo=str(STANDIN), mode="m2", process_num=2)
    assert model.name == "patchfusion:zoedepth" and model.native_hw == (2160, 3840)
    model.predict(image(2, 3))
    call, = model.network.calls
    assert call["tile_cfg"] is None and call["image_hr"].shape == (1, 3, 2160, 3840)
    assert call["cai_mode"] == "m2" and call["process_num"] == 2
    assert model.network.config["name"] == "Zhyever/patchfusion_zoedepth"


def test_random_tiles_are_seeded_and_the_global_state_restored():
    model = load_model("patchfusion", device="cpu", repo=str(STANDIN), image_raw_shape=[8, 8], seed=7)
    random.seed(123)
    model.predict(image())
    after = random.random()
    random.seed(123)
    assert after == random.random()  # the caller's random stream is untouched
    model.predict(image())
    first, second = model.network.calls
    random.seed(7)
    assert first["draw"] == second["draw"] == random.random()


@pytest.mark.parametrize(("options", "message"), [
    ({"mode": "r"}, "mode must be m1, m2 or rN"),
    ({"mode": "r2"}, "fewer random tiles than process_num=4"),
    ({"image_raw_shape": "10x8"}, "must be divisible by twice patch_split_num"),
    ({"image_raw_shape": "big"}, "image_raw_shape must be HxW"),
    ({"tiles": 3}, r"unknown option\(s\) \['tiles'\]"),
])
def test_bad_options_are_one_line(options, message):
    with pytest.raises(ModelOptionError, match=message) as info:
        load_model("patchfusion", device="cpu", repo=str(STANDIN), **options)
    assert "\n" not in str(info.value)


def test_repo_variant_and_precision_errors(tmp_path):
    with pytest.raises(ModelOptionError, match=r"not on PyPI; clone https://github.com/zhyever/PatchFusion"):
        load_model("patchfusion", device="cpu")
    with pytest.raises(ModelError, match="is not a clone of zhyever/PatchFusion"):
        load_model("patchfusion", device="cpu", repo=str(tmp_path))
    with pytest.raises(ModelOptionError, match="unknown variant; known: depth-anything-vits14"):
        load_model("patchfusion:vitl", device="cpu", repo=str(STANDIN))
    with pytest.raises(ModelOptionError, match="only fp32"):
        load_model("patchfusion", device="cpu", precision="fp16", repo=str(STANDIN))


def test_offline_reads_the_cache_only_and_says_what_to_download(monkeypatch, tmp_path):
    monkeypatch.setenv("DPBENCH_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"cannot load Zhyever/patchfusion_depth_anything_vitl14 \(OSError: .*\); "
                                         r"download it once with `hf download Zhyever/patchfusion_depth_anything_"
                                         r"vitl14`") as info:
        load_model("patchfusion:depth-anything-vitl14", device="cpu", repo=str(STANDIN))
    assert "\n" not in str(info.value)
    local = tmp_path / "patchfusion_vitl14"
    local.mkdir()
    model = load_model("patchfusion:depth-anything-vitl14", checkpoint=str(local), device="cpu", repo=str(STANDIN))
    assert model.network.loaded_with == {"local_files_only": True} and model.describe()["source"] == str(local)


def test_missing_upstream_package_names_the_extra(tmp_path):
    clone = tmp_path / "PatchFusion"
    shutil.copytree(STANDIN, clone)
    module = clone / "estimator" / "models" / "patchfusion.py"
    module.write_text("import kornia  # noqa: F401 - as upstream\n" + module.read_text(encoding="utf-8"),
                      encoding="utf-8")
    with pytest.raises(MissingExtraError, match=r"needs the optional package 'kornia'.*dpbench\[patchfusion\]"):
        load_model("patchfusion", device="cpu", repo=str(clone))


def test_run_on_the_sample_suite(tmp_path):
    from dpbench.cli import cli
    from dpbench.sample import generate_sample_suite
    from dpbench.store import list_runs

    generate_sample_suite(tmp_path / "data" / "sample", scale=0.5)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["run", "--model", "patchfusion", "-o", f"repo={STANDIN}",
                                      "-o", "image_raw_shape=24x32", "-o", "mode=m1", "--suite", "sample",
                                      "--dataset", "middlebury", "--data-root", str(tmp_path / "data"),
                                      "--out", str(runs), "--no-progress", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    store, = list_runs(runs)
    assert store.manifest["status"] == "complete"
    model = store.manifest["model"]
    assert model["variant"] == "depth-anything-vitb14" and model["image_raw_shape"] == [24, 32]
    rows = store.rows()
    assert len(rows) and (rows["status"] == "ok").all() and set(rows["dataset"]) == {"middlebury"}
