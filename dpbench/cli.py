"""The ``dpbench`` command line: parse arguments, call the library, print. No logic lives here."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from dpbench import __version__
from dpbench._table import format_table
from dpbench.errors import DpbenchError
from dpbench.protocol import AGGREGATIONS, BOUNDARY_VALID_MODES, FOCAL_MODES, RESIZE_MODES
from dpbench.report.options import (
    DEFAULT_FAILURE_MODE,
    FAILURE_MODES,
    FORMATS,
    SORT_ORDERS,
    TIE_RULES,
)
from dpbench.runner.config import ON_ERROR_POLICIES, PRECISIONS


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


def _listing_options(func):
    """``--wide`` and ``--format`` of the listings (``models``, ``datasets``)."""
    func = click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
                        help="json: every field in full, for scripts.")(func)
    return click.option("--wide", is_flag=True,
                        help="Print every cell in full instead of fitting the table to the terminal.")(func)


def _echo_listing(rows: list[dict], columns: list[str], wrap: tuple[str, ...], wide: bool) -> None:
    """A listing fitted to the terminal: ``wrap`` columns wrapped in full, the others cut."""
    from dpbench._table import terminal_width

    click.echo(format_table(rows, columns, width=None if wide else terminal_width(), wrap=wrap))


@cli.command("datasets")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding the datasets (default: $DPBENCH_DATA).")
@_listing_options
def datasets_command(data_root: Path | None, wide: bool, fmt: str) -> None:
    """List every known dataset, its task and layout, and whether it is found on disk."""
    import json

    from dpbench.datasets import default_data_root
    from dpbench.datasets.listing import LIST_COLUMNS, WRAP_COLUMNS, dataset_rows

    root = data_root or default_data_root()
    if root is not None and not Path(root).is_dir():
        what = "does not exist" if not Path(root).exists() else "is not a folder"
        raise DpbenchError(f"data root {root} {what} (from {'--data-root' if data_root else '$DPBENCH_DATA'})")
    rows = dataset_rows(root, full=wide or fmt == "json")
    if fmt == "json":
        click.echo(json.dumps({"data_root": str(root) if root else None, "datasets": rows}, indent=2))
        return
    click.echo(f"data root: {root if root else '(none: pass --data-root or set $DPBENCH_DATA)'}")
    _echo_listing(rows, list(LIST_COLUMNS), WRAP_COLUMNS, wide)


@cli.command("models")
@_listing_options
def models_command(wide: bool, fmt: str) -> None:
    """List every registered model, its output kind, and where its weights are looked up."""
    import json

    from dpbench.models.listing import LIST_COLUMNS, WRAP_COLUMNS, model_rows

    rows = model_rows()
    if fmt == "json":
        click.echo(json.dumps({"models": rows}, indent=2))
        return
    _echo_listing(rows, list(LIST_COLUMNS), WRAP_COLUMNS, wide)


@cli.command("tasks")
def tasks_command() -> None:
    """List every registered task: what it reads, its metrics and which direction is better."""
    from dpbench.tasks import list_tasks

    rows = [{"name": task.name, "needs": ", ".join(task.needs), "input": task.input,
             "metrics": ", ".join(f"{m} {'↑' if d == 'higher' else '↓'}" for m, d in task.metrics.items()),
             "defined in": type(task).__module__} for task in list_tasks()]
    click.echo(format_table(rows, ["name", "needs", "input", "metrics", "defined in"]))


@cli.command("sample")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the sample suite (default: $DPBENCH_DATA/sample or ~/.cache/dpbench/sample).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the scenes.")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Image size multiplier (1.0 = the default modest resolution).")
@click.option("--force", is_flag=True, help="Regenerate even if the folder already holds the suite.")
def sample_command(out: Path | None, seed: int, scale: float, force: bool) -> None:
    """Render the bundled sample suite (procedural scenes with exact ground truth)."""
    from dpbench.sample import default_sample_root, generate_sample_suite, is_generated

    target = out or default_sample_root()
    if not force and is_generated(target, seed, scale):
        click.echo(f"sample suite already in {target} (seed {seed}, scale {scale}): skipped; --force regenerates it")
        return
    path = generate_sample_suite(target, seed=seed, scale=scale, overwrite=force)
    click.echo(f"sample suite written to {path}")


# --- run / rescore (runner) -------------------------------------------------------------

def _protocol_options(default_from: str):
    """The protocol options shared by ``run`` and ``rescore``; unset options keep ``default_from``'s value."""

    def note(value: str) -> str:
        return f"[{default_from}: {value}]" if default_from == "suite" else f"[default: {default_from}]"

    def decorate(func):
        options = [
            click.option("--resize", type=click.Choice(RESIZE_MODES),
                         default=None,
                         help=f"How predictions of another size reach the GT size {note('bilinear_inverse_depth')}."),
            click.option("--alignment", default=None, metavar="NAME",
                         help="Alignment before the depth metrics: auto (per output kind), none, median, "
                              f"lstsq_scale, lstsq_scale_shift, lstsq_scale_shift_disparity {note('auto')}."),
            click.option("--aggregation", type=click.Choice(AGGREGATIONS), default=None,
                         help=f"Per-dataset aggregation recorded for reports {note('per_image')}."),
            click.option("--depth-range", default=None, metavar="dataset|none|MIN:MAX",
                         help=f"Valid GT depth range in metres {note('dataset = Table 18 ranges')}."),
            click.option("--clip-predictions/--no-clip-predictions", default=None,
                         help=f"Clip predictions to the depth range before the depth metrics {note('no')}."),
            click.option("--boundary-valid", type=click.Choice(BOUNDARY_VALID_MODES), default=None,
                         help=f"Drop boundary pairs touching invalid GT pixels (mask) or not {note('mask')}."),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _parse_model_options(pairs: tuple[str, ...]) -> dict:
    import json

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--model-option")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


@cli.command("run")
@click.option("--model", "-m", "model", default=None, metavar="NAME",
              help="Registered model (see `dpbench models`). Omitted with --suite sample or upperbound: the suite's probe runs, one run each.")
@click.option("--checkpoint", default=None, metavar="PATH", help="Checkpoint file of the model.")
@click.option("--suite", "-s", default="sample", show_default=True, metavar="NAME|PATH",
              help="zeroshot, boundary, focal, sample, all, or a suite.json (or a folder holding one).")
@click.option("--dataset", "-d", "datasets", multiple=True, metavar="NAME",
              help="Only these datasets of the suite (repeatable).")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding the datasets (default: $DPBENCH_DATA).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True,
              help="Loader threads reading samples ahead of the model (0: load in the main thread).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N samples of each dataset.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Runs folder.")
