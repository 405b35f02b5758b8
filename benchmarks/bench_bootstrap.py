"""Speed of the bootstrap intervals: images × models × resamples of one dataset, as ``dpbench
report --ci`` computes them (one resample-count matrix shared by every model, one matrix product
per model), for the depth task's per-image and pooled aggregations, and the average-rank
distribution of the models over the same resamples.

Run:  python benchmarks/bench_bootstrap.py [--images 5000] [--models 10] [--resamples 1000] [--repeat 3]

Rows are synthetic (random ``stat_*`` sums and per-image metrics, one row per image and model).
Prints the machine, the versions and one table: best-of-``repeat`` wall time of the intervals
(rows → statistics → resamples → percentile intervals) and of the rank distribution. The issue's
target is 5000 images × 10 models × 1000 resamples ≤ 2 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpbench._table import format_table  # noqa: E402
from dpbench.metrics.depth import DEPTH_METRIC_KEYS, STAT_KEYS  # noqa: E402
from dpbench.stats.bootstrap import BootstrapOptions, bootstrap_dataset, percentile_interval  # noqa: E402
from dpbench.stats.ranks import average_rank_samples, first_place_probability  # noqa: E402


def synthetic_rows(images: int, rng: np.random.Generator) -> pd.DataFrame:
    """One metric_depth row per image with plausible per-image metrics and stat_* sums."""
    count = rng.integers(1000, 5000, images).astype(float)
    frame = {"sample_id": [f"img{i:06d}" for i in range(images)], "task": "metric_depth", "status": "ok"}
    for key in STAT_KEYS:
        frame[f"stat_{key}"] = count if key == "count" else count * rng.uniform(0.0, 1.0, images)
    for key in DEPTH_METRIC_KEYS:
        frame[key] = rng.uniform(0.0, 1.0, images)
    return pd.DataFrame(frame)


def one_pass(runs: dict, aggregation: str, options: BootstrapOptions) -> tuple[float, float]:
    """Seconds of the intervals of every model and metric, and of the rank distribution."""
    start = time.perf_counter()
    out = bootstrap_dataset("bench", runs, dict.fromkeys(runs, aggregation), options)
    for metrics in out.values():
        for samples in metrics.values():
            percentile_interval(samples, options.level)
    middle = time.perf_counter()
    table = np.stack([out[key]["delta1"] for key in runs], axis=1)[:, :, None]
    ranks = average_rank_samples(table, higher_is_better=True)
    first_place_probability(ranks)
    return middle - start, time.perf_counter() - middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    runs = {f"model{m}": {"metric_depth": synthetic_rows(args.images, rng)} for m in range(args.models)}
    options = BootstrapOptions(0.95, args.resamples, args.seed)
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
          f"{platform.system()} {platform.release()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")
    print(f"{args.images} images × {args.models} models × {args.resamples} resamples, 9 depth metrics each")
    rows = []
    for aggregation in ("per_image", "pooled"):
        times = [one_pass(runs, aggregation, options) for _ in range(args.repeat)]
        rows.append({"aggregation": aggregation, "intervals s": f"{min(t[0] for t in times):.3f}",
                     "rank distribution s": f"{min(t[1] for t in times):.3f}",
                     "total s": f"{min(sum(t) for t in times):.3f}"})
    print(format_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
