"""Speed of the runner (issue 6, item 7): the sample suite end to end, and the per-sample overhead.

Run:  python benchmarks/bench_runner.py [--samples 3] [--skip-sample] [--skip-native] [--keep DIR]

Part 1 — a new user's first minute: ``dpbench run --suite sample`` (the four probes, one run each)
and ``dpbench report --format markdown`` as subprocesses, timed as wall clock, first with the
sample data generated from scratch (fresh machine) and then with it present. Target: < 60 s.

Part 2 — what the runner itself costs per sample at native dataset resolutions, with a stub model
whose forward is free (a constant map): Booster-size (4112×3008 PNG + disparity), ETH3D-size
(6048×4032 JPEG + raw depth; sparse GT) and Sintel-size (1024×436, depth + boundary tasks)
samples written in their official layouts (the writers of ``bench_io.py``) and read through the
real adapters. Each step (load, resize, metrics, store rows, prediction cache) is timed as
process CPU time in one thread; then a whole run (default 2 loader threads, 1 scoring thread) is
timed as CPU and wall clock per sample. The CPU per sample is compared with Depth Pro's GPU time
per image (0.3 s on a V100, paper Table 5 / issue #25): the share of a GPU forward that the
loader and scoring threads must hide on other cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dpbench import __version__  # noqa: E402
from dpbench._table import format_table  # noqa: E402
from dpbench.datasets import open_dataset  # noqa: E402
from dpbench.models import register_model  # noqa: E402
from dpbench.models.base import DepthModel  # noqa: E402
from dpbench.runner import RunConfig, run  # noqa: E402
from dpbench.store import RunStore  # noqa: E402
from dpbench.suites import Suite, SuiteEntry, default_protocol_options  # noqa: E402
from dpbench.types import Prediction  # noqa: E402

DEPTH_PRO_GPU_SECONDS = 0.3  # paper: 2.25 Mpx depth map in 0.3 s on a V100


class StubModel(DepthModel):
    """A model with a free forward: a constant 5 m map at full (or half) resolution."""

    reads_ground_truth = False
    output_kind = "metric_depth"

    def __init__(self, half: bool):
        self.half = half
        self.name = "bench:stub-half" if half else "bench:stub"

    def predict(self, sample, focal_px=None):
        h, w = sample.image.shape[:2]
        shape = (h // 2, w // 2) if self.half else (h, w)
        return Prediction(depth=np.full(shape, 5.0, np.float32), focal_px=1000.0)


@register_model("bench", family=True, output_kind="metric_depth", description="benchmark stub")
def _stub_factory(arg=None, checkpoint=None, device="auto", precision="fp32", **options):
    return StubModel(half=arg == "stub-half")


# -- part 1 -------------------------------------------------------------------------------------

def _cli(args: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dpbench", *args], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"dpbench {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def bench_sample_suite(work: Path) -> list[dict]:
    env = {**os.environ, "DPBENCH_CACHE": str(work / "cache")}
    env.pop("DPBENCH_DATA", None)
    rows = []
    fresh_run = _cli(["run", "--suite", "sample", "--no-progress", "--out", "runs-fresh"], work, env)
    fresh_report = _cli(["report", "--runs-dir", "runs-fresh", "--format", "markdown", "--out", "fresh.md"], work, env)
    rows.append({"case": "fresh machine (generate sample data)", "run s": fresh_run, "report s": fresh_report,
                 "total s": fresh_run + fresh_report})
    again_run = _cli(["run", "--suite", "sample", "--no-progress", "--out", "runs-again"], work, env)
    again_report = _cli(["report", "--runs-dir", "runs-again", "--format", "markdown", "--out", "again.md"], work, env)
    rows.append({"case": "sample data present", "run s": again_run, "report s": again_report,
                 "total s": again_run + again_report})
    html = _cli(["report", "--runs-dir", "runs-again", "--format", "html", "--out", "again.html"], work, env)
    rows.append({"case": "  + html report with plots", "run s": None, "report s": html, "total s": None})
    return rows


# -- part 2 -------------------------------------------------------------------------------------

def _bench_io():
    spec = importlib.util.spec_from_file_location("bench_io", ROOT / "benchmarks" / "bench_io.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copies(folder: Path, count: int) -> None:
    """``count`` scenes: the written one plus copies next to it (name + index)."""
    for index in range(1, count):
        shutil.copytree(folder, folder.with_name(f"{folder.name}{index}"))


def write_native_samples(base: Path, count: int) -> list[tuple[str, Path, tuple[str, ...], str]]:
    from dpbench.io.image import write_image
    from dpbench.io.sintel import write_cam, write_dpt

    io = _bench_io()
    rng = np.random.default_rng(0)
    booster = io.write_booster(base, rng)
    _copies(booster / "train" / "balanced" / "Bench", count)
    eth3d = io.write_eth3d(base, rng)
    _copies(eth3d / "courtyard", count)
    sintel = base / "sintel" / "training"
    h, w = 436, 1024
    for index in range(count):
        depth = np.full((h, w), rng.uniform(8, 20), np.float32)
        depth[100:300, 300 + 20 * index:600] = rng.uniform(2, 4)
        depth *= rng.uniform(0.98, 1.02, size=(h, w)).astype(np.float32)
        write_image(sintel / "final" / "bench" / f"frame_{index + 1:04d}.png", io.photo_like(h, w, rng))
        write_dpt(sintel / "depth" / "bench" / f"frame_{index + 1:04d}.dpt", depth)
        K = np.array([[1120.0, 0, w / 2], [0, 1120.0, h / 2], [0, 0, 1]])
        write_cam(sintel / "camdata_left" / "bench" / f"frame_{index + 1:04d}.cam", K, np.hstack([np.eye(3), np.zeros((3, 1))]))
    return [("booster", booster, ("metric_depth",), None),
            ("eth3d", eth3d, ("metric_depth",), "all"),
            ("sintel", base / "sintel", ("metric_depth", "boundary_depth"), None)]


def _suite(name: str, path: Path, tasks: tuple[str, ...], split: str | None) -> Suite:
    return Suite(name=f"bench-{name}", description="benchmark", entries=(SuiteEntry(name, tasks, split, path),),
                 protocol=default_protocol_options(), source="file")


def _timed_run(out: Path, suite: Suite, model: str, workers: int, save: bool = False) -> tuple[float, RunStore]:
    """Wall seconds of a whole run (and its store); the process CPU seconds go to ``_timed_run.cpu``."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = run(RunConfig(model=model, suite=suite, out=out, workers=workers, progress=False, resume=False,
                           save_predictions=save), say=lambda message: None)
    elapsed = time.perf_counter() - start
    _timed_run.cpu = time.process_time() - start_cpu
    datasets = result.store.manifest["datasets"]
    if result.status != "complete" or result.errors or any(d["status"] != "complete" for d in datasets):
        raise SystemExit(f"benchmark run on {suite.name} failed: {datasets} {result.store.rows()['error'].unique()}")
    return elapsed, result.store


