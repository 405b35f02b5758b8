"""Speed runs with a fake model on a fake clock: storage, OOM rows, resume, baseline, check_speed, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import dpbench.models
from dpbench.models.base import DepthModel, image_of
from dpbench.speed.check import check_speed
from dpbench.speed.command import speed
from dpbench.speed.run import SPEED_COLUMNS, SpeedConfig, SpeedError, run_speed
from dpbench.speed.timing import WallTimer
from dpbench.store import RunStore
from dpbench.types import Prediction

pytestmark = pytest.mark.usefixtures("torch_single_thread")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


CLOCK = FakeClock()
CALLS: list[tuple[str, str]] = []  # (model name, WxH) of every predict call


class FakeModel(DepthModel):
    """Takes ``ms[WxH]`` milliseconds of fake time per image (default 10); fails where told."""

    def __init__(self, name, ms=None, oom=(), oom_runtime=(), fail=(), meta=False):
        self.name = name
        self.ms = dict(ms or {})
        self.oom, self.oom_runtime, self.fail = set(oom), set(oom_runtime), set(fail)
        self.supports_meta = meta
        self.native_hw = (32, 48)

    def predict(self, sample_or_image, focal_px=None):
        image = image_of(sample_or_image)
        key = f"{image.shape[1]}x{image.shape[0]}"
        if not self.supports_meta:
            CALLS.append((self.name, key))
            if key in self.oom:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")
            if key in self.oom_runtime:
                raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB")
            if key in self.fail:
                raise ValueError(f"cannot take {key} images")
            CLOCK.now += self.ms.get(key, 10) / 1e3
        return Prediction(depth=np.ones(image.shape[:2], np.float32))


@pytest.fixture
def fakes(monkeypatch):
    real = dpbench.models.load_model

    def load_model(name, checkpoint=None, device="auto", precision="fp32", **options):
        if not name.startswith("fake"):
            return real(name, checkpoint=checkpoint, device=device, precision=precision, **options)
        return FakeModel(name, meta=str(device) == "meta", **options)

    real_info = dpbench.models.get_model_info

    def get_model_info(name):
        return (None, None) if name.startswith("fake") else real_info(name)

    monkeypatch.setattr(dpbench.models, "load_model", load_model)
    monkeypatch.setattr(dpbench.models, "get_model_info", get_model_info)
    CALLS.clear()
    yield CALLS


def config(tmp_path, **changes) -> SpeedConfig:
    values = dict(model="fake", device="cpu", sizes="vga,hd", warmup=1, repeats=3, out=tmp_path / "runs")
    values.update(changes)
    return SpeedConfig(**values)


def run(cfg):
    return run_speed(cfg, say=lambda message: None, timer=WallTimer(CLOCK))


def test_a_speed_run_is_stored_as_a_run(tmp_path, fakes):
    result = run(config(tmp_path, model_options={"ms": {"640x480": 5, "1920x1080": 40}}))
    store = RunStore(result.store.path)
    manifest = store.manifest
    assert manifest["kind"] == "speed" and manifest["status"] == "complete" and manifest["suite"] == "speed"
    assert manifest["model"]["name"] == "fake" and "checkpoint_sha256" in manifest["model"]
    assert manifest["model_options"] == {"ms": {"640x480": 5, "1920x1080": 40}}
    assert manifest["environment"]["device"] == "cpu" and manifest["environment"]["hostname"]
    assert manifest["speed"]["sizes"] == ["vga", "hd"] and manifest["speed"]["repeats"] == 3
    assert manifest["speed"]["flops_counted_on"] == "meta"
    assert store.problems() == []
    rows = store.rows().set_index("sample_id")
    assert list(rows.index) == ["vga", "hd"]
    assert set(rows["dataset"]) == {"speed"} and set(rows["task"]) == {"speed"}
    assert set(rows["status"]) == {"ok"}
    assert set(SPEED_COLUMNS) <= set(rows.columns)
    assert rows.loc["vga", "latency_ms_median"] == pytest.approx(5)
    assert rows.loc["hd", "latency_ms_median"] == pytest.approx(40)
    assert rows.loc["hd", "images_per_s"] == pytest.approx(25)
    assert rows.loc["hd", "width"] == 1920 and rows.loc["hd", "height"] == 1080
    assert rows.loc["hd", "native_width"] == 48
    assert np.isnan(rows.loc["hd", "forward_ms_median"])  # no forward hook: n/a
    assert rows.loc["vga", "peak_mem_mb"] >= 0
    assert fakes.count(("fake", "640x480")) == 4  # 1 warm-up + 3 repeats


def test_batch_size_gives_per_image_numbers(tmp_path, fakes):
    result = run(config(tmp_path, sizes="vga", batch_size=2, model_options={"ms": {"640x480": 5}}))
    row = result.store.rows().iloc[0]
    assert row["latency_ms_median"] == pytest.approx(10)  # two images per call
    assert row["ms_per_image_median"] == pytest.approx(5)
    assert row["images_per_s"] == pytest.approx(200)


def test_out_of_memory_at_one_size_is_recorded_and_the_others_measured(tmp_path, fakes):
    options = {"oom": ["1920x1080"], "oom_runtime": ["3840x2160"], "fail": ["800x600"]}
    result = run(config(tmp_path, sizes="vga,hd,4k,800x600", model_options=options))
    rows = result.store.rows().set_index("sample_id")
    assert rows.loc["vga", "status"] == "ok"
    assert rows.loc["hd", "status"] == "error" and rows.loc["hd", "error"].startswith("OOM")
    assert rows.loc["4k", "status"] == "error" and rows.loc["4k", "error"].startswith("OOM")
    assert rows.loc["800x600", "status"] == "error"
    assert rows.loc["800x600", "error"] == "ValueError: cannot take 800x600 images"
    assert result.store.manifest["status"] == "complete"
    assert result.store.manifest["datasets"][0]["num_errors"] == 3


def test_resume_skips_measured_sizes_and_retries_failed_ones(tmp_path, fakes):
    first = run(config(tmp_path, run_id="r1", sizes="vga,hd", model_options={"oom": ["1920x1080"]}))
    assert first.candidate.measured == ["vga", "hd"]
    fakes.clear()
    # same setup (same options): vga is skipped, hd (failed) and 4k are measured
    second = run(config(tmp_path, run_id="r1", sizes="vga,hd,4k", model_options={"oom": ["1920x1080"]}))
    assert second.candidate.resumed and second.candidate.skipped == ["vga"]
    assert second.candidate.measured == ["hd", "4k"]
    assert ("fake", "640x480") not in fakes
    rows = second.store.rows().set_index("sample_id")
    assert sorted(rows.index) == ["4k", "hd", "vga"]
    assert rows.loc["hd", "status"] == "error" and len(rows) == 3  # the retried row replaced the old one
    assert second.store.manifest["speed"]["sizes"] == ["vga", "hd", "4k"]
    assert len(second.store.manifest["resumed"]) == 1


def test_resume_refuses_a_different_setup(tmp_path, fakes):
    run(config(tmp_path, run_id="r1", sizes="vga"))
    with pytest.raises(SpeedError, match="different setup"):
        run(config(tmp_path, run_id="r1", sizes="vga", repeats=5))


def test_an_unfinished_run_of_the_same_setup_is_continued(tmp_path, fakes):
    first = run(config(tmp_path, sizes="vga"))
    first.store.update_manifest(status="interrupted")
    second = run(config(tmp_path, sizes="vga,hd"))
    assert second.store.path == first.store.path and second.candidate.skipped == ["vga"]


def test_baseline_is_measured_in_the_same_job_and_checked(tmp_path, fakes):
    result = run(config(tmp_path, run_id="pair", model="fake-new", baseline_model="fake-old",
                        model_options={"ms": {"640x480": 10, "1920x1080": 30}},
                        baseline_options={"ms": {"640x480": 10, "1920x1080": 20}}))
    candidate, baseline = result.candidate.store, result.baseline.store
    assert baseline.run_id == "pair.baseline" and baseline.manifest["model"]["name"] == "fake-old"
    assert candidate.manifest["speed"]["baseline_run"] == "pair.baseline"
    assert baseline.manifest["speed"]["candidate_run"] == "pair"
    code, lines = check_speed(candidate, candidate, tolerance=0.10)
    assert code == 1, lines
    assert any(line.startswith("hd: SLOWER") for line in lines)
    assert any(line.startswith("vga: ok") for line in lines)
    assert check_speed(candidate, baseline, tolerance=0.6)[0] == 0  # 30/20 = 1.5 within +60 %
    assert check_speed("pair", None, tolerance=0.6, runs_dir=tmp_path / "runs")[0] == 0
    # the baseline against the candidate: faster, passes
    assert check_speed(baseline, candidate)[0] == 0


def test_check_speed_not_comparable_cases(tmp_path, fakes):
    result = run(config(tmp_path, run_id="a", baseline_model="fake-b"))
    candidate, baseline = result.candidate.store, result.baseline.store
    lone = run(config(tmp_path, run_id="lone", sizes="vga")).store
    code, lines = check_speed(lone, None)
    assert code == 2 and "no baseline run" in lines[0]
    code, lines = check_speed(candidate, lone)
    assert code == 2 and "different sizes" in lines[0]
    environment = dict(baseline.manifest["environment"], hostname="elsewhere")
    baseline.update_manifest(environment=environment)
    code, lines = check_speed(candidate, baseline)
    assert code == 2 and "different host" in lines[0]
    assert check_speed(tmp_path / "missing", None)[0] == 2


def test_check_speed_candidate_failure_is_a_regression(tmp_path, fakes):
    result = run(config(tmp_path, run_id="c", model_options={"oom": ["1920x1080"]}, baseline_model="fake-b"))
    code, lines = check_speed(result.store, None)
    assert code == 1 and any(line.startswith("hd: FAILED") for line in lines)


def test_bad_options_are_refused_before_any_work(tmp_path, fakes):
    with pytest.raises(SpeedError):
        run(config(tmp_path, repeats=0))
    with pytest.raises(SpeedError):
        run(config(tmp_path, run_id="bad/id"))
    assert not fakes


# -- the click command -------------------------------------------------------------------------

def invoke(args):
    return CliRunner().invoke(speed, args)


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("sizes, message", [
    ("vga,qhd", "unknown size 'qhd'"),
    ("0x480", "between 1 and"),
    ("20000x100", "between 1 and"),
    (",", "no size given"),
])
def test_cli_bad_sizes_are_one_line(tmp_path, sizes, message):
    line = _one_error_line(invoke(["--model", "depthpro", "--sizes", sizes, "--out", str(tmp_path)]))
    assert line.startswith("error:") and message in line


def test_cli_cuda_without_cuda_is_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    line = _one_error_line(invoke(["--model", "depthpro", "--device", "cuda", "--out", str(tmp_path)]))
    assert "CUDA is not available" in line


def test_cli_unknown_model_and_bad_repeats_are_one_line(tmp_path):
    assert "unknown model" in _one_error_line(invoke(["--model", "nope", "--device", "cpu", "--out", str(tmp_path)]))
    assert "repeats" in _one_error_line(invoke(["--model", "depthpro", "--repeats", "0", "--out", str(tmp_path)]))


def test_cli_tiny_depthpro_end_to_end(tmp_path):
    out = tmp_path / "runs"
    result = invoke(["--model", "depthpro", "-o", "config=tiny", "-o", "pretrained=false", "--device", "cpu",
                     "--sizes", "64x48,vga", "--repeats", "2", "--warmup", "0", "--out", str(out),
                     "--run-id", "tiny"])
    assert result.exit_code == 0, result.output
    assert "depthpro (tiny)" in result.output and "64x48" in result.output
    store = RunStore(out / "tiny")
    rows = store.rows().set_index("sample_id")
    assert set(rows["status"]) == {"ok"}
    assert (rows["forward_ms_median"] > 0).all() and (rows["latency_ms_median"] > 0).all()
    assert (rows["native_width"] == 512).all()
    params = store.manifest["speed"]["params"]
    assert params == rows.loc["vga", "params"] and params > 0
    assert rows.loc["vga", "flops"] == store.manifest["speed"]["flops_at_hd"] > 0
    assert rows.loc["vga", "macs"] * 2 == rows.loc["vga", "flops"]
    # a second identical command resumes the run and measures nothing
    again = invoke(["--model", "depthpro", "-o", "config=tiny", "-o", "pretrained=false", "--device", "cpu",
                    "--sizes", "64x48,vga", "--repeats", "2", "--warmup", "0", "--out", str(out),
                    "--run-id", "tiny"])
    assert again.exit_code == 0 and "already measured" in again.output
