"""Which runs a report shows.

Runs named on the command line are all shown, in the order given. Otherwise every run of the runs
folder is a candidate (optionally only one suite), and for each (model name, suite) only the
latest run is kept: the most recently created *complete* run, or the most recent run of any status
when none completed (its status is shown in the report). The model name includes its options
(``depthpro [config=tiny]`` is another model than ``depthpro``), another checkpoint (sha256) is
another model, the two runs of one speed job (candidate, baseline) are both kept, and a run made by
``dpbench rescore`` is labelled as such where it is shown.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dpbench.errors import DpbenchError
from dpbench.report.identity import model_label
from dpbench.store import RunStore, list_runs

DEFAULT_RUNS_DIR = Path("runs")


def open_run(run: str | os.PathLike, runs_dir: str | os.PathLike | None = None) -> RunStore:
    """A run given as a folder path, or as a run id inside ``runs_dir``."""
    path = Path(run)
    if (path / "manifest.json").is_file() or runs_dir is None:
        return RunStore(path)
    candidate = Path(runs_dir) / path
    if (candidate / "manifest.json").is_file():
        return RunStore(candidate)
    raise DpbenchError(f"run not found: {run} (neither a run folder nor a run id in {runs_dir})")


def model_identity(store: RunStore) -> tuple[str, str, str, str]:
    """What makes two runs the same model measurement: the model name with its options, the suite,
    the checkpoint's sha256 (another checkpoint is another model), and a speed job's role
    (candidate or baseline of one job, which may be the same model name)."""
    manifest = store.manifest
    sha = str((manifest.get("model") or {}).get("checkpoint_sha256") or "")
    role = str((manifest.get("speed") or {}).get("role") or "")
    return model_label(manifest), str(manifest.get("suite")), sha, role


def latest_per_model(stores: Sequence[RunStore]) -> list[RunStore]:
    """Keep, per :func:`model_identity`, the latest complete run (or the latest run if none completed)."""
    chosen: dict[tuple[str, str, str, str], RunStore] = {}
    for store in sorted(stores, key=lambda s: (s.created, s.run_id)):
        key = model_identity(store)
        previous = chosen.get(key)
        if previous is None or store.status == "complete" or previous.status != "complete":
            chosen[key] = store
    keep = set(map(id, chosen.values()))
    return [store for store in stores if id(store) in keep]


def collect_runs(
    runs: Sequence[str | os.PathLike] = (),
    runs_dir: str | os.PathLike | None = None,
    suite: str | None = None,
    latest_only: bool = True,
) -> list[RunStore]:
    """The runs to report: the named ones, or the latest per (model, suite) under ``runs_dir``.

    Raises DpbenchError when there is nothing to report (empty or missing runs folder, no run of
    the requested suite).
    """
    if runs:
        stores = [open_run(run, runs_dir) for run in runs]
        where = "the runs given"
    else:
        runs_dir = Path(runs_dir) if runs_dir is not None else DEFAULT_RUNS_DIR
        if not runs_dir.is_dir():
            raise DpbenchError(f"no runs to report: the runs folder {runs_dir} does not exist "
                               "(make a run with `dpbench run --suite sample`, or pass --runs-dir)")
        stores = list_runs(runs_dir)
        if not stores:
            raise DpbenchError(f"no runs to report: {runs_dir} holds no run folder with a manifest "
                               "(make one with `dpbench run --suite sample`)")
        where = str(runs_dir)
    if suite is not None:
        found = sorted({str(s.manifest.get("suite")) for s in stores})
        stores = [s for s in stores if s.manifest.get("suite") == suite]
        if not stores:
            raise DpbenchError(f"no run of suite {suite!r} in {where} (suites found: {', '.join(found)})")
    if latest_only and not runs:
        stores = latest_per_model(stores)
    return stores
