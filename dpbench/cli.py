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


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="dpbench")


if __name__ == "__main__":
    main()
