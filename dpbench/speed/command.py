"""The ``dpbench speed`` command (added to the CLI group with ``cli.add_command(speed)``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dpbench.errors import DpbenchError
from dpbench.runner.config import PRECISIONS
from dpbench.speed.sizes import DEFAULT_SIZES


def _parse_options(pairs: tuple[str, ...], hint: str) -> dict:
    import json

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=hint)
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


@click.command("speed", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "-m", "model", required=True, metavar="NAME", help="Registered model name.")
@click.option("--model-option", "-o", "model_options", multiple=True, metavar="KEY=VALUE",
              help="Option of the model factory, e.g. -o config=tiny -o pretrained=false (repeatable).")
@click.option("--checkpoint", default=None, metavar="PATH", help="Checkpoint file of the model.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True)
@click.option("--sizes", default=DEFAULT_SIZES, show_default=True, metavar="LIST",
              help="Comma-separated sizes: vga (640x480), hd (1920x1080), 4k (3840x2160), "
                   "4k-paper (4032x3024) or WxH.")
@click.option("--batch-size", type=int, default=1, show_default=True, help="Images per timed call.")
@click.option("--warmup", type=int, default=2, show_default=True, help="Untimed calls before timing, per size.")
@click.option("--repeats", type=int, default=10, show_default=True, help="Timed calls per size.")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the network (model option compile=true).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Folder of the runs.")
@click.option("--run-id", default=None, help="Run folder name; an existing speed run of the same setup is "
                                            "resumed (measured sizes are skipped).")
@click.option("--baseline-model", default=None, metavar="NAME",
              help="Also measure this model in the same job, on the same sizes (stored as <run-id>.baseline).")
@click.option("--baseline-option", "baseline_options", multiple=True, metavar="KEY=VALUE",
              help="Option of the baseline model's factory (repeatable).")
@click.option("--baseline-checkpoint", default=None, metavar="PATH", help="Checkpoint of the baseline model.")
@click.option("--compare-fp32/--no-compare-fp32", "compare_fp32", default=None,
              help="After timing, run the model at fp32 without compile and speed-only options on the same "
                   "images and store the output difference per size [default: on unless the setup is "
                   "plain fp32].")
@click.pass_context
def speed(ctx, model, model_options, checkpoint, device, precision, sizes, batch_size, warmup, repeats,
          compile_, out, run_id, baseline_model, baseline_options, baseline_checkpoint, compare_fp32) -> None:
    """Measure latency, throughput, peak memory, parameters and FLOPs of a model (Table 5).

    Random images of each size go through the model's full predict path (pre-processing,
    network, post-processing to the input size) and, where the model exposes it, through the
    network forward alone. The result is a run (kind "speed") with one row per size. A setup
    other than plain fp32 (fp16/bf16, --compile, speed-only options such as Depth Pro's
    cuda_graphs or channels_last) also gets its output difference from the fp32 model.
    """
    from dpbench.speed.run import SpeedConfig, run_speed
    from dpbench.speed.table import format_speed_table

    config = SpeedConfig(
        model=model, model_options=_parse_options(model_options, "--model-option"), checkpoint=checkpoint,
        device=device, precision=precision, sizes=sizes, batch_size=batch_size, warmup=warmup,
        repeats=repeats, compile=compile_, out=out, run_id=run_id, baseline_model=baseline_model,
        baseline_options=_parse_options(baseline_options, "--baseline-option"),
        baseline_checkpoint=baseline_checkpoint, compare_fp32=compare_fp32,
    )
    try:
        result = run_speed(config, say=lambda message: click.echo(message, err=True))
    except DpbenchError as exc:  # the same one line and exit code as the CLI group's handler
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    stores = [result.candidate.store] + ([result.baseline.store] if result.baseline else [])
    click.echo(format_speed_table(stores))
    manifest = result.candidate.store.manifest.get("speed", {})
    click.echo(f"FLOPs: FlopCounterMode, 2 FLOPs per multiply-accumulate (MACs = FLOPs/2); the paper's "
               f"Table 5 'FLOPs' are fvcore MACs. Counted on: {manifest.get('flops_counted_on')}.", err=True)
    for store in stores:
        click.echo(f"run: {store.path}", err=True)


__all__ = ["speed"]


if __name__ == "__main__":  # python -m dpbench.speed.command ... (until the CLI group adds it)
    speed(prog_name="dpbench speed")
