"""Loading time of one native-size sample through the dataset adapters (issue 3 speed targets).

Run:  python benchmarks/bench_io.py [--repeat 5] [--seed 0] [--keep DIR]

Writes, in a temporary folder, one Booster sample (4112×3008 PNG + float32 disparity .npy +
mask PNG + calib XML) and one ETH3D sample (6048×4032 JPEG + 97 MB raw float32 depth + COLMAP
calibration) in their official layouts, then times ``ds[0]`` (the full Sample: decode, depth
conversion, validity mask) and its parts on one core (OpenCV/BLAS threads pinned to 1), as wall
time and as process CPU time (the one-core cost, robust to other jobs on a shared machine). The
files were just written, so the page cache is warm: this measures decoding, not the disk.
Targets: Booster ≤ 0.5 s, ETH3D ≤ 1 s.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import PIL  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpbench._table import format_table  # noqa: E402
from dpbench.datasets import open_dataset  # noqa: E402
from dpbench.io.booster import read_booster_disparity, write_booster_calib, write_booster_disparity  # noqa: E402
from dpbench.io.colmap import ColmapCamera, ColmapImage, write_cameras_txt, write_images_txt  # noqa: E402
from dpbench.io.eth3d import read_depth, write_depth  # noqa: E402
from dpbench.io.image import read_image, write_image  # noqa: E402


def photo_like(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth colour fields + edges + sensor-like noise, so PNG/JPEG sizes resemble real photos."""
    coarse = rng.integers(0, 256, size=(height // 64 + 2, width // 64 + 2, 3), dtype=np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    blocks = cv2.resize(rng.integers(-40, 40, size=(height // 200 + 1, width // 200 + 1, 3)).astype(np.int16),
                        (width, height), interpolation=cv2.INTER_NEAREST)
    image += blocks + rng.integers(-4, 5, size=image.shape, dtype=np.int16)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_booster(root: Path, rng: np.random.Generator) -> Path:
    height, width = 3008, 4112
    scene = root / "booster" / "train" / "balanced" / "Bench"
    write_image(scene / "camera_00" / "im0.png", photo_like(height, width, rng))
    disparity = cv2.resize(rng.uniform(100, 700, size=(48, 64)).astype(np.float32), (width, height))
    disparity[rng.random((height, width)) < 0.05] = 0
    write_booster_disparity(scene / "disp_00.npy", disparity)
    mask = np.full((height, width), 255, np.uint8)
    mask[:, :200] = 0
    cv2.imwrite(str(scene / "mask_00.png"), mask)
    K = np.array([[5230.0, 0, 2056], [0, 5230.0, 1504], [0, 0, 1]])
    P = np.hstack([K, np.zeros((3, 1))])
    P_r = P.copy()
    P_r[0, 3] = -5230.0 * 80.0
    write_booster_calib(scene / "calib_00-02.xml", K, P, P_r, 80.0)
    return root / "booster"


def write_eth3d(root: Path, rng: np.random.Generator) -> Path:
    height, width = 4032, 6048
    scene = root / "eth3d" / "courtyard"
    write_image(scene / "images" / "dslr_images" / "DSC_0286.JPG", photo_like(height, width, rng), quality=95)
    depth = cv2.resize(rng.uniform(2, 60, size=(32, 48)).astype(np.float32), (width, height))
    depth[rng.random((height, width)) < 0.9] = np.inf  # sparse laser GT, ~10 % valid
    write_depth(scene / "ground_truth_depth" / "dslr_images" / "DSC_0286.JPG", depth)
    camera = ColmapCamera(0, "THIN_PRISM_FISHEYE", width, height,
                          (3411.42, 3410.02, 3041.29, 2014.07, 0.2, 0.2, 0.0, 0.0, -0.1, 0.1, 0.0, 0.0))
    write_cameras_txt(scene / "dslr_calibration_jpg" / "cameras.txt", [camera])
    write_images_txt(scene / "dslr_calibration_jpg" / "images.txt",
                     [ColmapImage(1, (1, 0, 0, 0), (0, 0, 0), 0, "dslr_images/DSC_0286.JPG")])
    return root / "eth3d"


def timings(fn, repeat: int) -> tuple[float, float, float]:
    """(best wall, median wall, best CPU) seconds over ``repeat`` calls after one warm-up call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), statistics.median(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="write the files here and keep them")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(args.seed)

    with tempfile.TemporaryDirectory() as temporary:
        base = args.keep or Path(temporary)
        booster_root, eth3d_root = write_booster(base, rng), write_eth3d(base, rng)
        booster = open_dataset("booster", booster_root, split="all")
        eth3d = open_dataset("eth3d", eth3d_root, split="all")
        b_scene = booster_root / "train" / "balanced" / "Bench"
        e_scene = eth3d_root / "courtyard"
        cases = [
            ("booster", "sample (ds[0])", lambda: booster[0], 0.5),
            ("booster", "  image PNG 4112x3008", lambda: read_image(b_scene / "camera_00" / "im0.png"), None),
            ("booster", "  disparity .npy (mmap, read)",
             lambda: np.asarray(read_booster_disparity(b_scene / "disp_00.npy")).sum(), None),
            ("eth3d", "sample (ds[0])", lambda: eth3d[0], 1.0),
            ("eth3d", "  image JPEG 6048x4032", lambda: read_image(e_scene / "images/dslr_images/DSC_0286.JPG"), None),
            ("eth3d", "  raw depth 97 MB (mmap, read)",
             lambda: np.isfinite(read_depth(e_scene / "ground_truth_depth/dslr_images/DSC_0286.JPG")).sum(), None),
        ]
        rows = []
        for dataset, what, fn, target in cases:
            best, median, cpu = timings(fn, args.repeat)
            rows.append({"dataset": dataset, "what": what, "wall_best_s": f"{best:.3f}",
                         "wall_median_s": f"{median:.3f}", "cpu_best_s": f"{cpu:.3f}",
                         "target_s": "-" if target is None else f"<= {target}",
                         "ok_wall": "-" if target is None else ("yes" if best <= target else "NO"),
                         "ok_cpu": "-" if target is None else ("yes" if cpu <= target else "NO")})
        sizes = {
            "booster PNG": (b_scene / "camera_00" / "im0.png").stat().st_size,
            "eth3d JPEG": (e_scene / "images/dslr_images/DSC_0286.JPG").stat().st_size,
            "eth3d depth": (e_scene / "ground_truth_depth/dslr_images/DSC_0286.JPG").stat().st_size,
        }

    print("dpbench io: one native-size sample per dataset, one core, warm page cache")
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
          f"| {platform.system()} {platform.release()}")
    print(f"python {platform.python_version()} | numpy {np.__version__} | pillow {PIL.__version__} "
          f"| opencv {cv2.__version__}")
    print("files: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))
    print(f"repeat {args.repeat} after a warm-up; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    print("cpu = process CPU time of the (single-threaded) read: the one-core time when other jobs share the machine")
    print()
    print(format_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
