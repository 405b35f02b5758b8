"""Speed and memory of the native Depth Pro: seconds per image, peak memory, precision differences.

    python benchmarks/bench_depthpro.py                       # CPU, reduced-depth variant
    python benchmarks/bench_depthpro.py --config default      # the full model (minutes per image on a CPU)
    python benchmarks/bench_depthpro.py --device cuda --config default --precisions fp32,fp16,bf16

Weights are random unless --checkpoint is given (speed and memory do not depend on them; the
precision differences do, somewhat); random weights are saved to a temporary checkpoint first, so
that loading is measured as with real weights. Each precision runs in a fresh subprocess so that its peak
memory is its own. Timings cover ``DepthProModel.predict`` end to end (normalisation, resizing,
network, metric-depth arithmetic, copy to numpy), after warm-up, with device synchronisation
before each clock reading. CPU peak memory is the process's peak resident set (VmHWM) during
inference, reset after loading; on CUDA it is ``torch.cuda.max_memory_allocated``.

``--released-style`` adds a row that executes the network the way the released code does
(weights loaded by copying into a randomly initialised model, ``torch.no_grad`` instead of
inference mode, both hooked block outputs kept for all windows, the ×0.25 image resampled
twice): an emulation with dpbench's modules, for comparing memory and time on equal terms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _status(field: str) -> int:
    """A /proc/self/status memory field in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM to the current RSS (Linux)
    except OSError:
        pass


def _released_style_forward(network, x):
    """The released execution order with dpbench's modules (see the module docstring).

    Differences from dpbench's own forward, all without effect on the values: hooked block
    outputs kept for all windows; the ×0.25 image resampled twice; every encoder level held until
    decoding ends; out-of-place residual additions and ReLUs; the head as one Sequential call.
    """
    import torch
    import torch.nn.functional as F

    from dpbench.models.depthpro.encoder import merge_windows, split_windows, tokens_to_map

    def residual(unit, h):
        r = unit.residual
        return h + r[3](F.relu(r[1](F.relu(h))))

    def fusion(block, h, skip=None):
        if skip is not None:
            h = h + residual(block.resnet1, skip)
        h = residual(block.resnet2, h)
        if block.use_deconv:
            h = block.deconv(h)
        return block.out_conv(h)

    config = network.config
    encoder = network.encoder
    batch, grid = x.shape[0], config.vit.grid_size
    half = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
    quarter = F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)
    windows0 = split_windows(x, config.vit.img_size, config.patch_overlaps[0])
    windows1 = split_windows(half, config.vit.img_size, config.patch_overlaps[1])
    stacked = torch.cat((windows0, windows1, quarter), dim=0)
    tokens, hooks = encoder.patch_encoder.forward_with_block_outputs(stacked, tuple(config.hook_block_ids))
    maps = tokens_to_map(tokens, grid)
    latent0 = merge_windows(tokens_to_map(hooks[0], grid)[: len(windows0)], batch, config.merge_padding(0))
    latent1 = merge_windows(tokens_to_map(hooks[1], grid)[: len(windows0)], batch, config.merge_padding(0))
    maps0, maps1, maps2 = torch.split(maps, [len(windows0), len(windows1), len(quarter)], dim=0)
    features0 = merge_windows(maps0, batch, config.merge_padding(0))
    features1 = merge_windows(maps1, batch, config.merge_padding(1))
    global_features = tokens_to_map(encoder.image_encoder(quarter), grid)
    levels = [
        encoder.upsample_latent0(latent0), encoder.upsample_latent1(latent1), encoder.upsample0(features0),
        encoder.upsample1(features1),
        encoder.fuse_lowres(torch.cat((encoder.upsample2(maps2), encoder.upsample_lowres(global_features)), dim=1)),
    ]
    decoder = network.decoder
    features = decoder.convs[-1](levels[-1])
    lowres = features
    features = fusion(decoder.fusions[-1], features)
    for i in range(len(levels) - 2, -1, -1):
        features = fusion(decoder.fusions[i], features, decoder.convs[i](levels[i]))
    canonical = network.head(features)
    fov = None
    if hasattr(network, "fov"):
        fov_quarter = F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)
        fov = network.fov(x, lowres.detach(), quarter=fov_quarter)
    return canonical, fov