@click.option("--run-id", default=None, help="Name of the run folder (default: time-model-suite).")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue an unfinished run with the same setup (or the --run-id given).")
@click.option("--save-predictions", is_flag=True, help="Cache predictions (float16 HDF5) for `dpbench rescore`.")
@click.option("--on-error", type=click.Choice(ON_ERROR_POLICIES), default="continue", show_default=True,
              help="On a failed sample: record an error row and go on, or stop the run (status failed).")
@click.option("--focal-mode", "focal_modes", multiple=True, metavar="[DATASET=]MODE",
              help=f"Focal length given to the model ({'|'.join(FOCAL_MODES)}): none (estimated), dataset "
                   "intrinsics (gt) or EXIF; DATASET=MODE for one dataset (repeatable) [suite: estimated].")
@_protocol_options("suite")
@click.option("--model-option", "-o", "model_options", multiple=True, metavar="KEY=VALUE",
              help="Extra option of the model factory, e.g. -o factor=2 for probe:gt-scale (repeatable).")
@click.option("--progress/--no-progress", default=True, help="Progress bars.")
def run_command(model, checkpoint, suite, datasets, data_root, device, precision, batch_size, workers, limit,
                out, run_id, resume, save_predictions, on_error, focal_modes, resize, alignment, aggregation,
                depth_range, clip_predictions, boundary_valid, model_options, progress) -> None:
    """Run a model over a suite and store per-sample results in runs/<run-id>/."""
    from dpbench.runner import RunConfig, default_runs, run, run_summary

    models = [(model, {})] if model else default_runs(suite)
    if not models:
        raise click.UsageError(f"--model is required for suite {suite!r} (only sample and upperbound have default models)")
    if run_id and len(models) > 1:
        raise click.UsageError("--run-id names one run: give --model too")
    from dpbench.protocol import parse_focal_modes

    focal_mode, focal_mode_overrides = parse_focal_modes(focal_modes)
    protocol = {"focal_mode": focal_mode, "focal_mode_overrides": focal_mode_overrides or None, "resize": resize, "alignment": alignment, "aggregation": aggregation,
                "depth_range": depth_range, "clip_predictions": clip_predictions, "boundary_valid": boundary_valid}
    sample_root = data_root / "sample" if data_root is not None and suite == "sample" else None
    statuses = []
    for name, default_options in models:
        config = RunConfig(model=name, suite=suite, checkpoint=checkpoint, datasets=datasets or None,
                           data_root=data_root, device=device, precision=precision, batch_size=batch_size,
                           workers=workers, limit=limit, out=out, run_id=run_id, resume=resume,
                           save_predictions=save_predictions, on_error=on_error, protocol=protocol,
                           model_options={**default_options, **_parse_model_options(model_options)}, progress=progress,
                           sample_root=sample_root)
        try:
            result = run(config, say=click.echo)
        except KeyboardInterrupt:
            click.echo("interrupted: the finished samples are kept; run the same command again to resume",
                       err=True)
            sys.exit(130)
        if _rank() != 0:  # under torchrun, rank 0 reports
            continue
        click.echo("")
        click.echo(f"run {result.store.run_id} ({result.status}): {result.store.path}")
        click.echo(run_summary(result.store))
        if result.missing:
            click.echo(f"missing datasets (recorded in the manifest): {', '.join(result.missing)}")
        broken = [d["name"] for d in result.store.manifest.get("datasets", []) if d.get("status") == "error"]
        if broken:
            click.echo(f"datasets that could not be opened (see the manifest): {', '.join(broken)}")
        statuses.append("failed" if broken else result.status)
    if len(models) > 1 or statuses:
        click.echo(f"\nranked tables: dpbench report --runs-dir {out}")
    if any(s != "complete" for s in statuses):
        sys.exit(1)


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", "0") or 0)


