"""Per-sample cost of the weight-free models at the evaluation sets' native resolutions: the probes
(hole filling, inverse-depth blur) and ``predictions:<dir>`` reading each file kind.

Run:  python benchmarks/bench_models.py [--repeat 3] [--sizes 436x1024,3008x4112,4032x6048]

The GT is a slanted plane with boxes in front and 10 % invalid pixels (a band and random holes),
so ``probe:gt`` does real nearest-valid filling. Prints one table: best-of-``repeat`` milliseconds
per sample, and megapixels per second.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpbench._table import format_table  # noqa: E402
from dpbench.models import load_model  # noqa: E402
from dpbench.types import Sample  # noqa: E402


def make_sample(height: int, width: int, rng: np.random.Generator) -> Sample:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    depth = 3.0 + 4.0 * y / height + 1.0 * x / width
    for _ in range(12):
        r, c = rng.integers(0, height - height // 6), rng.integers(0, width - width // 6)
        depth[r:r + height // 6, c:c + width // 6] = rng.uniform(1.0, 2.5)
    valid = rng.uniform(size=(height, width)) > 0.05
    valid[: height // 20] = False  # a band without GT, like a sky
    depth[~valid] = 0.0
    image = np.zeros((height, width, 3), np.uint8)
    return Sample("bench", image, depth=depth.astype(np.float32), valid=valid, focal_px=float(width))


def write_predictions(folder: Path, depth: np.ndarray) -> dict[str, Path]:
    """The same prediction in every file kind ``predictions:`` reads; returns kind -> folder."""
    import cv2
    import h5py

    from dpbench.io.pfm import write_pfm

    folders = {}
    for kind in ("npy", "npz", "pfm", "png16", "h5"):
        target = folder / kind
        target.mkdir()
        if kind == "npy":
            np.save(target / "bench.npy", depth)
        elif kind == "npz":
            np.savez_compressed(target / "bench.npz", depth=depth)
        elif kind == "pfm":
            write_pfm(target / "bench.pfm", depth)
        elif kind == "png16":
            cv2.imwrite(str(target / "bench.png"), np.clip(depth * 1000, 0, 65535).astype(np.uint16))
            (target / "scale.txt").write_text("1000")
        else:
            with h5py.File(target / "predictions.h5", "w") as handle:
                handle.create_dataset("bench", data=depth.astype(np.float16), compression="gzip")
        folders[kind] = target
    return folders


def best_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="436x1024,3008x4112,4032x6048",
                        help="comma-separated HxW (Sintel, Booster, ETH3D by default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    sizes = [tuple(int(n) for n in s.split("x")) for s in args.sizes.split(",")]
    probes = ["probe:gt", "probe:gt-blur", "probe:gt-scale", "probe:constant"]
    rows = []
    for height, width in sizes:
        sample = make_sample(height, width, rng)
        megapixels = height * width / 1e6
        for name in probes:
            model = load_model(name)
            ms = best_ms(lambda model=model, sample=sample: model.predict(sample), args.repeat)
            rows.append({"size": f"{height}x{width}", "model": name, "ms_per_sample": round(ms, 1),
                         "Mpx_per_s": round(megapixels / (ms / 1000), 1)})
        gt = load_model("probe:gt").predict(sample).depth
        with tempfile.TemporaryDirectory() as tmp:
            for kind, folder in write_predictions(Path(tmp), gt).items():
                model = load_model(f"predictions:{folder}")
                ms = best_ms(lambda model=model, sample=sample: model.predict(sample), args.repeat)
                rows.append({"size": f"{height}x{width}", "model": f"predictions ({kind})",
                             "ms_per_sample": round(ms, 1), "Mpx_per_s": round(megapixels / (ms / 1000), 1)})
    print(f"weight-free models, best of {args.repeat}, seed {args.seed}")
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
          f"| {platform.system()} {platform.release()}")
    import scipy

    print(f"python {platform.python_version()} | numpy {np.__version__} | scipy {scipy.__version__}")
    print()
    print(format_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
