"""``dpbench speed``'s output difference from the fp32 reference (dpbench/speed/fp32.py).

A fake model whose output depends on its precision (bf16 rounds the depth and the focal length
through torch.bfloat16) and on a speed-only option (``turbo`` rounds the depth to float16) gives
difference columns the tests compute themselves from the same random images; the tiny Depth Pro
at bf16 on the CPU checks the real path end to end.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import dpbench.models
from dpbench.errors import ModelError
from dpbench.models.base import DepthModel, image_of
from dpbench.speed.command import speed
from dpbench.speed.fp32 import (
    FP32_DIFF_COLUMNS,
    KeptOutput,
    LastResult,
    difference_text,
    output_difference,
    reference_plan,
)
from dpbench.speed.run import SPEED_COLUMNS, SpeedConfig, random_images, run_speed
from dpbench.speed.sizes import parse_size
from dpbench.speed.table import FP32_COLUMN, format_speed_table
from dpbench.store import RunStore
from dpbench.types import Prediction

pytestmark = pytest.mark.usefixtures("torch_single_thread")

LOADS: list[tuple[str, str, dict]] = []  # (name, precision, options) of every load but the meta ones
PREDICTS: list[tuple[str, str, str]] = []  # (name, precision, WxH) of every predict call


def fp32_depth(image: np.ndarray) -> np.ndarray:
    """The fake model's fp32 depth: 1 m plus a colour-dependent part that bf16 cannot hold exactly."""
    return (1.0 + image[..., 0].astype(np.float32) / 7.0 + image[..., 1].astype(np.float32) / 1000.0).astype(
        np.float32)


def fp32_focal(image: np.ndarray) -> float:
    return float(np.float32(500.0 + image.mean() / 3.0))


def to_bf16(values):
    """float32 values rounded to bfloat16 and back (by torch, as autocast would store them)."""
    return torch.as_tensor(np.asarray(values, np.float32)).to(torch.bfloat16).float().numpy()


class PrecisionFake(DepthModel):
    """Depth and focal from the image; bf16 rounds both, ``turbo`` rounds depth to float16."""

    speed_only_options = frozenset({"turbo"})

    def __init__(self, name, precision, turbo=False, scale=1.0, fail_at=(), focal=True, meta=False, batch_size=1):
        self.batch_size = batch_size
        self.name, self.precision, self.turbo, self.scale = name, precision, bool(turbo), float(scale)
        self.fail_at, self.focal, self.supports_meta = set(fail_at), focal, meta

    def predict(self, sample_or_image, focal_px=None):
        image = image_of(sample_or_image)
        key = f"{image.shape[1]}x{image.shape[0]}"
        if not self.supports_meta:
            PREDICTS.append((self.name, self.precision, key))
        if key in self.fail_at and self.precision == "fp32":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")
        depth = fp32_depth(image) * np.float32(self.scale)
        focal = fp32_focal(image)
        if self.precision == "bf16":
            depth, focal = to_bf16(depth), float(to_bf16([focal])[0])
        if self.turbo:
            depth = depth.astype(np.float16).astype(np.float32)
        return Prediction(depth=depth, focal_px=focal if self.focal else None)


@pytest.fixture
def fakes(monkeypatch):
    real = dpbench.models.load_model

    def load_model(name, checkpoint=None, device="auto", precision="fp32", **options):
        if not name.startswith("fake"):
            return real(name, checkpoint=checkpoint, device=device, precision=precision, **options)
        if str(device) != "meta":
            LOADS.append((name, precision, dict(options)))
            if name == "fake-broken" and precision == "fp32":
                raise ModelError("fake-broken: the fp32 weights are missing")
        return PrecisionFake(name, precision, meta=str(device) == "meta", **options)

    real_info = dpbench.models.get_model_info
    monkeypatch.setattr(dpbench.models, "load_model", load_model)
    monkeypatch.setattr(dpbench.models, "get_model_info",
                        lambda name: (None, None) if name.startswith("fake") else real_info(name))
    LOADS.clear()
    PREDICTS.clear()
    yield


def run(tmp_path, lines=None, **changes):
    values = dict(model="fake", device="cpu", sizes="vga,hd", warmup=1, repeats=2, out=tmp_path / "runs",
                  precision="bf16")
    values.update(changes)
    return run_speed(SpeedConfig(**values), say=(lines.append if lines is not None else lambda message: None))


