"""``dpbench report --ci`` (every format, the coverage rule, ranks) and ``dpbench check --significant``."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import dataset_entry, depth_pair, depth_row, manifest, standard_run, write_run

from dpbench.check import IMPROVED, REGRESSED, check_run
from dpbench.cli import cli
from dpbench.report import build_report, render_report
from dpbench.stats.bootstrap import BootstrapOptions
from dpbench.stats.significance import WITHIN_NOISE

OPTIONS = BootstrapOptions(0.95, 200, seed=0)


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    standard_run(tmp_path, "run-a", model="model-a", rng=rng, noise=0.2, n=10)
    standard_run(tmp_path, "run-b", model="model-b", rng=rng, noise=0.3, n=10)
    return tmp_path


def _table(report, key):
    return next(t for s in report.sections for t in s.tables if t.key == key)


def test_every_run_cell_prints_its_interval_and_json_records_it(runs):
    report = build_report([runs / "run-a", runs / "run-b"], ci=OPTIONS)
    table1 = _table(report, "table1")
    for row in table1.rows:
        value, rank = row.cells
        assert re.fullmatch(r"\d+\.\d \[\d+\.\d, \d+\.\d\]", value.text), value.text
        assert value.ci_low <= value.value <= value.ci_high
        assert re.fullmatch(r"\d\.\d \[\d\.\d, \d\.\d\] 1st \d+%", rank.text), rank.text
    assert any("bootstrap percentile interval" in note for note in table1.notes)
    document = json.loads(render_report(report, "json"))
    ci = document["runs"][0]["ci"]
    assert (ci["ci_level"], ci["bootstrap"], ci["seed"]) == (0.95, 200, 0)
    bounds = ci["results"]["middlebury"]["delta1"]
    assert bounds["ci_low"] <= document["runs"][0]["results"]["middlebury"]["delta1"] <= bounds["ci_high"]
    firsts = [run["ci"]["avg_rank_delta1"]["p_first"] for run in document["runs"]]
    assert sum(firsts) == pytest.approx(1.0)
    records = list(csv.DictReader(io.StringIO(render_report(report, "csv"))))
    delta1 = next(r for r in records if r["metric"] == "delta1" and r["run_id"] == "run-a")
    assert float(delta1["ci_low"]) <= float(delta1["value"]) <= float(delta1["ci_high"])
    assert delta1["ci_level"] == "0.95" and delta1["bootstrap"] == "200"
    for fmt in ("markdown", "latex", "html"):
        assert re.search(r"\d \[\d+\.\d, \d+\.\d\]", render_report(report, fmt)), fmt


def test_without_ci_nothing_changes(runs):
    report = build_report([runs / "run-a"])
    assert "[" not in _table(report, "table1").rows[0].cells[0].text
    assert "ci" not in json.loads(render_report(report, "json"))["runs"][0]
    assert "ci_low" not in render_report(report, "csv").splitlines()[0]


def test_intervals_are_seeded(runs):
    one = render_report(build_report([runs / "run-a", runs / "run-b"], ci=OPTIONS), "csv")
    two = render_report(build_report([runs / "run-a", runs / "run-b"], ci=OPTIONS), "csv")
    three = render_report(build_report([runs / "run-a", runs / "run-b"], ci=BootstrapOptions(0.95, 200, seed=1)),
                          "csv")
    assert one == two and one != three


def test_an_entry_below_full_coverage_keeps_its_flag_and_stays_out_of_the_rank(tmp_path):
    rng = np.random.default_rng(2)
    standard_run(tmp_path, "full", model="full", rng=rng, n=4, depth_sets=("middlebury",))
    rows = [depth_row("middlebury", f"middlebury-{i}", *depth_pair(rng)) for i in range(3)]
    rows.append(depth_row("middlebury", "middlebury-3", None, None, status="error", error="boom"))
    man = manifest("partial", model="partial", datasets=[dataset_entry("middlebury", ["metric_depth"], num_samples=4)])
    write_run(tmp_path, man, rows)
    report = build_report([tmp_path / "full", tmp_path / "partial"], ci=OPTIONS)
    row = next(r for r in _table(report, "table1").rows if r.run_id == "partial")
    value, rank = row.cells
    assert value.flagged and value.excluded
    assert re.fullmatch(r"\d+\.\d \[\d+\.\d, \d+\.\d\]\*", value.text), value.text  # mark after the interval
    assert rank.text == "-"  # left out of the average rank, in every resample too
    assert report.intervals.rank_samples["sample"].keys() == {"full"}
    worst = build_report([tmp_path / "full", tmp_path / "partial"], ci=OPTIONS, failures="worst")
    value, rank = next(r for r in _table(worst, "table1").rows if r.run_id == "partial").cells
    assert value.flagged and not value.excluded and value.text.endswith("]*")
    assert value.ci_low <= value.value <= value.ci_high  # the unscored sample is resampled at δ1 = 0
    assert rank.text.startswith(f"{rank.value:.1f} [")


def test_cli_report_ci_and_plot(runs, tmp_path):
    out = CliRunner().invoke(cli, ["report", "--runs-dir", str(runs), "--ci", "90", "--bootstrap", "100",
                                   "--plots", str(tmp_path / "plots"), "--qualitative", "0"])
    assert out.exit_code == 0, out.output
    assert "90% bootstrap percentile interval" in out.output and "100 resamples" in out.output
    assert (tmp_path / "plots" / "sample_rank_distribution.png").stat().st_size > 1000
    bad = CliRunner().invoke(cli, ["report", "--runs-dir", str(runs), "--ci", "0"])
    assert bad.exit_code == 2 and "--ci 0" in bad.output


def test_check_significant_tells_noise_from_a_real_drop(tmp_path):
    rng = np.random.default_rng(5)
    standard_run(tmp_path, "base", model="m", rng=rng, noise=0.3, n=12)
    standard_run(tmp_path, "noisy", model="m", rng=rng, noise=0.3, n=12)  # same model, other draws
    standard_run(tmp_path, "worse", model="m", rng=rng, noise=0.3, scale=1.4, n=12)
    baseline = tmp_path / "base.json"
    baseline.write_text(render_report(build_report([tmp_path / "base"], ci=OPTIONS), "json"), encoding="utf-8")
    strict = check_run(tmp_path / "noisy", baseline, max_drop=["*=0"])
    strict_delta1 = next(c for c in strict.comparisons if c.metric == "delta1")
    assert strict_delta1.verdict in (REGRESSED, IMPROVED)  # a zero tolerance flaps on noise ...
    for runs_dir in (tmp_path, None):  # paired (the baseline run is there) and unpaired
        result = check_run(tmp_path / "noisy", baseline, max_drop=["*=0"], significant=OPTIONS, runs_dir=runs_dir)
        assert ("paired" in result.significance) and (("unpaired" in result.significance) == (runs_dir is None))
        delta1 = next(c for c in result.comparisons if c.metric == "delta1")
        assert delta1.verdict == WITHIN_NOISE and delta1.drop_low < 0 < delta1.drop_high  # ... --significant not
        worse = check_run(tmp_path / "worse", baseline, max_drop=["*=0"], significant=OPTIONS, runs_dir=runs_dir)
        delta1 = next(c for c in worse.comparisons if c.metric == "delta1")
        assert delta1.verdict == REGRESSED and delta1.drop_low > 0


def test_cli_check_significant(tmp_path):
    rng = np.random.default_rng(5)
    standard_run(tmp_path, "base", model="m", rng=rng, noise=0.3, n=12)
    standard_run(tmp_path, "worse", model="m", rng=rng, noise=0.3, scale=1.4, n=12)
    baseline = tmp_path / "base.json"
    baseline.write_text(render_report(build_report([tmp_path / "base"]), "json"), encoding="utf-8")
    out = CliRunner().invoke(cli, ["check", "worse", "--against", str(baseline), "--runs-dir", str(tmp_path),
                                   "--significant", "--bootstrap", "200", "--max-drop", "*=0"])
    assert out.exit_code == 1, out.output
    assert "drop CI" in out.output and "paired with the baseline run's rows" in out.output
