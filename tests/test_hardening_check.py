"""`dpbench check` on hostile baselines: every unusable baseline is exit 2 with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import standard_run

from dpbench.check import EXIT_PASS, EXIT_UNUSABLE, CheckError, check_run
from dpbench.cli import cli
from dpbench.report import build_report, render_report


@pytest.fixture(scope="module")
def run_and_document(tmp_path_factory):
    folder = tmp_path_factory.mktemp("check")
    run = standard_run(folder / "runs", "base", model="m", rng=np.random.default_rng(0), scale=1.1)
    return run, render_report(build_report([run]), "json")


def _set(path: tuple, value):
    def edit(document: dict) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


#: Replaced in the written text by 100,000 nested lists (json.dumps itself cannot write them).
DEEP = "@@deeply nested@@"
R = ("runs", 0, "results", "middlebury")

# (case, edit of the parsed document or raw text, words the one-line message must hold)
CASES = [
    ("nan metric", _set((*R, "delta1"), float("nan")), ["middlebury", "delta1", "nan", "finite"]),
    ("infinite metric", _set((*R, "abs_rel"), float("inf")), ["middlebury", "abs_rel", "inf", "finite"]),
    ("negative infinity", _set((*R, "rmse"), float("-inf")), ["rmse", "-inf"]),
    ("string metric", _set((*R, "delta1"), "0.9"), ["delta1", "'0.9'", "not a number"]),
    ("boolean metric", _set((*R, "delta1"), True), ["delta1", "True", "not a number"]),
    ("list metric", _set((*R, "delta1"), [0.9]), ["delta1", "not a number"]),
    ("dataset entry a list", _set(R, [1, 2]), ["middlebury", "list", "not a table"]),
    ("dataset entry a number", _set(R, 0.5), ["middlebury", "float", "not a table"]),
    ("unknown metric", _set((*R, "delta_one"), 0.9), ["unknown metric 'delta_one'"]),
    ("count not an integer", _set((*R, "num_samples"), "3"), ["num_samples", "not a count"]),
    ("protocol a list", _set(("runs", 0, "protocol"), []), ["'protocol'", "not a table"]),
    ("dataset facts a string", _set(("runs", 0, "datasets", "middlebury"), "x"), ["datasets.middlebury"]),
    ("results a list", _set(("runs", 0, "results"), []), ["no 'results' table"]),
    ("deeply nested JSON", _set((*R, "delta1"), DEEP), ["nested too deeply"]),
]


@pytest.mark.parametrize("case, edit, words", CASES, ids=[c[0] for c in CASES])
def test_unusable_baseline_is_exit_2_with_one_line(tmp_path, run_and_document, case, edit, words):
    run, text = run_and_document
    document = json.loads(text)
    edit(document)
    baseline = tmp_path / "baseline.json"
    text = json.dumps(document)  # Python writes NaN / Infinity as the usual JSON extensions
    baseline.write_text(text.replace(json.dumps(DEEP), "[" * 100_000 + "]" * 100_000))
    result = CliRunner().invoke(cli, ["check", str(run), "--against", str(baseline)])
    assert result.exit_code == EXIT_UNUSABLE, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert str(baseline) in lines[0]
    for word in words:
        assert word in lines[0], lines[0]


def test_the_unedited_baseline_passes(tmp_path, run_and_document):
    run, text = run_and_document
    baseline = tmp_path / "baseline.json"
    baseline.write_text(text)
    result = CliRunner().invoke(cli, ["check", str(run), "--against", str(baseline)])
    assert result.exit_code == EXIT_PASS, result.output


def test_a_null_metric_is_allowed_and_not_applicable(tmp_path, run_and_document):
    run, text = run_and_document
    document = json.loads(text)
    document["runs"][0]["results"]["middlebury"]["delta1"] = None
    result = check_run(run, document)
    assert result.exit_code == EXIT_PASS
    assert next(c for c in result.comparisons if c.metric == "delta1").verdict == "n/a"


def test_a_loaded_document_is_validated_too(run_and_document):
    run, text = run_and_document
    document = json.loads(text)
    document["runs"][0]["results"]["middlebury"]["delta1"] = float("nan")
    with pytest.raises(CheckError, match="delta1 is nan"):
        check_run(run, document)