def expected_columns(candidate: np.ndarray, reference: np.ndarray, focal_delta: float) -> dict:
    """The four columns, written out for this test (float64 arithmetic)."""
    delta = np.abs(candidate.astype(np.float64) - reference.astype(np.float64))
    ref = np.abs(reference.astype(np.float64))
    return {"out_max_abs_diff": delta.max(), "out_max_rel_diff": delta.max() / ref.max(),
            "out_median_rel_diff": np.median(delta / ref), "out_focal_diff": focal_delta}


# -- the difference of two outputs ----------------------------------------------------------------

def test_output_difference_by_hand():
    reference = KeptOutput(np.array([[1.0, 2.0], [4.0, 8.0]], np.float32), 100.0)
    candidate = KeptOutput(np.array([[1.5, 2.0], [4.0, 7.0]], np.float32), 101.5)
    # |Δ| = 0.5, 0, 0, 1; max |ref| = 8; |Δ|/|ref| = 0.5, 0, 0, 0.125 -> median (0 + 0.125) / 2
    assert output_difference(candidate, reference) == {
        "out_max_abs_diff": 1.0, "out_max_rel_diff": 0.125, "out_median_rel_diff": 0.0625, "out_focal_diff": 1.5}


def test_output_difference_non_finite_pixels_and_missing_focal():
    reference = KeptOutput(np.array([1.0, 2.0, np.nan, 4.0], np.float32), None)
    candidate = KeptOutput(np.array([1.0, np.inf, 5.0, 4.5], np.float32), 100.0)
    out = output_difference(candidate, reference)
    # the reference's NaN pixel is left out; the candidate's inf where the reference is finite is an
    # infinite difference: max inf, relative ratios 0, inf, 0.125 -> median 0.125
    assert out["out_max_abs_diff"] == math.inf and out["out_max_rel_diff"] == math.inf
    assert out["out_median_rel_diff"] == 0.125
    assert math.isnan(out["out_focal_diff"])  # the reference has no focal
    empty = output_difference(candidate, KeptOutput(np.full(4, np.nan, np.float32), 1.0))
    assert empty["out_focal_diff"] == 99.0 and all(math.isnan(empty[c]) for c in FP32_DIFF_COLUMNS[:3])
    with pytest.raises(ValueError, match=r"shape \(4,\) against the fp32 reference's \(2, 2\)"):
        output_difference(candidate, KeptOutput(np.ones((2, 2), np.float32), None))


def test_difference_text():
    text = difference_text({"out_max_abs_diff": 0.0123, "out_max_rel_diff": 4.56e-4, "out_median_rel_diff": 1.2e-5,
                            "out_focal_diff": math.nan})
    assert text == "vs fp32 max |Δ| 0.0123 m (0.000456 rel), median rel 1.2e-05"
    assert difference_text({"out_focal_diff": 0.25}).endswith("focal |Δ| 0.25 px")


def test_last_result_keeps_only_the_last_call():
    outputs = iter(range(10))
    kept = LastResult(lambda: next(outputs), 3)
    assert [kept(), kept()] == [0, 1] and kept.result is None
    assert kept() == 2 and kept.result == 2


def test_reference_plan_drops_speed_only_options():
    model = PrecisionFake("fake", "fp32")
    assert reference_plan(model, {"scale": 2}, "fp32", False) is None  # plain fp32
    plan = reference_plan(model, {"scale": 2, "turbo": True, "compile": True}, "bf16", False)
    assert plan.options == {"scale": 2} and plan.dropped == ["compile", "turbo"]
    assert plan.reasons == ["precision bf16", "option compile=True", "option turbo=True"]
    assert reference_plan(model, {}, "fp32", True).reasons == ["compile"]
    # Depth Pro declares its speed-only options on the class
    from dpbench.models.depthpro.model import DepthProModel

    assert {"cuda_graphs", "channels_last", "compile"} <= DepthProModel.speed_only_options


# -- speed runs ----------------------------------------------------------------------------------

