"""`dpbench check`: exit codes on improved / regressed / incompatible runs, tolerances, parsing."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import PROTOCOL, standard_run

from dpbench.check import (
    EXIT_PASS,
    EXIT_REGRESSION,
    EXIT_UNUSABLE,
    IMPROVED,
    NOT_APPLICABLE,
    OK,
    REGRESSED,
    CheckError,
    check_run,
    compare_aggregates,
    default_tolerances,
    format_check,
    load_baseline,
    parse_max_drop,
    tolerance_for,
)
from dpbench.cli import cli
from dpbench.errors import UnknownNameError
from dpbench.report import aggregate_run, build_report, render_report


def _baseline(tmp_path, *runs):
    path = tmp_path / "baseline.json"
    path.write_text(render_report(build_report(list(runs)), "json"))
    return path


def _invoke(*args):
    return CliRunner().invoke(cli, ["check", *map(str, args)])


@pytest.fixture
def base_run(tmp_path):
    return standard_run(tmp_path / "runs", "base", model="m", rng=np.random.default_rng(0), scale=1.1)


def test_same_run_passes(tmp_path, base_run):
    baseline = _baseline(tmp_path, base_run)
    result = _invoke(base_run, "--against", baseline)
    assert result.exit_code == EXIT_PASS, result.output
    assert "PASS" in result.output and "REGRESSED" not in result.output
    header = result.output.splitlines()[1].split()
    assert header == ["dataset", "metric", "baseline", "run", "delta", "tolerance", "verdict"]
    delta1 = next(line.split() for line in result.output.splitlines() if line.startswith("middlebury   delta1"))
    assert delta1[-2:] == ["0.5", "ok"]  # 0.005 shown in percentage points


def test_improved_run_passes_and_says_improved(tmp_path, base_run):
    baseline = _baseline(tmp_path, base_run)
    better = standard_run(tmp_path / "runs", "better", model="m", rng=np.random.default_rng(0), scale=1.0,
                          f1=0.7, recall=0.6, focal_scale=1.05)
    result = check_run(better, baseline)
    assert result.exit_code == EXIT_PASS
    verdicts = {(c.dataset, c.metric): c.verdict for c in result.comparisons}
    assert verdicts[("middlebury", "abs_rel")] == IMPROVED  # lower is better: went down
    assert verdicts[("middlebury", "boundary_f1")] == IMPROVED
    assert verdicts[("am2k", "boundary_recall")] == IMPROVED
    assert verdicts[("middlebury", "num_errors")] == OK
    assert "consider updating the baseline" in format_check(result)
    assert _invoke(better, "--against", baseline).exit_code == EXIT_PASS


def test_regressed_run_exits_1(tmp_path, base_run):
    baseline = _baseline(tmp_path, base_run)
    worse = standard_run(tmp_path / "runs", "worse", model="m", rng=np.random.default_rng(0), scale=1.5,
                         f1=0.4)
    result = check_run(worse, baseline)
    assert result.exit_code == EXIT_REGRESSION
    regressed = {(c.dataset, c.metric) for c in result.regressions}
    assert {("middlebury", "delta1"), ("middlebury", "abs_rel"), ("middlebury", "boundary_f1")} <= regressed
    cli_result = _invoke(worse, "--against", baseline)
    assert cli_result.exit_code == EXIT_REGRESSION and "FAIL" in cli_result.output


def test_direction_awareness_on_hand_made_aggregates():
    base = {"run_id": "b", "protocol": {}, "results": {"d": {"delta1": 0.80, "abs_rel": 0.10, "num_samples": 5,
                                                              "num_errors": 0}}}
    run = copy.deepcopy(base)
    run["run_id"] = "r"
    run["results"]["d"].update(delta1=0.81, abs_rel=0.11)  # δ1 up (better), AbsRel up (worse)
    result = compare_aggregates(run, base)
    by_metric = {c.metric: c for c in result.comparisons}
    assert by_metric["delta1"].verdict == IMPROVED and by_metric["delta1"].delta == pytest.approx(0.01)
    assert by_metric["abs_rel"].verdict == REGRESSED
    run["results"]["d"].update(delta1=0.796, abs_rel=0.104)  # both within the defaults (0.005)
    assert compare_aggregates(run, base).exit_code == EXIT_PASS
    run["results"]["d"]["num_errors"] = 1
    # one more failed sample: more errors and less coverage (derived from num_samples, num_errors)
    assert [c.metric for c in compare_aggregates(run, base).regressions] == ["num_errors", "coverage"]


def test_exactly_at_the_tolerance_passes_and_just_beyond_fails():
    base = {"run_id": "b", "protocol": {}, "results": {"d": {"delta1": 0.5, "num_samples": 1}}}
    at = {"run_id": "r", "protocol": {}, "results": {"d": {"delta1": 0.495, "num_samples": 1}}}
    beyond = {"run_id": "r", "protocol": {}, "results": {"d": {"delta1": 0.4949, "num_samples": 1}}}
    assert compare_aggregates(at, base).exit_code == EXIT_PASS
    assert compare_aggregates(beyond, base).exit_code == EXIT_REGRESSION


def test_undefined_scores():
    base = {"run_id": "b", "protocol": {}, "results": {"d": {"delta1": 0.5, "abs_rel": None, "num_samples": 1}}}
    run = {"run_id": "r", "protocol": {}, "results": {"d": {"delta1": None, "abs_rel": 0.1, "num_samples": 1}}}
    verdicts = {c.metric: c.verdict for c in compare_aggregates(run, base).comparisons}
    assert verdicts == {"delta1": REGRESSED, "abs_rel": NOT_APPLICABLE}


def test_max_drop_overrides_turn_a_regression_into_a_pass(tmp_path, base_run):
    baseline = _baseline(tmp_path, base_run)
    worse = standard_run(tmp_path / "runs", "worse", model="m", rng=np.random.default_rng(0), scale=1.12)
    result = check_run(worse, baseline)
    assert result.exit_code == EXIT_REGRESSION
    loose = ["*=1"] + [f"{c.dataset}:{c.metric}=100" for c in result.regressions]
    assert check_run(worse, baseline, max_drop=loose).exit_code == EXIT_PASS
    assert _invoke(worse, "--against", baseline, *[a for item in loose for a in ("--max-drop", item)]).exit_code == 0


def test_probe_runs_get_the_strict_reference_tolerance(tmp_path):
    probe = standard_run(tmp_path / "runs", "probe", model="probe:gt", reference=True,
                         rng=np.random.default_rng(0), scale=1.0, noise=0.0, f1=1.0)
    baseline = _baseline(tmp_path, probe)
    changed = standard_run(tmp_path / "runs", "probe2", model="probe:gt", reference=True,
                           rng=np.random.default_rng(0), scale=1.0, noise=0.0, f1=0.999)
    result = check_run(changed, baseline)
    assert [(c.metric, c.tolerance) for c in result.regressions] == [("boundary_f1", 1e-4)]


def test_incompatible_protocol_exits_2(tmp_path, base_run):
    baseline = _baseline(tmp_path, base_run)
    other = standard_run(tmp_path / "runs", "other", model="m", rng=np.random.default_rng(0), scale=1.1,
                         protocol={**PROTOCOL, "focal_mode": "gt"})
    result = check_run(other, baseline)
    assert result.exit_code == EXIT_UNUSABLE
    assert any("focal_mode" in p for p in result.problems)
    cli_result = _invoke(other, "--against", baseline)
    assert cli_result.exit_code == EXIT_UNUSABLE and "UNUSABLE" in cli_result.output


def test_missing_dataset_and_different_sample_count_exit_2(tmp_path, base_run):
    baseline = _baseline(tmp_path, base_run)
    fewer_sets = standard_run(tmp_path / "runs", "fewer", model="m", rng=np.random.default_rng(0), scale=1.1,
                              depth_sets=())
    result = check_run(fewer_sets, baseline)
    assert result.exit_code == EXIT_UNUSABLE
    assert any("'middlebury' of the baseline is missing" in p for p in result.problems)
    fewer_samples = standard_run(tmp_path / "runs", "short", model="m", rng=np.random.default_rng(0),
                                 scale=1.1, n=2)
    problems = check_run(fewer_samples, baseline).problems
    assert any("2 samples in the run, 3 in the baseline" in p for p in problems)


def test_different_sample_list_hash_exits_2(tmp_path, base_run):
    baseline = _baseline(tmp_path, base_run)
    document = json.loads(baseline.read_text())
    document["runs"][0]["datasets"]["am2k"]["protocol_hash"] = "ffffffffffffffff"
    baseline.write_text(json.dumps(document))
    result = check_run(base_run, baseline)
    assert result.exit_code == EXIT_UNUSABLE and "different samples or protocol" in result.problems[0]


def test_unfinished_run_exits_2(tmp_path, base_run):
    baseline = _baseline(tmp_path, base_run)
    running = standard_run(tmp_path / "runs", "crashed", model="m", rng=np.random.default_rng(0), scale=1.1,
                           status="failed")
    assert any("not complete" in p for p in check_run(running, baseline).problems)


@pytest.mark.parametrize("content, message", [
    ("{not json", "unreadable baseline"),
    ('{"format": "something-else", "runs": []}', "not a dpbench report"),
    ('{"format": "dpbench-report/1", "runs": []}', "holds no run"),
    ('{"format": "dpbench-report/1", "runs": [{"run_id": "x"}]}', "no 'results' table"),
])
def test_unreadable_baselines_exit_2(tmp_path, base_run, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CheckError, match=message):
        load_baseline(path)
    result = _invoke(base_run, "--against", path)
    assert result.exit_code == EXIT_UNUSABLE and message in result.output


def test_missing_baseline_file_and_missing_run_exit_2(tmp_path, base_run):
    assert _invoke(base_run, "--against", tmp_path / "none.json").exit_code == EXIT_UNUSABLE
    baseline = _baseline(tmp_path, base_run)
    result = _invoke(tmp_path / "no-run", "--against", baseline)
    assert result.exit_code == EXIT_UNUSABLE and "no-run" in result.output


def test_baseline_with_several_runs_picks_the_same_model_or_asks(tmp_path, base_run):
    rng = np.random.default_rng(5)
    other = standard_run(tmp_path / "runs", "other-model", model="n", rng=rng)
    twin = standard_run(tmp_path / "runs", "twin", model="m", rng=rng, scale=1.1)
    baseline = _baseline(tmp_path, base_run, other)
    assert check_run(base_run, baseline).baseline_run_id == "base"
    ambiguous = _baseline(tmp_path, base_run, other, twin)
    with pytest.raises(CheckError, match="several runs match"):
        check_run(base_run, ambiguous)
    assert check_run(base_run, ambiguous, baseline_run="base").exit_code == EXIT_PASS
    result = _invoke(base_run, "--against", ambiguous)
    assert result.exit_code == EXIT_UNUSABLE and "--baseline-run" in result.output


def test_run_is_aggregated_like_the_baseline(tmp_path, base_run):
    pooled_doc = build_report([base_run], aggregation="pooled")
    path = tmp_path / "pooled.json"
    path.write_text(render_report(pooled_doc, "json"))
    result = check_run(base_run, path)  # the run's own setting is per_image
    assert result.exit_code == EXIT_PASS
    pooled = aggregate_run(base_run, "pooled")["results"]["middlebury"]["delta1"]
    compared = next(c for c in result.comparisons if c.metric == "delta1" and c.dataset == "middlebury")
    assert compared.run == pooled


def test_parse_max_drop():
    parsed = parse_max_drop(["delta1=0.5%", "booster:abs_rel=0.02", "*=0", "num_errors=3"])
    assert parsed == {(None, "delta1"): 0.005, ("booster", "abs_rel"): 0.02, (None, "*"): 0.0,
                      (None, "num_errors"): 3.0}
    with pytest.raises(UnknownNameError, match="Did you mean 'delta1'"):
        parse_max_drop(["delta_1=0.1"])
    for bad in ("delta1", "delta1=-1", "delta1=abc", "=1"):
        with pytest.raises(CheckError):
            parse_max_drop([bad])


def test_tolerance_precedence():
    defaults = default_tolerances()
    overrides = parse_max_drop(["booster:delta1=0.3", "delta1=0.2", "*=0.1"])
    assert tolerance_for("booster", "delta1", False, overrides, defaults) == 0.3
    assert tolerance_for("sintel", "delta1", False, overrides, defaults) == 0.2
    assert tolerance_for("sintel", "abs_rel", False, overrides, defaults) == 0.1
    assert tolerance_for("sintel", "abs_rel", False, {}, defaults) == defaults["metrics"]["abs_rel"]
    assert tolerance_for("sintel", "abs_rel", True, {}, defaults) == defaults["reference"]["tolerance"]
    from dpbench.tasks import all_metrics

    assert set(all_metrics()) <= set(defaults["metrics"])  # every metric has a documented default


def _ci_commands() -> list[list[str]]:
    """Every `dpbench ...` command of docs/ci-example.yml (steps and the comment header)."""
    import shlex
    from pathlib import Path

    yaml = pytest.importorskip("yaml")
    path = Path(__file__).resolve().parents[1] / "docs" / "ci-example.yml"
    text = path.read_text()
    scripts = [step["run"] for job in yaml.safe_load(text)["jobs"].values() for step in job["steps"]
               if "run" in step]
    scripts.append("\n".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#   ")))
    commands = []
    for script in scripts:
        for line in script.replace("\\\n", " ").splitlines():
            if line.strip().startswith("dpbench "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_the_ci_example_uses_existing_commands_and_options():
    commands = _ci_commands()
    assert {c[0] for c in commands} == {"run", "report", "check"}
    for args in commands:
        command = cli.commands[args[0]]
        context = command.make_context(args[0], list(args[1:]))  # click.UsageError on a bad option
        if args[0] == "check":
            parse_max_drop(context.params["max_drop"])  # the tolerances given parse too


def test_protocol_options_newer_than_the_baseline_compare_at_their_defaults():
    from dpbench.check import _protocol_problems

    old = {"protocol": {"focal_mode": "estimated"}}
    assert _protocol_problems(old, {"protocol": {"focal_mode": "estimated", "focal_mode_overrides": {},
                                                 "focal_mode_reason": ""}}) == []
    changed = _protocol_problems(old, {"protocol": {"focal_mode": "estimated",
                                                    "focal_mode_overrides": {"sunrgbd": "gt"}}})
    assert len(changed) == 1 and "focal_mode_overrides" in changed[0]
