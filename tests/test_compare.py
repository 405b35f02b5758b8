"""``dpbench compare``: paired differences of two runs written in the store layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import standard_run

from dpbench.cli import cli
from dpbench.stats.bootstrap import BootstrapOptions, StatsError
from dpbench.stats.compare import BETTER, INDISTINGUISHABLE, WORSE, compare_runs, verdict


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    a = standard_run(tmp_path, "run-a", model="model-a", rng=rng, scale=1.0, noise=0.1, n=12)
    b = standard_run(tmp_path, "run-b", model="model-b", rng=rng, scale=1.5, noise=0.1, n=12)
    return tmp_path, a, b


def _find(result, dataset, metric):
    return next(d for d in result.differences if d.dataset == dataset and d.metric == metric)


def test_a_clearly_worse_run_is_worse_with_an_interval_around_its_difference(runs):
    _, a, b = runs
    result = compare_runs(a, b, options=BootstrapOptions(0.95, 300, seed=0))
    delta1 = _find(result, "middlebury", "delta1")
    assert delta1.delta == pytest.approx(delta1.b - delta1.a)
    assert delta1.ci_low <= delta1.delta <= delta1.ci_high and delta1.ci_high < 0
    assert delta1.verdict == WORSE
    assert _find(result, "middlebury", "abs_rel").verdict == WORSE  # lower is better: Δ > 0 is worse
    # identical boundary F1 and mask recall rows: no difference at all
    assert _find(result, "am2k", "boundary_recall").verdict == INDISTINGUISHABLE
    reverse = compare_runs(b, a, options=BootstrapOptions(0.95, 300, seed=0))
    assert _find(reverse, "middlebury", "delta1").verdict == BETTER


def test_a_run_against_itself_is_not_distinguishable(runs):
    _, a, _ = runs
    result = compare_runs(a, a, options=BootstrapOptions(0.95, 100, seed=0))
    assert result.differences and all(d.delta == 0 and d.verdict == INDISTINGUISHABLE for d in result.differences)


def test_verdict_reads_the_metric_direction():
    assert verdict("delta1", 0.01, 0.02) == BETTER
    assert verdict("abs_rel", 0.01, 0.02) == WORSE
    assert verdict("abs_rel", -0.01, 0.02) == INDISTINGUISHABLE
    assert verdict("delta1", None, None) == INDISTINGUISHABLE


def test_runs_of_different_suites_are_refused(tmp_path):
    rng = np.random.default_rng(1)
    a = standard_run(tmp_path, "a", model="m", rng=rng)
    b = standard_run(tmp_path, "b", model="m", rng=rng, suite="other")
    with pytest.raises(StatsError, match="different suites"):
        compare_runs(a, b)


def test_cli_compare_text_and_json(runs):
    runs_dir, _, _ = runs
    text = CliRunner().invoke(cli, ["compare", "run-a", "run-b", "--runs-dir", str(runs_dir), "--bootstrap", "200"])
    assert text.exit_code == 0, text.output
    assert "B is better on 0, worse on" in text.output and "95% CI" in text.output
    out = CliRunner().invoke(cli, ["compare", "run-a", "run-b", "--runs-dir", str(runs_dir), "--format", "json",
                                   "--metric", "delta1", "--ci", "90", "--seed", "3", "--bootstrap", "200"])
    assert out.exit_code == 0, out.output
    document = json.loads(out.output)
    assert document["format"] == "dpbench-compare/1"
    assert (document["ci_level"], document["bootstrap"], document["seed"]) == (0.9, 200, 3)
    assert [d["metric"] for d in document["differences"]] == ["delta1"]
    assert document["differences"][0]["verdict"] == WORSE
    again = CliRunner().invoke(cli, ["compare", "run-a", "run-b", "--runs-dir", str(runs_dir), "--format", "json",
                                     "--metric", "delta1", "--ci", "90", "--seed", "3", "--bootstrap", "200"])
    assert again.output == out.output  # seeded


def test_cli_compare_bad_level_is_one_line_exit_2(runs):
    runs_dir, _, _ = runs
    out = CliRunner().invoke(cli, ["compare", "run-a", "run-b", "--runs-dir", str(runs_dir), "--ci", "150"])
    assert out.exit_code == 2 and "--ci 150" in out.output