@cli.command("rescore")
@click.argument("run_ref", metavar="RUN")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Where RUN is looked up when it is a run id, and where the new run goes.")
@click.option("--out", "new_id", default=None, metavar="NEW_ID", help="Id of the new run (default: <RUN>-rescored).")
@_protocol_options("the source run's value")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Look the datasets up here instead of the roots recorded in the run.")
@click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True)
@click.option("--progress/--no-progress", default=True)
def rescore_command(run_ref, runs_dir, new_id, resize, alignment, aggregation, depth_range, clip_predictions,
                    boundary_valid, data_root, workers, progress) -> None:
    """Score a run's cached predictions again with other protocol options (no model run)."""
    from dpbench.runner import run_summary
    from dpbench.runner.rescore import rescore

    protocol = {"resize": resize, "alignment": alignment, "aggregation": aggregation,
                "depth_range": depth_range, "clip_predictions": clip_predictions, "boundary_valid": boundary_valid}
    result = rescore(run_ref, new_id=new_id, runs_dir=runs_dir, protocol=protocol, data_root=data_root,
                     workers=workers, progress=progress, say=click.echo)
    click.echo(f"\nrun {result.store.run_id} ({result.status}): {result.store.path}")
    click.echo(run_summary(result.store))
    if result.status != "complete":
        sys.exit(1)


# --- report / check -----------------------------------------------------------------------


@cli.command("report")
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Folder of runs (used when no RUN is given, and to resolve run ids).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True)
@click.option("--suite", default=None, help="Only runs of this suite.")
@click.option("--paper", is_flag=True, help="Add the paper's published numbers and the differences.")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the figures as PNG files into this folder (HTML embeds them anyway).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file (default: standard output).")
@click.option("--aggregation", type=click.Choice(AGGREGATIONS), default=None,
              help="Re-aggregate every run this way (default: each run's own setting).")
@click.option("--all-runs", is_flag=True,
              help="Show every run of the runs folder, not only the latest per (model, suite).")
@click.option("--qualitative", type=click.IntRange(min=0), default=4, show_default=True,
              help="Samples in the side-by-side figure and each run's qualitative grid "
                   "(needs --save-predictions runs; 0: none).")
@click.option("--qualitative-select", default="first", show_default=True, metavar="RULE",
              help="Which samples: first, random:<seed> or differ:<metric> (largest spread across the runs).")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to find the datasets for the qualitative grid if they moved since the run.")
@click.option("--ties", type=click.Choice(TIE_RULES), default="max", show_default=True,
              help="Tie rule of the average rank (max: a tied group shares its worst position).")
@click.option("--failures", type=click.Choice(FAILURE_MODES), default=DEFAULT_FAILURE_MODE, show_default=True,
              help="Entries below full coverage: exclude = flagged, not bolded or ranked; "
                   "worst = unscored samples scored at the worst value, then ranked.")
@click.option("--scatter-metric", default="am2k:boundary_recall", show_default=True, metavar="DATASET:METRIC",
              help="With speed runs: the accuracy metric of the Fig. 2-style scatter against latency.")
@click.option("--scatter-size", default="hd", show_default=True, metavar="SIZE",
              help="With speed runs: the input size whose latency is the scatter's x axis (vga, hd, 4k, WxH).")
@click.option("--by-range", is_flag=True,
              help="Instead: depth metrics per ground-truth depth bin (Table 10 style; markdown/csv/json).")
@click.option("--by-range-metric", "by_range_metrics", multiple=True, default=("delta1",), show_default=True,
              help="Metric of the metric_depth task printed by --by-range (repeatable).")
@click.option("--sort", "sort_order", type=click.Choice(SORT_ORDERS), default="rank", show_default=True,
              help="Row order: rank (Avg. Rank, else the first column's own direction) or name.")