def test_bf16_run_stores_the_differences_computed_by_hand(tmp_path, fakes):
    lines: list[str] = []
    result = run(tmp_path, lines, batch_size=2, model_options={"scale": 3.0})
    store = RunStore(result.store.path)
    speed_record = store.manifest["speed"]
    assert speed_record["fp32_reference"]["options"] == {"scale": 3.0}
    assert speed_record["fp32_reference"]["because"] == ["precision bf16"]
    assert speed_record["fp32_reference_error"] is None
    # one candidate load at bf16 and, after both sizes were timed, one reference load at fp32
    assert [(name, precision) for name, precision, _ in LOADS] == [("fake", "bf16"), ("fake", "fp32")]
    assert LOADS[1][2] == {"scale": 3.0, "batch_size": 2}
    # the reference predicts each size's batch once (two images), after all the timing
    reference_calls = [p for p in PREDICTS if p[1] == "fp32"]
    assert reference_calls == [("fake", "fp32", "640x480")] * 2 + [("fake", "fp32", "1920x1080")] * 2
    assert PREDICTS.index(reference_calls[0]) > max(i for i, p in enumerate(PREDICTS) if p[2] == "1920x1080"
                                                    and p[1] == "bf16")
    rows = store.rows().set_index("sample_id")
    assert set(FP32_DIFF_COLUMNS) <= set(SPEED_COLUMNS) <= set(rows.columns)
    for label, size in (("vga", (640, 480)), ("hd", (1920, 1080))):
        image = random_images(parse_size(f"{size[0]}x{size[1]}"), 2, 0)[0]
        reference = fp32_depth(image) * np.float32(3.0)
        expected = expected_columns(to_bf16(reference), reference,
                                    abs(float(to_bf16([fp32_focal(image)])[0]) - fp32_focal(image)))
        for column, value in expected.items():
            assert rows.loc[label, column] == pytest.approx(value, rel=1e-12), (label, column)
        # bf16 keeps 8 significant bits: rounding moves a value by at most 2^-8 of itself
        assert 0 < rows.loc[label, "out_max_rel_diff"] <= 2.0 ** -8
    assert any(line.startswith("  vga (640×480): vs fp32 max |Δ| ") and " rel), median rel " in line
               for line in lines), lines


def test_a_speed_only_option_alone_is_compared_without_it(tmp_path, fakes):
    result = run(tmp_path, precision="fp32", sizes="vga", model_options={"turbo": True})
    assert LOADS[1] == ("fake", "fp32", {})  # turbo dropped at the reference
    manifest = result.store.manifest["speed"]["fp32_reference"]
    assert manifest["without_options"] == ["turbo"] and manifest["because"] == ["option turbo=True"]
    row = result.store.rows().iloc[0]
    image = random_images(parse_size("vga"), 1, 0)[0]
    reference = fp32_depth(image)
    expected = expected_columns(reference.astype(np.float16).astype(np.float32), reference, 0.0)
    for column, value in expected.items():
        assert row[column] == pytest.approx(value, rel=1e-12, abs=0), column
    assert row["out_max_abs_diff"] > 0 and row["out_focal_diff"] == 0.0


def test_plain_fp32_is_its_own_reference(tmp_path, fakes):
    result = run(tmp_path, precision="fp32", compare_fp32=True)
    assert result.store.manifest["speed"]["fp32_reference"] == "self"
    assert len(LOADS) == 1  # no reference load
    rows = result.store.rows()
    assert set(rows["status"]) == {"ok"}
    assert rows[list(FP32_DIFF_COLUMNS)].isna().all().all()
    assert FP32_COLUMN not in format_speed_table([result.store])


def test_a_failing_reference_keeps_the_timing_rows(tmp_path, fakes):
    result = run(tmp_path, model="fake-broken")
    store = RunStore(result.store.path)
    assert store.manifest["status"] == "complete"
    assert store.manifest["speed"]["fp32_reference_error"] == \
        "loading the fp32 reference: ModelError: fake-broken: the fp32 weights are missing"
    rows = store.rows()
    assert list(rows["status"]) == ["ok", "ok"] and (rows["latency_ms_median"] > 0).all()
    assert rows[list(FP32_DIFF_COLUMNS)].isna().all().all()


def test_a_reference_out_of_memory_at_one_size_leaves_the_others_compared(tmp_path, fakes):
    lines: list[str] = []
    result = run(tmp_path, lines, model_options={"fail_at": ["1920x1080"]})
    store = RunStore(result.store.path)
    error = store.manifest["speed"]["fp32_reference_error"]
    assert error.startswith("hd: OOM") and "9.00 GiB" in error
    rows = store.rows().set_index("sample_id")
    assert rows.loc["vga", "out_max_rel_diff"] > 0
    assert rows.loc["hd", "status"] == "ok" and math.isnan(rows.loc["hd", "out_max_rel_diff"])
    assert any("fp32 reference: hd: OOM" in line for line in lines)


