"""Timing of the point-cloud metrics (PC-CD / PC-F / PC-IoU) at Sintel and Booster size.

Usage: ``python benchmarks/bench_pointcloud.py [--booster] [--error 0.05] [--noise 0.01]``

Prints the machine and library versions, checks the fast path against an all-pairs reference on a
small frame, then times :func:`dpbench.metrics.pointcloud.pointcloud_metrics` (the depth-map search
of :mod:`dpbench.metrics.gridnn`) side by side with the same metric on ``scipy.spatial.cKDTree``
(the general-cloud path; ratio printed) on a synthetic room
(floor, side wall, back wall, a box) whose prediction has a smooth relative error of ±``error``
plus i.i.d. Gaussian noise of ``noise`` metres (1 cm by default; real predictions are smoother),
median-aligned (the default). The machine's load average is printed: on a shared machine the
times scale with it. Booster size (4112×3008, 12.4 Mpx) runs only with ``--booster`` (the KD-tree
there only with ``--booster-kdtree``: it takes minutes). Times are the best of ``--repeat`` runs;
the first call also loads numba's compiled code, so it is made on a small frame beforehand.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np
import scipy
from scipy.spatial.distance import cdist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dpbench.metrics import gridnn  # noqa: E402
from dpbench.metrics.pointcloud import pointcloud_metrics  # noqa: E402


def room(h: int, w: int, error: float, seed: int = 0, noise: float = 0.01):
    rng = np.random.default_rng(seed)
    fx = fy = 0.8 * w
    cx, cy = w / 2, h / 2
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = (u - cx) / fx, (v - cy) / fy
    gt = np.full((h, w), 6.0)
    with np.errstate(divide="ignore"):
        gt = np.minimum(gt, np.where(y > 0, 1.5 / np.maximum(y, 1e-12), np.inf))
        gt = np.minimum(gt, np.where(x > 0, 2.5 / np.maximum(x, 1e-12), np.inf))
    gt[int(0.35 * h): int(0.6 * h), int(0.3 * w): int(0.5 * w)] = 3.0
    pred = gt * (1 + error * np.sin(6 * u / w) * np.cos(5 * v / h)) + rng.normal(0, noise, (h, w))
    return pred, gt, (fx, fy, cx, cy)


def reference(pred, gt, fx, fy, cx, cy, t=0.1):
    v, u = np.nonzero(gt > 0)
    g, p = gt[v, u], pred[v, u]
    p = p * np.median(g) / np.median(p)
    ray = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones(u.size)], 1)
    d = cdist(ray * p[:, None], ray * g[:, None])
    a, b = d.min(1), d.min(0)
    pr, re = (a < t).mean(), (b < t).mean()
    return (a**2).mean() + (b**2).mean(), 2 * pr * re / (pr + re)


def timed(pred, gt, intr, repeat=1, kdtree=False):
    """Best wall time of ``repeat`` calls; ``kdtree`` switches to the general KD-tree path."""
    saved = gridnn.numba
    if kdtree:
        gridnn.numba = None  # pointcloud_metrics then uses scipy's cKDTree
    try:
        best = np.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = pointcloud_metrics(pred, gt, None, *intr)
            best = min(best, time.perf_counter() - t0)
    finally:
        gridnn.numba = saved
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--booster", action="store_true", help="also time a 4112×3008 frame")
    ap.add_argument("--booster-kdtree", action="store_true", help="and the KD-tree there (minutes)")
    ap.add_argument("--error", type=float, default=0.05, help="relative depth error amplitude")
    ap.add_argument("--noise", type=float, default=0.01, help="per-pixel prediction noise (m)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing (best is printed)")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), "
          f"load average {os.getloadavg()[0]:.1f}")

    pred, gt, intr = room(40, 60, args.error)
    want_cd, want_f = reference(pred, gt, *intr)
    _, got = timed(pred, gt, intr)  # also loads the compiled code
    print(f"small 60×40: fast CD {got['pc_cd']:.9g} F {got['pc_f']:.6f} | all-pairs CD {want_cd:.9g} "
          f"F {want_f:.6f} | max |ΔCD| {abs(got['pc_cd'] - want_cd):.2e}")

    sizes = [("Sintel", 436, 1024)] + ([("Booster", 3008, 4112)] if args.booster else [])
    for name, h, w in sizes:
        pred, gt, intr = room(h, w, args.error, noise=args.noise)
        secs, out = timed(pred, gt, intr, repeat=args.repeat)
        line = (f"{name} {w}×{h} ({out['n_points'] / 1e6:.2f} M points, error ±{args.error:g}, "
                f"noise {args.noise:g} m): depth-map search {secs:.2f} s "
                f"(CD {out['pc_cd']:.6g} m², F {out['pc_f']:.4f})")
        if name == "Sintel" or args.booster_kdtree:
            ref_secs, ref = timed(pred, gt, intr, repeat=1 if name == "Booster" else args.repeat,
                                  kdtree=True)
            same = abs(ref["pc_cd"] - out["pc_cd"]) <= 1e-9 * abs(ref["pc_cd"]) and ref["pc_f"] == out["pc_f"]
            line += (f" | KD-tree {ref_secs:.2f} s (CD {ref['pc_cd']:.6g} m², F {ref['pc_f']:.4f}; "
                     f"{'same' if same else 'DIFFERENT'}) | ratio {secs / ref_secs:.3f}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