def _cpu_ms(fn, repeat: int = 1) -> float:
    """Median process CPU milliseconds of ``fn()`` (single thread: CPU time = cost, robust to load)."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(1000 * (time.process_time() - start))
    return float(np.median(times))


def _components(work: Path, name: str, path: Path, tasks: tuple[str, ...], split: str | None) -> dict:
    """CPU ms per sample of each runner step, called directly in one thread on every sample."""
    from dpbench.protocol import default_protocol

    dataset = open_dataset(name, path, split=split)
    protocol = default_protocol().for_dataset(dataset.depth_range)
    store = RunStore.create(work / f"components-{name}", {
        "run_id": "x", "status": "running", "created": "", "model": {}, "suite": "", "protocol": {},
        "datasets": [], "environment": {}})
    steps = [_sample_steps(dataset, index, tasks, protocol, store) for index in range(len(dataset))]
    sample = dataset[0]
    start = time.process_time()
    store.consolidate()
    store.merge_predictions()
    finish_ms = 1000 * (time.process_time() - start) / len(dataset)
    median = {key: float(np.median([step[key] for step in steps])) for key in steps[0]}
    return {"n": len(dataset), "size": f"{sample.width}x{sample.height}", **median,
            "store pred h5": median["store pred h5"] + finish_ms}


def _sample_steps(dataset, index: int, tasks, protocol, store: RunStore) -> dict[str, float]:
    """CPU ms of each runner step on sample ``index`` (``protocol`` bound to the dataset)."""
    from dpbench.runner.scoring import prepare_prediction
    from dpbench.tasks import get_task

    sample = dataset[index]
    half = Prediction(depth=np.full((sample.height // 2, sample.width // 2), 5.0, np.float32))
    full = Prediction(depth=np.full((sample.height, sample.width), 5.0, np.float32))
    pred = prepare_prediction(full, sample, "metric_depth", protocol.resize, to_gt=True)
    depth_task, boundary_task = get_task("metric_depth"), get_task("boundary_depth")
    metrics = _cpu_ms(lambda: depth_task.score(sample, pred, protocol))
    if "boundary_depth" in tasks:
        metrics += _cpu_ms(lambda: boundary_task.score(sample, pred, protocol))
    row = {"dataset": dataset.name, "sample_id": sample.id, "task": "metric_depth", "status": "ok",
           **depth_task.score(sample, pred, protocol)}
    rows = [dict(row, task=task) for task in tasks]
    return {
        "load": _cpu_ms(lambda: dataset[index]),
        "resize": _cpu_ms(lambda: prepare_prediction(half, sample, "metric_depth", "bilinear_inverse_depth",
                                                     to_gt=True)),
        "metrics": metrics,
        "store rows": _cpu_ms(lambda: store.append_rows(rows)),
        "store pred h5": _cpu_ms(lambda: store.write_prediction(dataset.name, sample.id, full.depth, {"focal_px": 1.0})),
    }


def bench_native(work: Path, count: int) -> list[dict]:
    table = []
    for name, path, tasks, split in write_native_samples(work / "data", count):
        suite = _suite(name, path, tasks, split)
        parts = _components(work, name, path, tasks, split)
        _timed_run(work / "warm", suite, "bench:stub", workers=0)  # page cache and imports
        wall, store = _timed_run(work / "pipe", suite, "bench:stub", workers=2)
        cpu = _timed_run.cpu
        rows = store.rows()
        n = parts["n"]
        predict_ms = 1000 * rows[rows["task"] == tasks[0]]["seconds_predict"].mean()
        cpu_ms = 1000 * cpu / n - predict_ms
        rest = cpu_ms - parts["load"] - parts["metrics"]
        table.append({
            "dataset": name, "size": parts["size"], "tasks": "+".join(t.replace("_depth", "") for t in tasks),
            "n": n, "load": parts["load"], "resize*": parts["resize"], "metrics": parts["metrics"],
            "store rows": parts["store rows"], "store pred h5*": parts["store pred h5"],
            "run cpu": cpu_ms, "rest": rest, "run wall": 1000 * wall / n - predict_ms,
            "cpu / 0.3 s": f"{100 * cpu_ms / 1000 / DEPTH_PRO_GPU_SECONDS:.0f}%",
        })
        shutil.rmtree(work / "data" / name, ignore_errors=True)
    return table


def _machine() -> str:
    import pandas
    import torch

    from dpbench.runner.provenance import cpu_name as _cpu_name

    return (f"{_cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
            f"python {platform.python_version()}, dpbench {__version__}, numpy {np.__version__}, "
            f"pandas {pandas.__version__}, torch {torch.__version__}; load average "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3, help="samples per native-size dataset")
    parser.add_argument("--skip-sample", action="store_true", help="skip part 1 (sample suite end to end)")
    parser.add_argument("--skip-native", action="store_true", help="skip part 2 (native-size overhead)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="dpbench-bench-runner-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {_machine()}")
    try:
        if not args.skip_sample:
            print("\n1. dpbench run --suite sample (4 probes) + dpbench report; target < 60 s")
            print(format_table(bench_sample_suite(work), ["case", "run s", "report s", "total s"]))
        if not args.skip_native:
            print("\n2. runner overhead per sample at native resolution, stub model (ms per sample)")
            table = bench_native(work, args.samples)
            print(format_table(table, list(table[0])))
            print("CPU ms per sample, one thread, each step called directly: load = dataset[i] (decode + GT "
                  "conversion, the adapter's cost); resize* = a half-resolution prediction brought to the GT "
                  "(only for models that do not predict at the GT size); metrics = every task's scoring at GT "
                  "resolution; store rows = journal append; store pred h5* = float16 cache incl. merge (only with "
                  "--save-predictions). run cpu = process CPU of a whole run (2 loader + 1 scoring threads, stub "
                  "model) per sample, minus the stub; rest = run cpu - load - metrics (thread hand-offs, page faults "
                  "of fresh full-size buffers, masks, rows, manifest); run wall = wall clock per sample minus the stub; cpu / 0.3 s = run cpu against Depth "
                  "Pro's 0.3 s per image on a V100 (the share of one GPU forward that loaders and scorers must hide "
                  "on other cores).")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
