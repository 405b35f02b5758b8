"""Two models timed side by side by ``dpbench speed --baseline-model``, and their ratio.

Run:  python benchmarks/bench_speed.py [--sizes vga,hd] [--repeats 5] [--warmup 1] [--device cpu]
                                        [--option KEY=VALUE ...] [--baseline-option KEY=VALUE ...]

By default both are Depth Pro's tiny configuration with random weights (seconds on a CPU, no
download): the candidate in channels-last memory layout, the baseline in the default layout, so
the ratio shows what that one option does on this machine. The command is run as a user would
run it (a subprocess, into a temporary runs folder); then the script prints the machine, the
Table 5-style rows of both runs and the ratio per size from ``dpbench check`` (exit code shown:
0 within 10 %, 1 slower). Absolute times depend on the machine and its load; the ratio, measured
in one job, is the number to compare. Not run by the tests (timing is a benchmark).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dpbench.speed.check import check_speed  # noqa: E402
from dpbench.speed.table import format_speed_table  # noqa: E402
from dpbench.store import RunStore  # noqa: E402

TINY = ["config=tiny", "pretrained=false"]


def machine() -> str:
    """One line on the machine: OS, CPU, cores, torch threads and the load at the start."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA"
    return (f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), {gpu}, load average {load}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="depthpro")
    parser.add_argument("--option", action="append", default=None, metavar="KEY=VALUE",
                        help="candidate option (default: config=tiny pretrained=false channels_last=true)")
    parser.add_argument("--baseline-model", default="depthpro")
    parser.add_argument("--baseline-option", action="append", default=None, metavar="KEY=VALUE",
                        help="baseline option (default: config=tiny pretrained=false)")
    parser.add_argument("--sizes", default="vga,hd")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    options = args.option if args.option is not None else [*TINY, "channels_last=true"]
    baseline_options = args.baseline_option if args.baseline_option is not None else list(TINY)

    print("machine:", machine())
    with tempfile.TemporaryDirectory(prefix="dpbench-bench-speed-") as folder:
        out = Path(folder)
        command = [sys.executable, "-m", "dpbench", "speed", "--model", args.model, "--device", args.device,
                   "--sizes", args.sizes, "--repeats", str(args.repeats), "--warmup", str(args.warmup),
                   "--out", str(out), "--run-id", "bench", "--baseline-model", args.baseline_model]
        command += [part for option in options for part in ("-o", option)]
        command += [part for option in baseline_options for part in ("--baseline-option", option)]
        print("$", " ".join(command[1:]), flush=True)
        done = subprocess.run(command, cwd=ROOT, check=False)
        if done.returncode not in (0, 1):
            print(f"dpbench speed failed (exit code {done.returncode})")
            return done.returncode
        candidate, baseline = RunStore(out / "bench"), RunStore(out / "bench.baseline")
        print()
        print(f"candidate: {args.model} {' '.join(options)}")
        print(f"baseline:  {args.baseline_model} {' '.join(baseline_options)}")
        print(format_speed_table([candidate, baseline]))
        print()
        code, lines = check_speed(candidate, None, tolerance=0.10)
        print("\n".join(lines))
        print(f"(dpbench check exit code {code})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
