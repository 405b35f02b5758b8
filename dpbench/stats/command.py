"""The ``dpbench compare`` command (added to the CLI group with ``cli.add_command(compare)``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dpbench.protocol import AGGREGATIONS


@click.command("compare", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Where a run given as a run id is looked up.")
@click.option("--metric", "metrics", multiple=True, metavar="NAME",
              help="Metric to compare (repeatable; default: each task's summary metrics).")
@click.option("--ci", "ci_level", type=float, default=95.0, show_default=True, metavar="LEVEL",
              help="Confidence level of the intervals, in percent.")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Number of bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the resamples.")
@click.option("--aggregation", type=click.Choice(AGGREGATIONS), default=None,
              help="Aggregate both runs this way (default: the runs' own setting).")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def compare(run_a, run_b, runs_dir, metrics, ci_level, resamples, seed, aggregation, fmt) -> None:
    """Per-dataset difference B − A with its paired-bootstrap interval and a verdict for B."""
    from dpbench.report.select import open_run
    from dpbench.stats.bootstrap import BootstrapOptions
    from dpbench.stats.compare import compare_runs, comparison_json, format_comparison

    options = BootstrapOptions.from_percent(ci_level, resamples, seed)
    result = compare_runs(open_run(run_a, runs_dir), open_run(run_b, runs_dir), metrics=metrics,
                          aggregation=aggregation, options=options)
    if fmt == "json":
        click.echo(json.dumps(comparison_json(result), indent=2, allow_nan=False))
    else:
        click.echo(format_comparison(result))
