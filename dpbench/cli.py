"""The ``dpbench`` command line: parse arguments, call the library, print. No logic lives here."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from dpbench import __version__
from dpbench._table import format_table
from dpbench.errors import DpbenchError


class _Group(click.Group):
    """Turn dpbench's own errors into one clean line and exit code 2 instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DpbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dpbench")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """dpbench: evaluate monocular metric depth models with the Depth Pro paper's protocol."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@cli.command("datasets")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding the datasets (default: $DPBENCH_DATA).")
def datasets_command(data_root: Path | None) -> None:
    """List every known dataset, its task and layout, and whether it is found on disk."""
    from dpbench.datasets import default_data_root
    from dpbench.datasets.listing import dataset_rows

    root = data_root or default_data_root()
    rows = dataset_rows(root)
    click.echo(f"data root: {root if root else '(none: pass --data-root or set $DPBENCH_DATA)'}")
    click.echo(format_table(rows, ["name", "task", "found", "samples", "layout"]))


@cli.command("models")
def models_command() -> None:
    """List every registered model, its output kind, and where its weights are looked up."""
    from dpbench.models.listing import model_rows

    click.echo(format_table(model_rows(), ["name", "output_kind", "weights", "present", "extra", "notes"]))


@cli.command("sample")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the sample suite (default: $DPBENCH_DATA/sample or ~/.cache/dpbench/sample).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the scenes.")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Image size multiplier (1.0 = the default modest resolution).")
@click.option("--force", is_flag=True, help="Regenerate even if the folder already holds the suite.")
def sample_command(out: Path | None, seed: int, scale: float, force: bool) -> None:
    """Render the bundled sample suite (procedural scenes with exact ground truth)."""
    from dpbench.sample import default_sample_root, generate_sample_suite

    target = out or default_sample_root()
    path = generate_sample_suite(target, seed=seed, scale=scale, overwrite=force)
    click.echo(f"sample suite written to {path}")


# --- run / rescore (runner) -------------------------------------------------------------


# --- report / check -----------------------------------------------------------------------
# Choices are spelled out here so that `dpbench --help` does not import pandas; a test checks
# they equal dpbench.report's FORMATS / AGGREGATIONS / TIE_RULES.
REPORT_FORMATS = ("markdown", "csv", "latex", "html", "json")
REPORT_AGGREGATIONS = ("per_image", "pooled")
REPORT_TIE_RULES = ("max", "min", "average")


@cli.command("report")
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Folder of runs (used when no RUN is given, and to resolve run ids).")
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default="markdown", show_default=True)
@click.option("--suite", default=None, help="Only runs of this suite.")
@click.option("--paper", is_flag=True, help="Add the paper's published numbers and the differences.")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the figures as PNG files into this folder (HTML embeds them anyway).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file (default: standard output).")
@click.option("--aggregation", type=click.Choice(REPORT_AGGREGATIONS), default=None,
              help="Re-aggregate every run this way (default: each run's own setting).")
@click.option("--all-runs", is_flag=True,
              help="Show every run of the runs folder, not only the latest per (model, suite).")
@click.option("--qualitative", type=click.IntRange(min=0), default=4, show_default=True,
              help="Samples in each run's qualitative grid (needs --save-predictions runs; 0: none).")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to find the datasets for the qualitative grid if they moved since the run.")
@click.option("--ties", type=click.Choice(REPORT_TIE_RULES), default="max", show_default=True,
              help="Tie rule of the average rank (max: a tied group shares its worst position).")
def report_command(runs, runs_dir, fmt, suite, paper, plots_dir, out, aggregation, all_runs,
                   qualitative, data_root, ties) -> None:
    """Ranked tables (and plots) of runs, like the paper's Tables 1-4."""
    import os

    from dpbench.report import build_report, collect_runs, render_report
    from dpbench.report.figures import report_plots, write_plots

    stores = collect_runs(runs, runs_dir=runs_dir, suite=suite, latest_only=not all_runs)
    report = build_report(stores, paper=paper, aggregation=aggregation, ties=ties)
    plots, notes = [], []
    if fmt == "html" or plots_dir is not None:
        plots, notes = report_plots(report, qualitative=qualitative, data_root=data_root)
    links = {}
    if plots_dir is not None:
        paths = write_plots(plots, plots_dir)
        base = out.parent if out is not None else Path.cwd()
        for plot in plots:
            link = Path(os.path.relpath(paths[plot.name], base)).as_posix()
            links.setdefault(plot.suite, []).append((plot.title, link))
    text = render_report(report, fmt, plots=plots, notes=notes, plot_links=links)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        click.echo(f"report written to {out}", err=True)
    if plots_dir is not None:
        click.echo(f"{len(plots)} figure(s) written to {plots_dir}", err=True)
    for note in notes:
        click.echo(f"note: {note}", err=True)


@cli.command("check")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--against", "baseline", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Baseline made by `dpbench report --format json`.")
@click.option("--max-drop", multiple=True, metavar="[DATASET:]METRIC=VALUE",
              help="Tolerance override, absolute in stored units ('%' suffix: percentage points); "
                   "repeatable; METRIC '*' sets every metric.")
@click.option("--baseline-run", default=None, help="Run id to compare with when the baseline holds several.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Where a RUN given as a run id is looked up.")
@click.pass_context
def check_command(ctx, run, baseline, max_drop, baseline_run, runs_dir) -> None:
    """Compare RUN with a baseline; exit 0 pass, 1 regression, 2 not comparable."""
    from dpbench.check import check_run, format_check
    from dpbench.report.select import open_run

    result = check_run(open_run(run, runs_dir), baseline, max_drop=max_drop, baseline_run=baseline_run)
    click.echo(format_check(result))
    ctx.exit(result.exit_code)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="dpbench")


if __name__ == "__main__":
    main()
