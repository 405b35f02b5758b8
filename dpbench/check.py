"""Regression check of a run against a stored baseline (``dpbench check``), for CI.

The baseline is a ``dpbench report --format json`` document. The run is aggregated with the
baseline's aggregation and compared per dataset and metric, direction-aware: for a metric where
higher is better (δ, F1, recall) the drop is ``baseline − run``; for one where lower is better
(AbsRel, RMSE, …) it is ``run − baseline``. A drop larger than the tolerance is a regression.
Tolerances are absolute, in stored units (δ as fractions); defaults in
``baselines/check_tolerances.toml``, overridden by ``--max-drop``. Each dataset's coverage
(scored / expected samples) is compared too, with no tolerance: lost coverage is a regression.

Verdicts and exit codes: 0 every comparison within tolerance; 1 at least one regression;
2 the comparison is impossible (unreadable baseline, a baseline dataset missing from the run,
different protocol options, different sample lists or counts, an unfinished run).
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dpbench._table import format_table
from dpbench.errors import DpbenchError, UnknownNameError
from dpbench.io.limits import read_json
from dpbench.report.aggregate import aggregate_run, open_store
from dpbench.report.document import REPORT_FORMAT
from dpbench.resources import load_toml, resource_dir
from dpbench.stats.bootstrap import BootstrapOptions
from dpbench.store import RunStore
from dpbench.tasks import all_metrics

TOLERANCES_FILE = "check_tolerances.toml"
#: Compared like a metric: more failed samples than the baseline is a regression.
NUM_ERRORS = "num_errors"
#: Compared like a metric where higher is better, tolerance 0: losing coverage (scored / expected
#: samples, :mod:`dpbench.report.coverage`) is always a regression. Derived from ``num_samples`` and
#: ``num_errors`` for a baseline made before coverage was recorded.
COVERAGE = "coverage"
#: Per-dataset counts that are not compared by themselves (coverage and num_errors cover them).
_COUNTS = ("num_samples", "num_expected", "num_scored")
#: Slack for floating-point round-off on top of every tolerance.
ROUND_OFF = 1e-12

OK, IMPROVED, REGRESSED, NOT_APPLICABLE = "ok", "improved", "REGRESSED", "n/a"
EXIT_PASS, EXIT_REGRESSION, EXIT_UNUSABLE = 0, 1, 2


class CheckError(DpbenchError):
    """The check cannot be made (bad baseline file, incompatible run); exit code 2."""


@dataclass
class Comparison:
    """One (dataset, metric) comparison; ``delta`` = run − baseline."""

    dataset: str
    metric: str
    baseline: float | None
    run: float | None
    delta: float | None
    tolerance: float
    verdict: str
    drop_low: float | None = None  # with --significant: the drop's interval (dpbench.stats.significance)
    drop_high: float | None = None


@dataclass
class CheckResult:
    """Every comparison of a check and the problems that make it unusable."""

    run_id: str
    baseline_run_id: str
    comparisons: list[Comparison] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    significance: str = ""  # with --significant: how the drop intervals were made

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.verdict == REGRESSED]

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_UNUSABLE
        return EXIT_REGRESSION if self.regressions else EXIT_PASS


# --- inputs -------------------------------------------------------------------------------

def load_baseline(path: str | os.PathLike) -> dict:
    """Read a ``dpbench-report/1`` JSON file; CheckError naming the file if it is not one
    (unreadable, nested too deeply, or failing :func:`validate_baseline`)."""
    path = Path(path)
    if not path.exists():
        raise CheckError(f"baseline file not found: {path}")
    document = read_json(path, "baseline", error=CheckError, invalid="unreadable baseline")
    validate_baseline(document, path)
    return document


#: Keys of a baseline's per-dataset results that are counts, not metrics.
COUNT_KEYS = (NUM_ERRORS, *_COUNTS)


def validate_baseline(document: object, source: object = "baseline") -> None:
    """Refuse a baseline document that cannot be compared with (CheckError naming ``source``).

    Every run has a ``results`` table of datasets, each a table of known metrics whose values
    are finite numbers or null (a metric that was undefined); ``num_samples``/``num_errors`` are
    counts; ``protocol``, ``datasets`` and ``model``, when present, are tables. A baseline that
    held NaN or Infinity would make every comparison with it pass, so it is refused.
    """
    if not isinstance(document, dict) or document.get("format") != REPORT_FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise CheckError(f"{source}: not a dpbench report (format {found!r}, expected {REPORT_FORMAT!r}); "
                         "make one with `dpbench report RUN --format json --out FILE`")
    runs = document.get("runs")
    if not isinstance(runs, list) or not runs:
        raise CheckError(f"{source}: the baseline holds no run")
    known = all_metrics()
    for index, run in enumerate(runs):
        if not isinstance(run, dict) or not isinstance(run.get("results"), dict):
            raise CheckError(f"{source}: run #{index} has no 'results' table")
        for key in ("protocol", "datasets", "model"):
            if run.get(key) is not None and not isinstance(run[key], dict):
                raise CheckError(f"{source}: run #{index}: {key!r} is a {type(run[key]).__name__}, not a table")
        for dataset, facts in (run.get("datasets") or {}).items():
            if facts is not None and not isinstance(facts, dict):
                raise CheckError(f"{source}: run #{index}: datasets.{dataset} is a {type(facts).__name__}, "
                                 "not a table")
        for dataset, scores in run["results"].items():
            where = f"{source}: run #{index}, dataset {dataset!r}"
            if not isinstance(scores, dict):
                raise CheckError(f"{where}: the results entry is a {type(scores).__name__}, not a table "
                                 "of metrics")
            for metric, value in scores.items():
                if metric in COUNT_KEYS:
                    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                        raise CheckError(f"{where}: {metric} is {value!r}, not a count")
                    continue
                if metric == COVERAGE:
                    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                              or not 0.0 <= value <= 1.0):
                        raise CheckError(f"{where}: coverage is {value!r}, not a share in [0, 1]")
                    continue
                if metric not in known:
                    close = difflib.get_close_matches(metric, known, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise CheckError(f"{where}: unknown metric {metric!r}{hint}")
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise CheckError(f"{where}: {metric} is {value!r}, not a number")
                if not math.isfinite(value):
                    raise CheckError(f"{where}: {metric} is {value!r}; a baseline value must be finite "
                                     "(null when the metric was undefined)")


def pick_baseline_run(document: Mapping, model: str, suite: str, run_id: str | None = None) -> dict:
    """The baseline entry to compare with: ``run_id`` if given, the only run, or the run of the
    same model and suite; CheckError when that is ambiguous or absent."""
    runs = list(document["runs"])
    if run_id is not None:
        chosen = [r for r in runs if r.get("run_id") == run_id]
    elif len(runs) == 1:
        chosen = runs
    else:
        chosen = [r for r in runs
                  if (r.get("model") or {}).get("name") == model and r.get("suite") == suite]
    if len(chosen) == 1:
        return chosen[0]
    listing = ", ".join(f"{r.get('run_id')} ({(r.get('model') or {}).get('name')}, {r.get('suite')})"
                        for r in runs)
    what = f"run id {run_id!r}" if run_id else f"model {model!r} on suite {suite!r}"
    state = "several runs match" if chosen else "no run matches"
    raise CheckError(f"the baseline holds {len(runs)} runs and {state} {what}: {listing}. "
                     "Pick one with --baseline-run")


def _parse_amount(text: str, item: str) -> float:
    text = text.strip()
    percent = text.endswith("%")
    try:
        value = float(text[:-1] if percent else text)
    except ValueError:
        raise CheckError(f"--max-drop {item!r}: {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise CheckError(f"--max-drop {item!r}: the tolerance must be a finite number ≥ 0")
    return value / 100.0 if percent else value


def parse_max_drop(items: Sequence[str]) -> dict[tuple[str | None, str], float]:
    """Parse ``metric=value`` / ``dataset:metric=value`` / ``*=value`` overrides.

    Values are absolute, in stored units; a ``%`` suffix means percentage points
    (``delta1=0.5%`` is 0.005). Keys are ``(dataset or None, metric or "*")``.
    """
    overrides: dict[tuple[str | None, str], float] = {}
    for item in items:
        key, sep, amount = item.partition("=")
        if not sep or not key.strip():
            raise CheckError(f"--max-drop {item!r}: expected metric=value or dataset:metric=value")
        dataset, _, metric = key.strip().rpartition(":")
        metric = metric.strip()
        known = all_metrics()
        if metric != "*" and metric not in known and metric != NUM_ERRORS:
            raise UnknownNameError("metric", metric, [*known, NUM_ERRORS])
        overrides[(dataset.strip() or None, metric)] = _parse_amount(amount, item)
    return overrides


def default_tolerances() -> dict:
    """The ``[metrics]`` and ``[reference]`` tables of ``baselines/check_tolerances.toml``."""
    path = resource_dir("baselines") / TOLERANCES_FILE
    if not path.exists():
        raise CheckError(f"the default tolerances file is missing: {path}")
    return load_toml(path)


def tolerance_for(dataset: str, metric: str, reference: bool,
                  overrides: Mapping[tuple[str | None, str], float], defaults: Mapping) -> float:
    """The allowed drop: ``dataset:metric`` > ``metric`` > ``*`` override > reference > default."""
    for key in ((dataset, metric), (None, metric), (None, "*")):
        if key in overrides:
            return overrides[key]
    if reference:
        return float(defaults.get("reference", {}).get("tolerance", 0.0))
    per_metric = defaults.get("metrics", {})
    if metric not in per_metric:
        raise CheckError(f"no default tolerance for metric {metric!r} in {TOLERANCES_FILE}; "
                         f"pass --max-drop {metric}=VALUE")
    return float(per_metric[metric])


# --- comparison ---------------------------------------------------------------------------

#: Protocol options newer than some baselines, and the value their absence means.
_ABSENT_MEANS = {"focal_mode_overrides": {}, "focal_mode_reason": ""}


def _protocol_problems(baseline: Mapping, run: Mapping) -> list[str]:
    base, ours = baseline.get("protocol") or {}, run.get("protocol") or {}
    problems = []
    for key in sorted(set(base) | set(ours)):
        absent = _ABSENT_MEANS.get(key)
        if base.get(key, absent) != ours.get(key, absent):
            problems.append(f"protocol option {key!r} differs: baseline {base.get(key)!r}, run {ours.get(key)!r}")
    return problems


def _dataset_problems(dataset: str, baseline: Mapping, run: Mapping) -> list[str]:
    facts = (run.get("datasets") or {}).get(dataset) or {}
    if dataset not in run["results"]:
        why = facts.get("reason") or facts.get("status") or "not in the run"
        return [f"dataset {dataset!r} of the baseline is missing from the run ({why})"]
    problems = []
    base_facts = (baseline.get("datasets") or {}).get(dataset) or {}
    base_hash, run_hash = base_facts.get("protocol_hash"), facts.get("protocol_hash")
    if base_hash and run_hash and base_hash != run_hash:
        problems.append(f"dataset {dataset!r}: different samples or protocol (hash {base_hash} in the "
                        f"baseline, {run_hash} in the run)")
    base_n, run_n = baseline["results"][dataset].get("num_samples"), run["results"][dataset].get("num_samples")
    if base_n is not None and base_n != run_n:
        problems.append(f"dataset {dataset!r}: {run_n} samples in the run, {base_n} in the baseline")
    return problems


def _verdict(metric: str, base: float | None, ours: float | None, tolerance: float) -> tuple[float | None, str]:
    if base is None:
        return None, NOT_APPLICABLE
    if ours is None:
        return None, REGRESSED  # a score that existed became undefined
    delta = ours - base
    known = all_metrics()
    higher_is_better = metric == COVERAGE or (known[metric].higher_is_better if metric in known else False)
    drop = -delta if higher_is_better else delta
    if drop > tolerance + ROUND_OFF + 1e-9 * abs(base):
        return delta, REGRESSED
    if -drop > tolerance + ROUND_OFF + 1e-9 * abs(base):
        return delta, IMPROVED
    return delta, OK


def _coverage_of(scores: Mapping) -> float | None:
    """A dataset entry's coverage: recorded, or (older reports) 1 − num_errors / num_samples."""
    value = scores.get(COVERAGE)
    if isinstance(value, (int, float)):
        return float(value)
    samples, errors = scores.get("num_samples"), scores.get("num_errors")
    if isinstance(samples, int) and samples > 0 and isinstance(errors, int):
        return (samples - errors) / samples
    return None


