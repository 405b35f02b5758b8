"""Speed of the per-pixel depth metrics and of the alignments at the evaluation sets' GT sizes.

Run:  python benchmarks/bench_depth_metrics.py [--repeat 5]

Prints one table: best-of-``repeat`` milliseconds of ``depth_metrics`` (with a valid mask and a
depth range) and of each alignment, per GT resolution (Table 18 of the paper).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpbench._table import format_table  # noqa: E402
from dpbench.align import ALIGNMENTS, align  # noqa: E402
from dpbench.metrics.depth import depth_metrics  # noqa: E402

SIZES = {  # GT resolution (H, W) of the zero-shot sets, paper Table 18
    "Sintel": (436, 1024),
    "Sun-RGBD": (530, 730),
    "NuScenes": (900, 1600),
    "Middlebury": (1988, 2952),
    "Booster": (3008, 4112),
}


def best_ms(repeat: int, fn, *args, **kwargs) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for name, (h, w) in SIZES.items():
        gt = rng.uniform(0.5, 20.0, (h, w)).astype(np.float32)
        valid = rng.random((h, w)) > 0.1
        pred = (gt * np.exp(0.2 * rng.standard_normal((h, w)))).astype(np.float32)
        metrics_ms = best_ms(args.repeat, depth_metrics, pred, gt, valid, 0.001, 10.0)
        row = {"dataset": name, "size": f"{h}x{w}", "depth_metrics": f"{metrics_ms:.0f}"}
        for method in ALIGNMENTS[1:]:
            row[method] = f"{best_ms(args.repeat, align, method, pred, gt, valid):.0f}"
        rows.append(row)
    print("depth metrics and alignments, float32 maps, best of", args.repeat, "(milliseconds)")
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} | python {platform.python_version()} "
          f"| numpy {np.__version__}")
    print()
    print(format_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
