"""The journal is data, not trust: rows read back are validated, repaired or refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _runner_fakes as fakes  # noqa: E402  (registers fake-* datasets and the fake:* models)

from dpbench import store as store_module  # noqa: E402
from dpbench.runner import RunConfig, run  # noqa: E402
from dpbench.store import JOURNAL, RunStore, StoreError  # noqa: E402


def _manifest() -> dict:
    return {"run_id": "r", "status": "running", "created": "2026-01-01T00:00:00Z", "finished": None,
            "model": {"name": "m", "output_kind": "metric_depth"}, "suite": "s", "protocol": {},
            "datasets": [], "environment": {}}


def _row(sample_id: str, **values) -> dict:
    return {"dataset": "d", "sample_id": sample_id, "task": "metric_depth", "status": "ok", "error": "",
            "delta1": 0.5, **values}


@pytest.fixture(params=["parquet", "csv"])
def kind(request, monkeypatch):
    if request.param == "csv":
        monkeypatch.setattr(store_module, "have_pyarrow", lambda: False)
    return request.param


def _tamper_journal(store: RunStore, *rows: dict) -> None:
    with (store.path / JOURNAL).open("a") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


JOURNAL_CASES = [
    ("string metric", _row("x", delta1="0.99"), "line 2 (d, x, metric_depth): delta1 is '0.99', not a number"),
    ("boolean metric", _row("x", abs_rel=True), "abs_rel is True, not a number"),
    ("list metric", _row("x", delta1=[1]), "delta1 is [1], not a number"),
    ("unknown status", _row("x", status="OK"), "line 2 (d, x, metric_depth): unknown status 'OK'"),
    ("key not text", {**_row("x"), "sample_id": 7}, "sample_id is 7, not text"),
    ("conflicting copy", _row("a", delta1=1.0), "key (d, a, metric_depth) has differing rows"),
]


@pytest.mark.parametrize("case, bad, message", JOURNAL_CASES, ids=[c[0] for c in JOURNAL_CASES])
def test_untrusted_journal_rows_are_refused_then_repaired(tmp_path, kind, case, bad, message):
    store = RunStore.create(tmp_path / "r", _manifest())
    store.append_rows([_row("a")])
    store.close()
    _tamper_journal(store, bad)
    with pytest.raises(StoreError) as info:
        store.rows()
    text = str(info.value)
    assert "\n" not in text and message in text and "RunStore.repair()" in text
    assert any(message in p for p in store.problems())
    actions = store.repair()
    assert any("cannot be trusted" in a for a in actions)
    rows = store.rows()
    # the tampered row never reaches the table; a conflicting key loses both copies (run again)
    expected = [] if case == "conflicting copy" else ["a"]
    assert rows["sample_id"].tolist() == expected
    assert store.problems() == []


def test_an_identical_copy_is_not_a_conflict(tmp_path, kind):
    store = RunStore.create(tmp_path / "r", _manifest())
    store.append_rows([_row("a")])
    store.consolidate()
    _tamper_journal(store, _row("a"))  # what a kill between table rewrite and journal deletion leaves
    assert store.rows()["sample_id"].tolist() == ["a"] and store.problems() == []


def test_untrusted_table_rows_are_refused(tmp_path, kind):
    store = RunStore.create(tmp_path / "r", _manifest())
    store.append_rows([_row("a"), _row("b"), _row("c")])
    store.consolidate()
    path = store.samples_path
    if kind == "parquet":
        frame = pd.read_parquet(path)
        frame["delta1"] = frame["delta1"].astype(str)  # "0.5": numbers as text are still numbers
        frame.loc[1, "delta1"] = "high"
        frame.loc[2, "status"] = "fine"
        frame.to_parquet(path, index=False)
    else:
        text = path.read_text().splitlines()
        header = text[0].split(",")
        cells = text[2].split(",")
        cells[header.index("delta1")] = "high"
        text[2] = ",".join(cells)
        text[3] = text[3].replace(",ok,", ",fine,")
        path.write_text("\n".join(text) + "\n")
    with pytest.raises(StoreError, match=r"row 2 \(d, b, metric_depth\): delta1 is 'high', not a number "
                                         r"\(and 1 more\)"):
        store.rows()
    store.repair()
    assert store.rows()["sample_id"].tolist() == ["a"]


def test_resume_drops_tampered_and_foreign_rows_and_runs_those_samples_again(tmp_path):
    suite = fakes.build_fake_suite(tmp_path / "data", 4, 2, 2)
    config = dict(model="fake:gt", suite=str(suite), out=tmp_path / "runs", run_id="r", progress=False,
                  workers=1)
    said: list[str] = []
    first = run(RunConfig(**config), say=said.append)
    reference = first.store.rows()
    ids = sorted(set(reference.loc[reference["dataset"] == "fake-depth", "sample_id"]))
    # tamper: a conflicting copy of a finished row, and a row for a sample the dataset lacks
    row = reference[(reference["dataset"] == "fake-depth") & (reference["task"] == "metric_depth")].iloc[0]
    forged = {k: (None if pd.isna(v) else v) for k, v in row.to_dict().items()}
    _tamper_journal(first.store, {**forged, "delta1": 0.0},
                    {**forged, "sample_id": "no/such/sample", "delta1": 1.0})
    first.store.update_manifest(status="interrupted")
    resumed = run(RunConfig(**config), say=said.append)
    assert resumed.resumed and resumed.status == "complete"
    rows = resumed.store.rows()
    assert "no/such/sample" not in set(rows["sample_id"])
    assert any("dropped 1 row(s) of the run for samples not in the dataset" in s for s in said)
    redone = rows[(rows["dataset"] == row["dataset"]) & (rows["sample_id"] == row["sample_id"])
                  & (rows["task"] == "metric_depth")]
    assert redone["delta1"].tolist() == [1.0]  # predicted again by the exact model, not the forged 0.0
    assert sorted(set(rows.loc[rows["dataset"] == "fake-depth", "sample_id"])) == ids
    assert len(rows) == len(reference)