def compare_aggregates(run: Mapping, baseline: Mapping,
                       max_drop: Mapping[tuple[str | None, str], float] | None = None) -> CheckResult:
    """Compare a run aggregate with a baseline aggregate (both as :func:`aggregate_run` makes them)."""
    result = CheckResult(str(run.get("run_id")), str(baseline.get("run_id")))
    overrides = dict(max_drop or {})
    defaults = default_tolerances()
    status = run.get("status")
    if status not in (None, "complete"):
        result.problems.append(f"run {run.get('run_id')} is {status!r}, not complete")
    result.problems += _protocol_problems(baseline, run)
    reference = bool(baseline.get("reference")) or bool(run.get("reference"))
    for dataset, base_scores in baseline["results"].items():
        problems = _dataset_problems(dataset, baseline, run)
        result.problems += problems
        if dataset not in run["results"]:
            continue
        ours = run["results"][dataset]
        if _coverage_of(base_scores) is not None:
            base_scores = {**base_scores, COVERAGE: _coverage_of(base_scores)}
        for metric, base_value in base_scores.items():
            if metric in _COUNTS:
                continue
            if metric == COVERAGE:
                value = _coverage_of(ours)
                delta, verdict = _verdict(metric, base_value, value, 0.0)
                result.comparisons.append(Comparison(dataset, metric, base_value, value, delta, 0.0, verdict))
                continue
            tolerance = tolerance_for(dataset, metric, reference, overrides, defaults)
            value = ours.get(metric)
            delta, verdict = _verdict(metric, base_value, value, tolerance)
            result.comparisons.append(Comparison(dataset, metric, base_value, value, delta, tolerance, verdict))
    return result


