"""Which runs a report shows: latest per (model, suite), explicit runs, suites, empty folders."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import standard_run

from dpbench.cli import cli
from dpbench.errors import DpbenchError
from dpbench.report import collect_runs
from dpbench.store import RunStore


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    base = tmp_path / "runs"
    standard_run(base, "a-old", model="a", rng=rng, created="2026-01-01T00:00:00Z")
    standard_run(base, "a-new", model="a", rng=rng, created="2026-01-02T00:00:00Z")
    standard_run(base, "a-newest-failed", model="a", rng=rng, created="2026-01-03T00:00:00Z", status="failed")
    standard_run(base, "b-interrupted", model="b", rng=rng, created="2026-01-01T12:00:00Z",
                 status="interrupted")
    standard_run(base, "a-zeroshot", model="a", rng=rng, suite="zeroshot", created="2026-01-01T00:00:00Z")
    return base


def _ids(stores):
    return [s.run_id for s in stores]


def test_latest_complete_run_per_model_and_suite(runs):
    assert _ids(collect_runs(runs_dir=runs)) == ["a-zeroshot", "b-interrupted", "a-new"]


def test_all_runs_keeps_everything(runs):
    assert len(collect_runs(runs_dir=runs, latest_only=False)) == 5


def test_explicit_runs_are_all_shown_in_the_given_order(runs):
    stores = collect_runs([runs / "a-new", "a-old"], runs_dir=runs)
    assert _ids(stores) == ["a-new", "a-old"]
    assert all(isinstance(s, RunStore) for s in stores)


def test_suite_filter(runs):
    assert _ids(collect_runs(runs_dir=runs, suite="zeroshot")) == ["a-zeroshot"]
    with pytest.raises(DpbenchError, match="no run of suite 'focal'.*sample, zeroshot"):
        collect_runs(runs_dir=runs, suite="focal")


def test_unknown_run_is_a_clear_error(runs):
    with pytest.raises(DpbenchError, match="run not found: nope"):
        collect_runs(["nope"], runs_dir=runs)


def test_empty_or_missing_runs_dir_says_so(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "not-a-run").mkdir()
    with pytest.raises(DpbenchError, match="no runs to report"):
        collect_runs(runs_dir=empty)
    with pytest.raises(DpbenchError, match="does not exist"):
        collect_runs(runs_dir=tmp_path / "missing")


def test_cli_report_on_an_empty_runs_dir_exits_2_with_a_message(tmp_path):
    result = CliRunner().invoke(cli, ["report", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no runs to report" in result.output and "dpbench run --suite sample" in result.output


def test_another_checkpoint_or_speed_role_is_another_model(tmp_path):
    import json

    rng = np.random.default_rng(1)
    base = tmp_path / "runs"
    for run_id, sha, role, created in [("ck1-old", "aa", "", "2026-01-01T00:00:00Z"),
                                       ("ck1-new", "aa", "", "2026-01-02T00:00:00Z"),
                                       ("ck2", "bb", "", "2026-01-01T00:00:00Z"),
                                       ("job", "aa", "candidate", "2026-01-03T00:00:00Z"),
                                       ("job-baseline", "aa", "baseline", "2026-01-03T00:00:01Z")]:
        folder = standard_run(base, run_id, model="depthpro", rng=rng, created=created)
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["model"]["checkpoint_sha256"] = sha
        if role:
            manifest["speed"] = {"role": role}
        (folder / "manifest.json").write_text(json.dumps(manifest))
    assert sorted(_ids(collect_runs(runs_dir=base))) == ["ck1-new", "ck2", "job", "job-baseline"]