@click.option("--ci", "ci_level", type=float, default=None, metavar="LEVEL",
              help="Add a LEVEL% bootstrap interval (over images) to every number, e.g. --ci 95.")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=1), default=1000, show_default=True,
              help="With --ci: number of bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True, help="With --ci: seed of the resamples.")
def report_command(runs, runs_dir, fmt, suite, paper, plots_dir, out, aggregation, all_runs,
                   qualitative, qualitative_select, data_root, ties, failures, scatter_metric, scatter_size,
                   by_range, by_range_metrics, sort_order, ci_level, resamples, seed) -> None:
    """Ranked tables (and plots) of runs, like the paper's Tables 1-4."""
    import os

    from dpbench.report import build_report, collect_runs, render_report
    from dpbench.report.figures import report_plots, write_plots
    from dpbench.report.qualitative_select import parse_rule
    from dpbench.report.runtime import parse_scatter_metric
    from dpbench.speed.sizes import parse_size

    parse_scatter_metric(scatter_metric)  # a bad value fails before any work
    parse_rule(qualitative_select)
    parse_size(scatter_size)
    stores = collect_runs(runs, runs_dir=runs_dir, suite=suite, latest_only=not all_runs)
    if by_range:
        from dpbench.report.by_range import by_range_report

        if ci_level is not None:
            raise DpbenchError("--ci does not apply to --by-range (its bins have no per-image rows to resample)")

        by_range_report(stores, fmt, by_range_metrics, aggregation, out)
        return
    from dpbench.stats.bootstrap import BootstrapOptions

    ci = None if ci_level is None else BootstrapOptions.from_percent(ci_level, resamples, seed)
    report = build_report(stores, paper=paper, aggregation=aggregation, ties=ties, failures=failures,
                          sort=sort_order, ci=ci)
    plots, notes = [], []
    if fmt == "html" or plots_dir is not None:
        plots, notes = report_plots(report, qualitative=qualitative, qualitative_select=qualitative_select,
                                    data_root=data_root,
                                    scatter_metric=scatter_metric, scatter_size=scatter_size)
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
    for note in [*report.notes, *notes]:
        click.echo(f"note: {note}", err=True)


@cli.command("check")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--against", "baseline", default=None, type=click.Path(path_type=Path),
              help="Baseline made by `dpbench report --format json`; for a speed run, the baseline speed "
                   "run (folder or run id; default: the baseline measured with it, --baseline-model).")
@click.option("--max-drop", multiple=True, metavar="[DATASET:]METRIC=VALUE",
              help="Tolerance override, absolute in stored units ('%' suffix: percentage points); "
                   "repeatable; METRIC '*' sets every metric.")
@click.option("--baseline-run", default=None, help="Run id to compare with when the baseline holds several.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Where a RUN given as a run id is looked up.")
@click.option("--tolerance", default="10%", show_default=True, metavar="FRACTION|N%",
              help="Speed runs only: how much slower than the baseline the candidate may be.")
@click.option("--significant", is_flag=True,
              help="A drop beyond tolerance fails only if its bootstrap interval excludes zero "
                   "(paired when the baseline run is in --runs-dir).")
@click.option("--ci", "ci_level", type=float, default=95.0, show_default=True, metavar="LEVEL",
              help="With --significant: confidence level in percent.")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=1), default=1000, show_default=True,
              help="With --significant: number of bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True, help="With --significant: seed of the resamples.")
@click.pass_context
def check_command(ctx, run, baseline, max_drop, baseline_run, runs_dir, tolerance, significant, ci_level,
                  resamples, seed) -> None:
    """Compare RUN with a baseline; exit 0 pass, 1 regression (slower, for a speed run), 2 not comparable."""
    from dpbench.check import (
        CheckError,
        check_run,
        check_speed_run,
        format_check,
        is_speed_manifest,
    )
    from dpbench.report.select import open_run

    store = open_run(run, runs_dir)
    if is_speed_manifest(store.manifest):
        code, lines = check_speed_run(store, baseline, tolerance, runs_dir)
        click.echo("\n".join(lines))
        ctx.exit(code)
    if baseline is None:
        raise CheckError("--against is required for an accuracy run (a `dpbench report --format json` file)")
    from dpbench.stats.bootstrap import BootstrapOptions

    options = BootstrapOptions.from_percent(ci_level, resamples, seed) if significant else None
    result = check_run(store, baseline, max_drop=max_drop, baseline_run=baseline_run, significant=options,
                       runs_dir=runs_dir)
    click.echo(format_check(result))
    ctx.exit(result.exit_code)


def _add_speed_command() -> None:
    from dpbench.speed.command import speed

    cli.add_command(speed)
    from dpbench.stats.command import compare

    cli.add_command(compare)


_add_speed_command()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="dpbench")


if __name__ == "__main__":
    main()