def check_run(
    run: RunStore | str | os.PathLike,
    against: str | os.PathLike | Mapping,
    *,
    max_drop: Sequence[str] | Mapping[tuple[str | None, str], float] = (),
    baseline_run: str | None = None,
    significant: BootstrapOptions | None = None,
    runs_dir: str | os.PathLike | None = None,
) -> CheckResult:
    """Check ``run`` against a baseline report (a path or the loaded document).

    ``max_drop``: ``["delta1=0.01", "booster:abs_rel=0.02", "*=0"]`` or parsed overrides.
    The run is aggregated with the baseline's aggregation so that the two are comparable.
    ``significant``: a drop beyond the tolerance is a regression only when its bootstrap interval
    excludes zero (:mod:`dpbench.stats.significance`; paired when the baseline run is in ``runs_dir``).
    """
    if isinstance(against, Mapping):
        document = dict(against)
        validate_baseline(document)
    else:
        document = load_baseline(against)
    overrides = max_drop if isinstance(max_drop, Mapping) else parse_max_drop(max_drop)
    store = open_store(run)
    model = str((store.manifest.get("model") or {}).get("name"))
    baseline = pick_baseline_run(document, model, str(store.manifest.get("suite")), baseline_run)
    aggregation = (baseline.get("protocol") or {}).get("aggregation")
    result = compare_aggregates(aggregate_run(store, aggregation), baseline, overrides)
    if significant is not None and not result.problems:
        from dpbench.stats.significance import apply_significance, significance_text

        paired = apply_significance(result, store, baseline, significant, runs_dir)
        result.significance = significance_text(significant, paired)
    return result


