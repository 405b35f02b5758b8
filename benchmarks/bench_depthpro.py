"""Native Depth Pro against the released code: time, forward memory and output difference, side by side.

    python benchmarks/bench_depthpro.py --released-src /tmp/ml-depth-pro/src            # full model
    python benchmarks/bench_depthpro.py --released-src /tmp/ml-depth-pro/src --rounds 3 --precisions fp32,bf16

``--released-src`` is the ``src`` folder of a checkout of https://github.com/apple/ml-depth-pro; its
``depth_pro`` package is imported from there (only by the worker that runs it; ``pillow_heif``,
needed by the released package's image loading and not by the network, is stubbed when missing).
Without it only dpbench's rows are measured.

Both networks hold the same random weights: dpbench's network is built with seed 0 (FoV head set to
60°, positive depth bias) and saved to a temporary state dict; the released network is created by
``create_model_and_transforms`` without a checkpoint and the state dict is loaded into it with
``strict=True``; dpbench loads it with its own loader. The input is one fixed random B×3×1536×1536
tensor in [−1, 1]; only the network forward is timed (the released one under ``torch.no_grad`` as
its ``infer``, dpbench's under ``torch.inference_mode`` as its ``infer``), float32 unless a
precision row says otherwise (bf16: dpbench under CPU autocast).

Each measurement runs in a fresh subprocess, one after another, alternating the order each round,
so that memory is each model's own and both see the same machine load. Forward memory is the
peak resident set during the forward minus the resident set just before it (weights loaded,
input made, every weight read once), for the first forward of each process: a thread samples the
anonymous resident memory (``/proc/self/statm`` resident − shared) every 2 ms; the kernel's VmHWM
(reset before the forward; it includes file pages) is reported too. Outputs are compared with the
released float32 output: max |Δ| and max |Δ| / max |reference| of the canonical inverse depth, and
|Δ| of the FoV.

``--profile`` runs the first timed forward of each subprocess under ``torch.profiler`` (its
overhead is small beside operators of milliseconds; the full model takes minutes per forward on a
small CPU, so no extra forward is spent), with wall-clock hooks on the stages both networks share by module name (the patch-encoder ViT on the 35 windows,
the image-encoder ViT, the FoV ViT, the FoV convs); "decoder, head and glue" is the rest of the
forward (projections, window split/merge, decoder, head). Below the stages the operators with the
largest self time are listed, so that the time outside the ViTs' matrix products is visible.

Measured on 2-core AMD EPYC VMs (AVX2, no AVX-512), fp32, one round each, idle: Zen 3, released
142 s, dpbench 125 s (time 0.88×, forward memory 0.48×); Zen 1, released 345 s, dpbench 282 s (0.82×,
0.47×); max relative |Δ| 5e-7 both. The three ViT-L backbones (37 windows of 384², about 14 of
the 19.2 TFLOP) take 79 % (Zen 3) to 86 % (Zen 1) of dpbench's forward and the same time in the
released one; their linear layers (``addmm``, MKL) run at the machine's fp32 matrix-product rate
(~165 GFLOP/s on Zen 3, ~68 on Zen 1, measured with ``torch.mm`` on 4096² matrices), so the
backbones alone are ~0.7× the released forward and bound the ratio from below. dpbench's savings
are in the rest: NNPACK Winograd 3×3 convs and matrix-product transposed convs in the decoder and
head, and chunked windows / row bands for memory. bf16 autocast on a CPU without AVX512-BF16 or
AMX is about 3× slower than fp32.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    """Anonymous resident memory (statm resident − shared): tensors, not file pages.

    dpbench memory-maps the checkpoint; its weights are file pages, counted in the resident set
    only once touched. Leaving them out (and touching all weights before the forward) keeps a
    first forward from being charged with the weights it reads.
    """
    try:
        with open("/proc/self/statm") as handle:
            fields = handle.read().split()
            return (int(fields[1]) - int(fields[2])) * PAGE
    except OSError:
        return 0


def _status(field: str) -> int:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class PeakSampler:
    """Samples the resident set in a thread; ``peak`` is the largest value seen."""

    def __init__(self, interval: float = 0.002):
        self.interval, self.peak, self._stop = interval, _rss(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def _released_network(src: str, config_name: str):
    """The released ``DepthPro`` (random init, no checkpoint), imported from ``src``."""
    sys.path.insert(0, src)
    try:
        import pillow_heif  # noqa: F401
    except ImportError:  # only the released image loader uses it
        stub = types.ModuleType("pillow_heif")
        stub.register_heif_opener = lambda *a, **k: None
        sys.modules["pillow_heif"] = stub
    import dataclasses

    from depth_pro.depth_pro import DEFAULT_MONODEPTH_CONFIG_DICT, create_model_and_transforms

    if config_name != "default":
        raise SystemExit("the released code builds only the default architecture")
    config = dataclasses.replace(DEFAULT_MONODEPTH_CONFIG_DICT, checkpoint_uri=None)
    model, _ = create_model_and_transforms(config=config)
    return model


def worker(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    kind, precision = args.worker.split(":")
    load_start = time.perf_counter()
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True, mmap=True)
    if kind == "released":
        network = _released_network(args.released_src, args.config)
        network.load_state_dict(state, strict=True)
        module = sys.modules[type(network).__module__]
        source = str(Path(module.__file__).resolve())
    else:
        from dpbench.models.depthpro.model import load_network

        network, _ = load_network(args.config, args.checkpoint)
        source = str(Path(sys.modules[type(network).__module__].__file__).resolve())
    del state
    network = network.eval()
    with torch.no_grad():  # make every weight resident before measuring (mmap-backed in dpbench)
        touched = sum(float(p.detach().float().sum()) for p in network.parameters())
    load_seconds = time.perf_counter() - load_start
    size = network.img_size if kind == "released" else network.image_size
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(args.batch, 3, size, size, generator=generator) * 2 - 1

    import contextlib
    import gc

    grad_mode = torch.no_grad if kind == "released" else torch.inference_mode
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16"
                else contextlib.nullcontext())
    times, peaks, hwms, profiled = [], [], [], None
    for repeat in range(args.warmup + args.repeats):
        gc.collect()
        before = _rss()
        hwm_ok = _reset_hwm()
        profiler = StageProfiler(network) if args.profile and repeat == args.warmup else None
        with PeakSampler() as sampler, grad_mode(), autocast, profiler or contextlib.nullcontext():
            start = time.perf_counter()
            canonical, fov = network(x)
            seconds = time.perf_counter() - start
        if repeat >= args.warmup:
            times.append(seconds)
        if profiler is not None:
            profiled = profiler.result()
        if repeat == 0:
            # Only the first forward of a process: the allocator keeps freed pages afterwards, so
            # later forwards start from a resident set that already holds their working memory.
            peaks.append(sampler.peak - before)
            hwms.append(_status("VmHWM") - before if hwm_ok else None)
        out = (canonical.float().numpy().copy(), None if fov is None else fov.float().numpy().copy())
        del canonical, fov
    np.save(args.output, out[0])
    if out[1] is not None:
        np.save(args.output.replace(".npy", "_fov.npy"), out[1])
    return {
        "model": kind, "precision": precision, "seconds": times, "forward_bytes": peaks, "hwm_bytes": hwms,
        "rss_before_bytes": before, "load_seconds": load_seconds, "source": source,
        "parameters": sum(p.numel() for p in network.parameters()), "weights_checksum": touched,
        "profile": profiled,
    }


#: Stages timed by ``--profile``: (label, [(first module, last module)]); a stage runs from the
#: first module's forward pre-hook to the last one's forward hook. The modules have the same names
#: in both networks; a ViT is timed from its patch embedding to its final norm, because dpbench's
#: patch encoder is entered through a method other than ``forward``.
PROFILE_STAGES = (
    ("patch encoder ViT (35 windows)", (("encoder.patch_encoder.patch_embed", "encoder.patch_encoder.norm"),)),
    ("image encoder ViT", (("encoder.image_encoder.patch_embed", "encoder.image_encoder.norm"),)),
    ("FoV ViT", (("fov.encoder.0.patch_embed", "fov.encoder.0.norm"),)),
    ("FoV convs", (("fov.downsample", "fov.downsample"), ("fov.head", "fov.head"))),
)


class StageProfiler:
    """Context for one forward: ``torch.profiler`` plus wall-clock hooks on :data:`PROFILE_STAGES`."""

    def __init__(self, network, top: int = 14):
        self.network, self.top = network, top
        self.seconds: dict[str, float] = {label: 0.0 for label, _ in PROFILE_STAGES}
        self._handles: list = []
        self._starts: dict = {}

    def _hook(self, label: str, first: str, last: str, modules: dict) -> None:
        def pre(_module, _inputs):
            self._starts[(label, first)] = time.perf_counter()

        def post(_module, _inputs, _output):
            self.seconds[label] += time.perf_counter() - self._starts.pop((label, first))

        self._handles += [modules[first].register_forward_pre_hook(pre), modules[last].register_forward_hook(post)]

    def __enter__(self) -> StageProfiler:
        from torch.profiler import ProfilerActivity, profile

        modules = dict(self.network.named_modules())
        for label, spans in PROFILE_STAGES:
            for first, last in spans:
                if first in modules and last in modules:
                    self._hook(label, first, last, modules)
        self._profiler = profile(activities=[ProfilerActivity.CPU])
        self._profiler.__enter__()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.total = time.perf_counter() - self._start
        self._profiler.__exit__(*exc)
        for handle in self._handles:
            handle.remove()

    def result(self) -> dict:
        """Stage seconds (the rest of the forward as "decoder, head and glue") and top operators."""
        stages = dict(self.seconds)
        stages["decoder, head and glue"] = self.total - sum(stages.values())
        events = sorted(self._profiler.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        ops = [(e.key, e.self_cpu_time_total / 1e6, e.count) for e in events[: self.top]]
        return {"total": self.total, "stages": stages, "ops": ops}


def _print_profile(job: str, profile: dict) -> None:
    total = profile["total"]
    print(f"\nprofile {job} (the first timed forward, {total:.1f} s):")
    for label, value in profile["stages"].items():
        print(f"  {label:34s} {value:8.1f} s  {100 * value / total:5.1f} %")
    print("  operators by self time:")
    for name, value, count in profile["ops"]:
        print(f"    {name:40s} {value:8.1f} s  {100 * value / total:5.1f} %  ({count} calls)")


def _save_random_checkpoint(config: str, path: str) -> None:
    import torch

    from dpbench.models.depthpro.network import build_network

    torch.manual_seed(0)
    network = build_network(config)
    with torch.no_grad():
        network.head[4].bias.fill_(0.1)
        if hasattr(network, "fov"):
            network.fov.head[4].weight.mul_(0.01)
            network.fov.head[4].bias.fill_(60.0)
    torch.save(network.state_dict(), path)


def _machine(threads: int) -> str:
    import timm
    import torch

    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name") and cpu in ("", platform.machine()):
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = ",".join(sorted(f for f in flags if f.startswith(("avx512", "amx")))) or "no AVX-512 flags"
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (f"{cpu}, {os.cpu_count()} cores ({threads} torch threads), {simd}, torch CPU capability "
            f"{torch.backends.cpu.get_cpu_capability()}; load average {load[0]:.1f}; Python "
            f"{platform.python_version()}, torch {torch.__version__}, timm {timm.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--released-src", default=None, help="ml-depth-pro/src of the released code")
    parser.add_argument("--config", default="default", help="dpbench preset (the released code: default only)")
    parser.add_argument("--precisions", default="fp32,bf16", help="dpbench precisions: fp32, bf16")
    parser.add_argument("--rounds", type=int, default=1, help="alternating released/dpbench rounds")
    parser.add_argument("--repeats", type=int, default=1, help="timed forwards per subprocess")
    parser.add_argument("--warmup", type=int, default=0, help="untimed forwards first, per subprocess")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--profile", action="store_true", help="per-stage and per-operator profile")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return

    import numpy as np

    print(_machine(args.threads), flush=True)
    jobs = [f"dpbench:{p}" for p in args.precisions.split(",") if p]
    rows, outputs = [], {}
    with tempfile.TemporaryDirectory() as folder:
        args.checkpoint = str(Path(folder) / "random.pt")
        _save_random_checkpoint(args.config, args.checkpoint)
        for round_index in range(args.rounds):
            order = list(jobs)
            if args.released_src:
                order = ["released:fp32", *order] if round_index % 2 == 0 else [*order, "released:fp32"]
            for job in order:
                out = str(Path(folder) / f"{job.replace(':', '_')}_{round_index}.npy")
                command = [sys.executable, __file__, "--worker", job, "--output", out, "--checkpoint",
                           args.checkpoint, "--config", args.config, "--threads", str(args.threads),
                           "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--batch", str(args.batch)]
                if args.profile:
                    command.append("--profile")
                if args.released_src:
                    command += ["--released-src", args.released_src]
                result = subprocess.run(command, capture_output=True, text=True, check=False)
                if result.returncode != 0:
                    print(f"{job}: failed\n{result.stderr[-3000:]}", file=sys.stderr)
                    continue
                row = json.loads(result.stdout.strip().splitlines()[-1])
                row["round"] = round_index
                rows.append(row)
                fov_path = Path(out.replace(".npy", "_fov.npy"))
                outputs.setdefault(job, (np.load(out), np.load(fov_path) if fov_path.exists() else None))
                print(f"round {round_index} {job}: {row['seconds']} s, forward "
                      f"{[round(b / 2**30, 2) for b in row['forward_bytes']]} GiB", flush=True)

    reference = outputs.get("released:fp32") or outputs.get("dpbench:fp32")
    ref_name = "released fp32" if "released:fp32" in outputs else "dpbench fp32"
    gib = 2**30
    print(f"\nDepth Pro ({args.config}), input {args.batch}×3×S×S random, random weights shared by "
          f"both, network forward only; {args.rounds} round(s) × {args.repeats} repeat(s) after "
          f"{args.warmup} warm-up, each model in a fresh subprocess")
    for job in (["released:fp32"] if "released:fp32" in outputs else []) + jobs:
        mine = [r for r in rows if f"{r['model']}:{r['precision']}" == job]
        if not mine:
            continue
        secs = [s for r in mine for s in r["seconds"]]
        mem = [b for r in mine for b in r["forward_bytes"]]
        line = (f"{job:15s} time {min(secs):8.1f} s (all: {', '.join(f'{s:.1f}' for s in secs)}), "
                f"forward memory {max(mem) / gib:.2f} GiB (VmHWM {max(h or 0 for r in mine for h in r['hwm_bytes']) / gib:.2f})"
                f", weights+input RSS {mine[0]['rss_before_bytes'] / gib:.2f} GiB")
        canonical, fov = outputs[job]
        if reference is not None and job != "released:fp32":
            diff = np.abs(canonical.astype(np.float64) - reference[0])
            scale = float(np.abs(reference[0]).max())
            line += (f"; vs {ref_name}: max|Δ| {diff.max():.3e} (max|ref| {scale:.3e}, "
                     f"rel {diff.max() / scale:.2e})")
            if fov is not None and reference[1] is not None:
                line += f", FoV |Δ| {float(np.abs(fov.astype(np.float64) - reference[1]).max()):.2e}°"
        print(line)
        print(f"{'':15s} source {mine[0]['source']}")
    if "released:fp32" in outputs and "dpbench:fp32" in outputs:
        by_round = {}
        for r in rows:
            by_round.setdefault(r["round"], {})[f"{r['model']}:{r['precision']}"] = r
        ratios_t = [min(d["dpbench:fp32"]["seconds"]) / min(d["released:fp32"]["seconds"])
                    for d in by_round.values() if {"dpbench:fp32", "released:fp32"} <= set(d)]
        ratios_m = [max(d["dpbench:fp32"]["forward_bytes"]) / max(d["released:fp32"]["forward_bytes"])
                    for d in by_round.values() if {"dpbench:fp32", "released:fp32"} <= set(d)]
        print(f"dpbench / released, fp32, per round: time {', '.join(f'{v:.3f}' for v in ratios_t)}; "
              f"forward memory {', '.join(f'{v:.3f}' for v in ratios_m)}")
    for job in (["released:fp32"] if "released:fp32" in outputs else []) + jobs:
        profiled = next((r["profile"] for r in rows if f"{r['model']}:{r['precision']}" == job
                         and r.get("profile")), None)
        if profiled:
            _print_profile(job, profiled)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
