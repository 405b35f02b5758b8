"""Speed of the runner (issue 6, item 7): the sample suite end to end, and the per-sample overhead.

Run:  python benchmarks/bench_runner.py [--samples 3] [--skip-sample] [--skip-native] [--keep DIR]

Part 1 — a new user's first minute: ``dpbench run --suite sample`` (the four probes, one run each)
and ``dpbench report --format markdown`` as subprocesses, timed as wall clock, first with the
sample data generated from scratch (fresh machine) and then with it present. Target: < 60 s.

Part 2 — what the runner itself costs per sample at native dataset resolutions, with a stub model
whose forward is free (a constant map): Booster-size (4112×3008 PNG + disparity), ETH3D-size
(6048×4032 JPEG + raw depth; sparse GT) and Sintel-size (1024×436, depth + boundary tasks)
samples written in their official layouts and read through the real adapters. Reported from the
rows the runner writes (load, predict, resize, metrics; ms per sample) plus the store's own cost
(journal rows, and the float16 prediction cache when ``--save-predictions`` is on), and the wall
time per sample of a whole run with 2 loader threads (pipelined) and with 0 (sequential). The
overhead is compared with Depth Pro's GPU time per image (0.3 s on a V100, paper §5).
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
from dpbench.suites import Suite, SuiteEntry, default_protocol_options, task_metrics  # noqa: E402
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
                 protocol=default_protocol_options(), task_metrics=task_metrics(), source="file")


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


def _store_costs(work: Path, store: RunStore, save: bool) -> tuple[float, float]:
    """ms per sample: appending its rows to a journal (+ amortised table rewrite every 256 rows),
    and caching its prediction as float16 (one part file, merged into predictions.h5)."""
    from dpbench.store import RunStore as Store

    rows = store.rows()
    per_sample = [group.to_dict("records") for _, group in rows.groupby("sample_id")]
    target = Store.create(work / f"store-{store.run_id}", {"run_id": "x", "status": "running", "created": "",
                                                          "model": {}, "suite": "", "protocol": {},
                                                          "datasets": [], "environment": {}})
    repeats = 256 // len(per_sample) + 1
    start = time.perf_counter()
    count = 0
    for repeat in range(repeats):
        for records in per_sample:
            target.append_rows([{**r, "sample_id": f"{r['sample_id']}#{repeat}"} for r in records])
            count += 1
    target.consolidate()
    rows_ms = 1000 * (time.perf_counter() - start) / count
    cache_ms = float("nan")
    if save:
        first = rows.iloc[0]
        depth, _ = store.read_prediction(first["dataset"], first["sample_id"])
        start = time.perf_counter()
        for index in range(2):
            target.write_prediction("d", f"s{index}", depth, {"focal_px": 1.0})
        target.merge_predictions()
        cache_ms = 1000 * (time.perf_counter() - start) / 2
    return rows_ms, cache_ms


def bench_native(work: Path, count: int) -> list[dict]:
    table = []
    for name, path, tasks, split in write_native_samples(work / "data", count):
        suite = _suite(name, path, tasks, split)
        _timed_run(work / "warm", suite, "bench:stub", workers=0)  # page cache and imports
        wall_seq, store = _timed_run(work / "seq", suite, "bench:stub", workers=0)
        cpu_seq = _timed_run.cpu
        wall_pipe, _ = _timed_run(work / "pipe", suite, "bench:stub", workers=2)
        _, half = _timed_run(work / "half", suite, "bench:stub-half", workers=0)
        _, saved = _timed_run(work / "saved", suite, "bench:stub", workers=0, save=True)
        rows = store.rows()
        first_task = rows[rows["task"] == tasks[0]]
        metrics_ms = 1000 * rows.groupby("sample_id")["seconds_metrics"].sum().mean()
        half_rows = half.rows()
        resize_ms = 1000 * half_rows[half_rows["task"] == tasks[0]]["seconds_resize"].mean()
        rows_ms, cache_ms = _store_costs(work, saved, save=True)
        sample = open_dataset(name, path, split=split)[0]
        h, w = sample.height, sample.width
        n = len(first_task)
        overhead_ms = 1000 * wall_pipe / n - 1000 * first_task["seconds_predict"].mean()
        table.append({
            "dataset": name, "size": f"{w}x{h}", "tasks": "+".join(t.replace("_depth", "") for t in tasks),
            "n": n,
            "load": 1000 * first_task["seconds_load"].mean(),
            "predict (stub)": 1000 * first_task["seconds_predict"].mean(),
            "resize (half-res)": resize_ms,
            "metrics": metrics_ms,
            "store rows": rows_ms,
            "store +pred h5": cache_ms,
            "cpu seq": 1000 * cpu_seq / n,
            "wall seq": 1000 * wall_seq / n,
            "wall 2 loaders": 1000 * wall_pipe / n,
            "overhead vs 0.3 s": f"{100 * overhead_ms / 1000 / DEPTH_PRO_GPU_SECONDS:.0f}%",
        })
        shutil.rmtree(work / "data" / name, ignore_errors=True)
    return table


def _machine() -> str:
    import pandas
    import torch

    from dpbench.runner import _cpu_name

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
            print("load/predict/resize/metrics: wall ms from the run's rows (load in a loader thread, metrics in "
                  "the scoring thread); 'cpu seq' = process CPU time of a sequential run per sample (robust to other "
                  "jobs on the machine); 'wall 2 loaders' = a whole run with load overlapped with predict and "
                  "scoring, per sample; 'overhead' = that wall minus the stub's predict, against Depth Pro's "
                  "0.3 s per image on a V100.")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