# --- speed runs ---------------------------------------------------------------------------

def is_speed_manifest(manifest: Mapping) -> bool:
    """Whether a run is a ``dpbench speed`` measurement (checked by :func:`check_speed_run`)."""
    return manifest.get("kind") == "speed"


def parse_speed_tolerance(text: str | float) -> float:
    """``"10%"`` or ``"0.1"`` -> 0.1; CheckError for anything else or a negative value."""
    raw = str(text).strip()
    percent = raw.endswith("%")
    try:
        value = float(raw[:-1] if percent else raw)
    except ValueError:
        raise CheckError(f"--tolerance {raw!r}: expected a fraction (0.1) or a percentage (10%)") from None
    value = value / 100.0 if percent else value
    if not math.isfinite(value) or value < 0:
        raise CheckError(f"--tolerance {raw!r}: must be a finite amount >= 0")
    return value


def check_speed_run(store: RunStore, against: str | os.PathLike | None, tolerance: str | float,
                    runs_dir: str | os.PathLike | None = None) -> tuple[int, list[str]]:
    """Check a speed run against a baseline speed run (a folder or a run id in ``runs_dir``; None:
    the baseline measured in the same job); ``(exit code, lines)`` of
    :func:`dpbench.speed.check.check_speed` (0 pass, 1 slower, 2 not comparable)."""
    from dpbench.speed.check import check_speed

    return check_speed(store, against, parse_speed_tolerance(tolerance), runs_dir=runs_dir)


