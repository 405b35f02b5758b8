"""baselines/sample_probe_gt.json, the README's `dpbench check` example, is a real baseline: a fresh
probe:gt run on the sample suite passes against it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from dpbench.cli import cli

BASELINE = Path(__file__).resolve().parents[1] / "baselines" / "sample_probe_gt.json"


def test_baseline_is_a_probe_gt_sample_report():
    report = json.loads(BASELINE.read_text(encoding="utf-8"))
    assert report["format"] == "dpbench-report/1"
    (run,) = report["runs"]
    assert run["model"]["name"] == "probe:gt" and run["suite"] == "sample" and run["status"] == "complete"
    assert run["results"]["sintel"]["delta1"] == 1.0


def test_fresh_probe_gt_sample_run_passes_the_check(tmp_path, monkeypatch):
    from dpbench.sample import generate_sample_suite

    monkeypatch.chdir(tmp_path)
    generate_sample_suite(tmp_path / "data" / "sample", scale=0.5)  # small images: same ids, same protocol
    runner = CliRunner()
    done = runner.invoke(cli, ["run", "--suite", "sample", "-m", "probe:gt", "--run-id", "gt", "--data-root",
                               "data", "--no-progress"])
    assert done.exit_code == 0, done.output
    checked = runner.invoke(cli, ["check", "runs/gt", "--against", str(BASELINE)])
    assert checked.exit_code == 0, checked.output
    last = checked.output.strip().splitlines()[-1]
    assert re.fullmatch(r"PASS: \d+ comparisons within tolerance", last) and int(last.split()[1]) > 40
    assert "REGRESSED" not in checked.output