def worker(args: argparse.Namespace) -> dict:
    """One precision in this process: load, warm up, time, measure memory; returns a result row."""
    import numpy as np
    import torch

    from dpbench.models.depthpro.config import get_config
    from dpbench.models.depthpro.model import create_depthpro
    from dpbench.models.depthpro.network import DepthPro
    from dpbench.models.device import resolve_device, synchronize

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = resolve_device(args.device)
    height, width = (int(v) for v in args.image_size.split("x"))
    image = np.random.default_rng(0).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    released_style = args.precision == "released-style"
    load_start = time.perf_counter()
    if released_style:
        # released loading: a randomly initialised model, then a copy of every tensor into it
        network = DepthPro(get_config(args.config)).eval()
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        network.load_state_dict(state, strict=True)
        del state
        network = network.to(device)
        model = None
    else:
        model = create_depthpro(args.checkpoint, args.device, args.precision, config=args.config, batch_size=1)
        network = model.network
    load_seconds = time.perf_counter() - load_start
    load_peak = _status("VmHWM")

    def run_once():
        if released_style:
            from dpbench.models.depthpro.inference import normalize_images

            with torch.no_grad():
                x = normalize_images(image, device)
                x = torch.nn.functional.interpolate(x, size=(network.image_size,) * 2, mode="bilinear",
                                                    align_corners=False)
                canonical, fov = _released_style_forward(network, x)
                f_px = 0.5 * width / torch.tan(0.5 * torch.deg2rad(fov.to(torch.float)))
                inverse = canonical * (width / f_px)
                inverse = torch.nn.functional.interpolate(inverse, size=(height, width), mode="bilinear",
                                                          align_corners=False)
                return (1.0 / torch.clamp(inverse, min=1e-4, max=1e4)).squeeze().cpu().numpy()
        return model.predict(image).depth

    for _ in range(args.warmup):
        run_once()
    _reset_peak()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    baseline = _status("VmRSS")
    times = []
    depth = None
    for _ in range(args.repeats):
        synchronize(device)
        start = time.perf_counter()
        depth = run_once()
        synchronize(device)
        times.append(time.perf_counter() - start)
    row = {
        "precision": args.precision, "seconds": sorted(times)[len(times) // 2], "seconds_min": min(times),
        "repeats": len(times), "load_seconds": load_seconds, "load_peak_bytes": load_peak,
        "rss_before_bytes": baseline, "peak_rss_bytes": _status("VmHWM"),
        "parameters": sum(p.numel() for p in network.parameters()),
    }
    if device.type == "cuda":
        row["cuda_peak_bytes"] = torch.cuda.max_memory_allocated(device)
        row["gpu"] = torch.cuda.get_device_name(device)
    np.save(args.output_depth, depth)
    return row


def _save_random_checkpoint(config: str, path: str) -> None:
    """Random weights of ``config`` (FoV head set to 60°, positive depth), saved as a state dict."""
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
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import timm

    return (f"{cpu}, {os.cpu_count()} cores ({threads} torch threads); Python {platform.python_version()}, "
            f"torch {torch.__version__}, timm {timm.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="reduced-depth", help="preset: reduced-depth (default), default, tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", default=None, help="comma list; default fp32,bf16 (+fp16 on CUDA)")
    parser.add_argument("--image-size", default="1080x1920", help="HxW of the test image (default: HD)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--checkpoint", default=None, help="weights to load (default: random)")
    parser.add_argument("--released-style", action="store_true", help="add the emulated released execution")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output-depth", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        args.precision = args.worker
        print(json.dumps(worker(args)))
        return

    precisions = args.precisions.split(",") if args.precisions else (
        ["fp32", "fp16", "bf16"] if args.device.startswith("cuda") else ["fp32", "bf16"])
    if args.released_style:
        precisions = ["released-style", *precisions]
    import numpy as np

    rows, depths = [], {}
    with tempfile.TemporaryDirectory() as folder:
        weights_label = args.checkpoint or "random (saved to a temporary checkpoint, loaded like a real one)"
        if args.checkpoint is None:
            args.checkpoint = str(Path(folder) / "random.pt")
            _save_random_checkpoint(args.config, args.checkpoint)
        for precision in precisions:
            out = Path(folder) / f"{precision}.npy"
            command = [sys.executable, __file__, "--worker", precision, "--output-depth", str(out)]
            for name in ("config", "device", "image_size", "repeats", "warmup", "threads", "checkpoint"):
                value = getattr(args, name)
                if value is not None:
                    command += [f"--{name.replace('_', '-')}", str(value)]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                print(f"{precision}: failed\n{result.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
            depths[precision] = np.load(out)
    reference = depths.get("fp32")
    for row in rows:
        depth = depths[row["precision"]]
        if reference is not None:
            rel = np.abs(depth.astype(np.float64) - reference) / reference
            row["max_abs_diff_m"] = float(np.abs(depth.astype(np.float64) - reference).max())
            row["median_rel_diff"] = float(np.median(rel))
            row["max_rel_diff"] = float(rel.max())

    from dpbench._table import format_table

    gib = 1024**3
    table = []
    for row in rows:
        table.append({
            "precision": row["precision"],
            "s/image": f"{row['seconds']:.2f}",
            "min s": f"{row['seconds_min']:.2f}",
            "peak RSS GiB": f"{row['peak_rss_bytes'] / gib:.2f}",
            "RSS before GiB": f"{row['rss_before_bytes'] / gib:.2f}",
            "load peak GiB": f"{row['load_peak_bytes'] / gib:.2f}",
            "CUDA peak GiB": f"{row['cuda_peak_bytes'] / gib:.2f}" if "cuda_peak_bytes" in row else "-",
            "max |Δ| m": f"{row['max_abs_diff_m']:.2e}" if "max_abs_diff_m" in row else "-",
            "median rel Δ": f"{row['median_rel_diff']:.2e}" if "median_rel_diff" in row else "-",
            "max rel Δ": f"{row['max_rel_diff']:.2e}" if "max_rel_diff" in row else "-",
        })
    print(f"Depth Pro ({args.config}, {rows[0]['parameters'] / 1e6:.0f}M parameters) on {args.device}, "
          f"image {args.image_size}, median of {args.repeats} after {args.warmup} warm-up"
          if rows else "no result")
    print(_machine(args.threads) + (f"; GPU {rows[0]['gpu']}" if rows and "gpu" in rows[0] else ""))
    print("weights: " + weights_label)
    columns = list(table[0]) if table else []
    print(format_table(table, columns))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
