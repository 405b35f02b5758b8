"""The entry points of the runner: :func:`run` (a registered model by name, what ``dpbench run``
calls) and :func:`evaluate` (a model object: rescore, the Python API, tests)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dpbench.datasets import get_dataset_class
from dpbench.errors import UnknownNameError
from dpbench.protocol import Protocol, ProtocolError
from dpbench.runner.config import RunConfig, RunResult
from dpbench.runner.dist import DistContext, dist_context
from dpbench.runner.evaluation import Evaluation
from dpbench.runner.provenance import (
    describe_model,
    environment_record,
    iso,
    run_fingerprint,
    utc_now,
)
from dpbench.runner.resume import open_store
from dpbench.store import RunStore
from dpbench.suites import Suite, get_suite

#: Keeps only some samples of a dataset (by id), or None for all: ``(dataset) -> ids | None``.
SampleFilter = Callable[[str], "set[str] | None"]
#: Rows copied into the new run before a dataset is evaluated: ``(dataset) -> rows``.
CarriedRows = Callable[[str], "list[dict]"]


def print_message(message: str) -> None:
    """Print a line without breaking the progress bars."""
    from tqdm.auto import tqdm

    tqdm.write(message)


def _suite_and_protocol(config: RunConfig) -> tuple[Suite, Protocol]:
    suite = config.suite if isinstance(config.suite, Suite) else get_suite(config.suite, sample_root=config.sample_root)
    suite = suite.select(config.datasets)
    for entry in suite.entries:
        get_dataset_class(entry.dataset)  # unknown names fail before any work
    _check_focal_overrides(dict(config.protocol).get("focal_mode_overrides") or {}, suite)
    return suite, Protocol.from_options(suite.protocol, **dict(config.protocol))


def _check_focal_overrides(overrides: Mapping[str, str], suite: Suite) -> None:
    """Refuse a user's per-dataset focal mode naming a dataset this run does not evaluate
    (a typo would otherwise leave the intended dataset on the default mode, silently)."""
    stray = sorted(set(overrides) - set(suite.dataset_names))
    if stray:
        raise ProtocolError(f"--focal-mode names {', '.join(stray)}, which suite {suite.name!r} does not evaluate "
                           f"here (its datasets: {', '.join(suite.dataset_names) or 'none'})")


def run(config: RunConfig, say: Callable[[str], None] | None = None) -> RunResult:
    """Load ``config.model`` by name and evaluate it over ``config.suite`` (see :func:`evaluate`)."""
    config.check()
    suite, protocol = _suite_and_protocol(config)
    ctx = dist_context(config.device)
    try:
        from dpbench.models import load_model

        device = ctx.device_for(config.device)
        model = load_model(config.model, checkpoint=config.checkpoint, device=device,
                           precision=config.precision, **dict(config.model_options))
        return _execute(config, suite, protocol, model, ctx, device, say or print_message)
    finally:
        ctx.close()


def evaluate(model: Any, config: RunConfig, *, say: Callable[[str], None] | None = None,
             sample_filter: SampleFilter | None = None, carried_rows: CarriedRows | None = None,
             extra_manifest: Mapping[str, Any] | None = None) -> RunResult:
    """Evaluate a model object (a :class:`~dpbench.models.DepthModel`) over ``config.suite``.

    Same store, resume, protocol recording and reports as :func:`run`. ``sample_filter`` keeps
    only some samples of each dataset, ``carried_rows`` adds rows from elsewhere (``rescore``
    carries the error rows of samples that have no cached prediction), ``extra_manifest`` adds
    keys to the run's manifest.
    """
    config.check()
    suite, protocol = _suite_and_protocol(config)
    ctx = dist_context(config.device)
    try:
        return _execute(config, suite, protocol, model, ctx, ctx.device_for(config.device), say or print_message,
                        extra_manifest=extra_manifest, sample_filter=sample_filter, carried_rows=carried_rows)
    finally:
        ctx.close()


def _execute(config: RunConfig, suite: Suite, protocol: Protocol, model: Any, ctx: DistContext,
             device: str, say: Callable[[str], None], *, extra_manifest: Mapping | None = None,
             sample_filter: SampleFilter | None = None, carried_rows: CarriedRows | None = None) -> RunResult:
    model_record = describe_model(model, config.checkpoint)
    output_kind = model_record.get("output_kind", "metric_depth")
    protocol_record = protocol.record(output_kind)
    fingerprint = run_fingerprint(model_record, config.model_options, suite.name, suite.dataset_names,
                                  protocol_record, config.limit, config.precision, config.save_predictions)
    manifest = {
        "run_id": None, "status": "running", "created": iso(utc_now()), "finished": None,
        "model": model_record, "model_options": dict(config.model_options),
        "suite": suite.name, "suite_info": suite.describe(), "metrics": suite.metrics,
        "protocol": protocol_record,
        "datasets": [],
        "environment": environment_record(device, config.precision, ctx.world_size),
        "limit": config.limit, "save_predictions": bool(config.save_predictions),
        "on_error": config.on_error,
        "options": {"batch_size": int(config.batch_size), "workers": int(config.workers),
                    "device": config.device, "precision": config.precision},
        "fingerprint": fingerprint, "argv": list(sys.argv),
        **(dict(extra_manifest) if extra_manifest else {}),
    }
    store, resumed = open_store(config, ctx, fingerprint, manifest, model_record, suite.name, protocol_record)
    if ctx.is_main:
        verb = "resuming" if resumed else "writing"
        say(f"{model_record.get('name')} on suite {suite.name}: {verb} {store.path}")
    evaluation = Evaluation(model=model, suite=suite, protocol=protocol, store=store, ctx=ctx, config=config,
                            resumed=resumed, sample_filter=sample_filter, carried_rows=carried_rows, say=say)
    status = evaluation.execute()
    store.reload()
    return RunResult(store=store, status=status, resumed=resumed, rows_written=evaluation.rows_written,
                     errors=evaluation.errors, missing=evaluation.missing)


def default_models(suite_name: str) -> list[str]:
    """Models run when ``--model`` is omitted: the sample suite's probes (``suites.toml``)."""
    from dpbench.suites import _definitions, suite_names

    suites = _definitions()["suites"]
    if suite_name not in suites and not Path(suite_name).exists():
        raise UnknownNameError("suite", suite_name, suite_names())
    return list(suites.get(suite_name, {}).get("default_models", []))


def default_runs(suite_name: str) -> list[tuple[str, dict]]:
    """(model, options) of the runs made when ``--model`` is omitted: the suite's ``default_runs``
    tables (``{model, options}``), else its ``default_models`` names without options."""
    from dpbench.suites import SuiteError

    spec = _definitions_of(suite_name)
    runs = []
    for number, entry in enumerate(spec.get("default_runs", [])):
        if not (isinstance(entry, Mapping) and isinstance(entry.get("model"), str)
                and isinstance(entry.get("options", {}), Mapping)):
            raise SuiteError(f"suites.toml [suites.{suite_name}]: default_runs[{number}] must be "
                             "{ model = <name>, options = { ... } }")
        runs.append((entry["model"], dict(entry.get("options", {}))))
    return runs or [(name, {}) for name in default_models(suite_name)]


def _definitions_of(suite_name: str) -> Mapping:
    from dpbench.suites import _definitions

    return _definitions()["suites"].get(suite_name, {})


def run_summary(store: RunStore) -> str:
    """The text table printed at the end of a run."""
    from dpbench.report import summarize_run

    return summarize_run(store)


__all__ = ["default_models", "default_runs", "evaluate", "print_message", "run", "run_summary"]
