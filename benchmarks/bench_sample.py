"""Generation time of the bundled sample suite (issue 4 target: under ~20 s on one core at scale 1).

Run:  python benchmarks/bench_sample.py [--scales 1.0] [--seed 0] [--keep DIR]

Generates the whole suite into a temporary folder for each scale and prints, per part (dataset
folder), the number of images, the wall time and the process CPU time (the one-core cost, robust
to other jobs on a shared machine; BLAS/OpenMP threads are pinned to 1), plus the total.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import PIL  # noqa: E402
import scipy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpbench._table import format_table  # noqa: E402
from dpbench.sample import suite as sample_suite  # noqa: E402


def time_suite(root: Path, seed: int, scale: float) -> list[dict]:
    """Generate every part into ``root`` and time each; returns table rows."""
    ctx = sample_suite._Context(root, seed, scale)
    rows = []
    wall_total = cpu_total = 0.0
    images = 0
    for part in sample_suite.PARTS:
        folder = root / part.folder
        folder.mkdir(parents=True)
        ctx.part = part.name
        wall, cpu = time.perf_counter(), time.process_time()
        count = part.writer(ctx, folder)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        rows.append({"scale": f"{scale:g}", "part": part.name, "images": count, "wall_s": f"{wall:.2f}",
                     "cpu_s": f"{cpu:.2f}", "cpu_per_image_s": f"{cpu / count:.3f}", "MB": f"{size / 1e6:.1f}"})
        wall_total += wall
        cpu_total += cpu
        images += count
    rows.append({"scale": f"{scale:g}", "part": "TOTAL", "images": images, "wall_s": f"{wall_total:.2f}",
                 "cpu_s": f"{cpu_total:.2f}", "cpu_per_image_s": f"{cpu_total / images:.3f}", "MB": ""})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="write the suites here instead of a temp folder")
    args = parser.parse_args()

    print(f"machine: {platform.machine()} {platform.processor() or ''} ({os.cpu_count()} cores), "
          f"{platform.system()} {platform.release()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"pillow {PIL.__version__}; threads pinned to 1; supersampling {sample_suite.SUPERSAMPLING}x"
          f"{sample_suite.SUPERSAMPLING}")
    rows = []
    for scale in args.scales:
        base = args.keep or Path(tempfile.mkdtemp(prefix="dpbench-sample-bench-"))
        root = base / f"scale-{scale:g}"
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        try:
            rows += time_suite(root, args.seed, scale)
        finally:
            if args.keep is None:
                shutil.rmtree(base, ignore_errors=True)
    print(format_table(rows, ["scale", "part", "images", "wall_s", "cpu_s", "cpu_per_image_s", "MB"]))
    print("target: TOTAL cpu_s < 20 at scale 1 (one core)")


if __name__ == "__main__":
    main()