def test_resume_keeps_the_differences_of_measured_sizes(tmp_path, fakes):
    first = run(tmp_path, run_id="r", sizes="vga")
    before = first.store.rows().set_index("sample_id").loc["vga", list(FP32_DIFF_COLUMNS)]
    LOADS.clear()
    PREDICTS.clear()
    second = run(tmp_path, run_id="r", sizes="vga,hd")
    assert second.candidate.skipped == ["vga"] and second.candidate.measured == ["hd"]
    assert [p for p in PREDICTS if p[1] == "fp32"] == [("fake", "fp32", "1920x1080")]  # hd only
    rows = second.store.rows().set_index("sample_id")
    assert list(rows.loc["vga", list(FP32_DIFF_COLUMNS)]) == list(before)
    assert rows.loc["hd", "out_max_rel_diff"] > 0
    # a resume that measures nothing loads no reference
    LOADS.clear()
    run(tmp_path, run_id="r", sizes="vga,hd")
    assert [precision for _, precision, _ in LOADS] == ["bf16"]


def test_baseline_model_gets_its_own_comparison(tmp_path, fakes):
    result = run(tmp_path, run_id="pair", sizes="vga", baseline_model="fake-other", model_options={"scale": 2.0})
    assert result.baseline.store.rows().iloc[0]["out_max_rel_diff"] > 0
    assert result.baseline.store.manifest["speed"]["fp32_reference"]["options"] == {}


# -- the command -----------------------------------------------------------------------------------

def test_cli_prints_the_difference_and_no_compare_fp32_skips_it(tmp_path, fakes):
    out = tmp_path / "runs"
    common = ["--model", "fake", "--device", "cpu", "--sizes", "vga", "--repeats", "1", "--warmup", "0",
              "--precision", "bf16", "--out", str(out)]
    result = CliRunner().invoke(speed, [*common, "--run-id", "on"])
    assert result.exit_code == 0, result.output
    assert "vga (640×480): vs fp32 max |Δ| " in result.output
    header = next(line for line in result.output.splitlines() if line.startswith("model"))
    assert FP32_COLUMN in header
    row = RunStore(out / "on").rows().iloc[0]
    assert f" {row['out_max_rel_diff']:.3g} " in result.output
    LOADS.clear()
    result = CliRunner().invoke(speed, [*common, "--run-id", "off", "--no-compare-fp32"])
    assert result.exit_code == 0, result.output
    assert "vs fp32" not in result.output and FP32_COLUMN not in result.output
    assert [precision for _, precision, _ in LOADS] == ["bf16"]
    store = RunStore(out / "off")
    assert store.manifest["speed"]["fp32_reference"] == "off"
    assert store.rows()[list(FP32_DIFF_COLUMNS)].isna().all().all()


# -- the real model --------------------------------------------------------------------------------

def test_tiny_depthpro_bf16_on_cpu_is_close_to_fp32(tmp_path, monkeypatch):
    """Random tiny weights (the same in both loads: the job seeds them) whose head is biased away
    from zero, so that the depth is not clamped everywhere; bf16 autocast moves it a little."""
    import dpbench.models.depthpro.model as depthpro_model

    real = depthpro_model.load_network

    def load_network(*args, **kwargs):
        network, provenance = real(*args, **kwargs)
        with torch.no_grad():
            network.head[4].bias.fill_(0.2)
        return network, provenance

    monkeypatch.setattr(depthpro_model, "load_network", load_network)
    result = run_speed(SpeedConfig(model="depthpro", model_options={"config": "tiny", "pretrained": False},
                                   device="cpu", precision="bf16", sizes="64x48", warmup=0, repeats=1,
                                   out=tmp_path / "runs"), say=lambda message: None)
    manifest = result.store.manifest["speed"]
    assert manifest["fp32_reference"]["options"] == {"config": "tiny", "pretrained": False}
    assert manifest["fp32_reference_error"] is None
    row = result.store.rows().iloc[0]
    assert row["status"] == "ok"
    for column in FP32_DIFF_COLUMNS:
        assert math.isfinite(row[column]), column
    # small (a different random network would be far off) but not zero (bf16 does change it)
    assert 0 < row["out_max_rel_diff"] < 0.05 and 0 < row["out_median_rel_diff"] < 0.05
    assert 0 < row["out_max_abs_diff"]
    assert row["out_focal_diff"] >= 0