# --- printing -----------------------------------------------------------------------------

def _shown(metric: str, value: float | None, signed: bool = False, tolerance: bool = False) -> str:
    """A value for the check table: percent metrics ×100 (3 decimals), others 5 significant digits;
    tolerances with 3 significant digits so that small ones stay visible."""
    if value is None:
        return "-"
    info = all_metrics().get(metric)
    if info is not None and info.percent:
        value *= 100.0
        spec = ".3g" if tolerance else ".3f"
    else:
        spec = ".3g" if tolerance else ".5g"
    return format(value, ("+" if signed else "") + spec)


def _is_percent(metric: str) -> bool:
    info = all_metrics().get(metric)
    return info is not None and info.percent


def format_check(result: CheckResult) -> str:
    """The table of every comparison, then the problems, then a one-line verdict."""
    rows = [{"dataset": c.dataset, "metric": c.metric + (" (%)" if _is_percent(c.metric) else ""),
             "baseline": _shown(c.metric, c.baseline), "run": _shown(c.metric, c.run),
             "delta": _shown(c.metric, c.delta, signed=True), "tolerance": _shown(c.metric, c.tolerance, tolerance=True),
             "verdict": c.verdict} for c in result.comparisons]
    lines = [f"run {result.run_id} against baseline run {result.baseline_run_id} "
             "(δ in %, deltas = run − baseline; tolerance = largest accepted drop)"]
    columns = ["dataset", "metric", "baseline", "run", "delta", "tolerance", "verdict"]
    if result.significance:
        columns.insert(-1, "drop CI")
        for row, c in zip(rows, result.comparisons, strict=True):
            row["drop CI"] = "-" if c.drop_low is None else \
                f"[{_shown(c.metric, c.drop_low, signed=True)}, {_shown(c.metric, c.drop_high, signed=True)}]"
        lines.append(result.significance)
    if rows:
        lines.append(format_table(rows, columns))
    if result.problems:
        lines.append("cannot compare:")
        lines += [f"  - {problem}" for problem in result.problems]
        lines.append("UNUSABLE: the run and the baseline are not comparable (exit code 2)")
    elif result.regressions:
        lines.append(f"FAIL: {len(result.regressions)} of {len(result.comparisons)} comparisons regressed")
    else:
        improved = sum(c.verdict == IMPROVED for c in result.comparisons)
        extra = f" ({improved} improved beyond tolerance: consider updating the baseline)" if improved else ""
        lines.append(f"PASS: {len(result.comparisons)} comparisons within tolerance{extra}")
    return "\n".join(lines)
