"""The run store: manifest, journaled rows, cached predictions, corruption detection and repair."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pandas as pd
import pytest

from dpbench import store as store_module
from dpbench.store import (
    FORMAT,
    RowFile,
    RunStore,
    StoreError,
    h5_key,
    h5_name,
    list_runs,
    rows_to_frame,
    sort_rows,
    unescape_h5_name,
)

WEIRD_IDS = ["plain", "a/b/c", "NA", "nan", "", "100%/x", ".hidden", "caf\u00e9 #1", "0001"]


def _manifest(run_id="r", created="2026-01-01T00:00:00Z", **extra):
    return {"run_id": run_id, "status": "running", "created": created, "finished": None,
            "model": {"name": "m", "output_kind": "metric_depth"}, "suite": "s", "protocol": {},
            "datasets": [], "environment": {}, **extra}


def _row(dataset="d", sample_id="x", task="metric_depth", **values):
    return {"dataset": dataset, "sample_id": sample_id, "task": task, "status": "ok", "error": "", **values}


@pytest.fixture(params=["parquet", "csv"])
def kind(request, monkeypatch):
    if request.param == "csv":
        monkeypatch.setattr(store_module, "have_pyarrow", lambda: False)
    return request.param


def test_create_writes_manifest_and_refuses_existing(tmp_path):
    store = RunStore.create(tmp_path / "r1", _manifest("r1"))
    on_disk = json.loads((tmp_path / "r1" / "manifest.json").read_text())
    assert on_disk["format"] == FORMAT and on_disk["run_id"] == "r1"
    assert store.run_id == "r1" and store.manifest["status"] == "running"
    with pytest.raises(StoreError, match="already exists"):
        RunStore.create(tmp_path / "r1", _manifest("r1"))
    store.update_manifest(status="complete", score=float("nan"))
    assert RunStore(tmp_path / "r1").manifest["status"] == "complete"
    assert RunStore(tmp_path / "r1").manifest["score"] is None  # strict JSON: NaN -> null


def test_not_a_run(tmp_path):
    with pytest.raises(StoreError, match="no such run"):
        RunStore(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no manifest.json"):
        RunStore(tmp_path / "empty")


def test_rows_round_trip_with_awkward_ids(tmp_path, kind):
    store = RunStore.create(tmp_path / "r", _manifest())
    rows = [_row(sample_id=sid, sample_index=i, delta1=i / 10, n_valid=5) for i, sid in enumerate(WEIRD_IDS)]
    rows.append({**_row(sample_id="z", task="focal"), "focal_pred": 1.0 / 3.0, "focal_source": "gt"})
    store.append_rows(rows[:4])
    store.append_rows(rows[4:])
    journal_only = store.rows()
    store.consolidate()
    assert not store.row_file.journal_path.exists()
    assert store.samples_path.name == f"samples.{kind}"
    for frame in (journal_only, RunStore(store.path).rows()):
        assert list(frame["sample_id"]) == WEIRD_IDS + ["z"]
        assert frame["delta1"].iloc[3] == pytest.approx(0.3, abs=0)
        assert frame["focal_pred"].iloc[-1] == 1.0 / 3.0  # exact float round trip
        assert np.isnan(frame["delta1"].iloc[-1])
        assert frame["focal_source"].iloc[-1] == "gt" and frame["focal_source"].iloc[0] == ""
        assert frame["error"].tolist() == [""] * len(frame)
        assert frame["n_valid"].dtype == np.float64
        assert list(frame.columns[:10]) == list(store_module.BASE_COLUMNS)


def test_journal_rows_and_table_rows_are_merged_without_duplicates(tmp_path):
    """Identical copies of a row (a kill between rewriting the table and deleting the journal)
    are one row; differing copies are refused (tests/test_hardening_rows.py)."""
    store = RunStore.create(tmp_path / "r", _manifest())
    store.append_rows([_row(sample_id="a", delta1=1.0)])
    store.consolidate()
    store.append_rows([_row(sample_id="a", delta1=1.0), _row(sample_id="b", delta1=0.5)])
    frame = store.rows()
    assert frame["sample_id"].tolist() == ["a", "b"]
    assert frame["delta1"].tolist() == [1.0, 0.5]
    assert store.done_keys() == {("d", "a", "metric_depth"), ("d", "b", "metric_depth")}


def test_sort_rows_is_canonical():
    frame = rows_to_frame([
        _row("b", "x", "metric_depth", sample_index=0),
        _row("a", "y", "boundary_depth", sample_index=1),
        _row("a", "y", "metric_depth", sample_index=1),
        _row("a", "z", "metric_depth", sample_index=0),
    ])
    ordered = sort_rows(frame, ["a", "b"], ["metric_depth", "boundary_depth"])
    assert list(zip(ordered["dataset"], ordered["sample_id"], ordered["task"], strict=True)) == [
        ("a", "z", "metric_depth"), ("a", "y", "metric_depth"), ("a", "y", "boundary_depth"),
        ("b", "x", "metric_depth")]


def test_trailing_partial_journal_line_is_ignored_detected_and_repaired(tmp_path):
    store = RunStore.create(tmp_path / "r", _manifest())
    store.append_rows([_row(sample_id="a"), _row(sample_id="b")])
    store.close()
    with store.row_file.journal_path.open("ab") as handle:
        handle.write(b'{"dataset": "d", "sample_id": "c", "ta')  # killed mid-write
    assert store.rows()["sample_id"].tolist() == ["a", "b"]
    with pytest.raises(StoreError, match="incomplete"):
        store.validate()
    actions = store.repair()
    assert any("incomplete last line" in a for a in actions)
    store.validate()
    assert store.rows()["sample_id"].tolist() == ["a", "b"]
    # appending after a kill also starts on a clean line
    with store.row_file.journal_path.open("ab") as handle:
        handle.write(b'{"dataset": "d"')
    fresh = RunStore(store.path)
    fresh.append_rows([_row(sample_id="c")])
    assert fresh.rows()["sample_id"].tolist() == ["a", "b", "c"]


def test_corrupt_journal_line_in_the_middle_is_refused(tmp_path):
    store = RunStore.create(tmp_path / "r", _manifest())
    store.row_file.journal_path.write_text('{"dataset": "d", "sample_id": "a", "task": "t", "status": "ok"}\n'
                                           "garbage\n"
                                           '{"dataset": "d", "sample_id": "b", "task": "t", "status": "ok"}\n')
    with pytest.raises(StoreError, match="line 2 is not valid JSON"):
        store.rows()
    with pytest.raises(StoreError, match="corrupt"):
        store.validate()
    actions = store.repair()
    assert any("corrupt journal" in a for a in actions)
    assert (store.path / "samples.journal.jsonl.corrupt").exists()
    assert store.rows().empty


def test_truncated_parquet_is_detected_and_set_aside(tmp_path):
    store = RunStore.create(tmp_path / "r", _manifest())
    store.append_rows([_row(sample_id=str(i)) for i in range(20)])
    store.consolidate()
    data = store.samples_path.read_bytes()
    store.samples_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match="unreadable"):
        store.rows()
    with pytest.raises(StoreError, match="unreadable"):
        store.validate()
    actions = store.repair()
    assert any("set aside unreadable samples.parquet" in a for a in actions)
    assert (store.path / "samples.parquet.corrupt").exists()
    assert store.rows().empty
    store.validate()


def test_half_written_csv_is_repaired_from_hand_built_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "have_pyarrow", lambda: False)
    store = RunStore.create(tmp_path / "r", _manifest())
    header = ",".join(store_module.BASE_COLUMNS) + ",delta1\n"
    good = "d,a,metric_depth,ok,,0,,,,,0.5\nd,b,metric_depth,ok,,1,,,,,0.25\n"
    (store.path / "samples.csv").write_text(header + good + "d,c,metric_dep")
    store = RunStore(store.path)
    assert store.samples_path.name == "samples.csv"
    with pytest.raises(StoreError, match="incomplete"):
        store.validate()
    store.repair()
    store.validate()
    frame = store.rows()
    assert frame["sample_id"].tolist() == ["a", "b"] and frame["delta1"].tolist() == [0.5, 0.25]


def test_duplicate_keys_and_bad_statuses_in_the_table(tmp_path):
    store = RunStore.create(tmp_path / "r", _manifest())
    frame = rows_to_frame([_row(sample_id="a"), _row(sample_id="a"), {**_row(sample_id="b"), "status": "weird"}])
    store.row_file.write_table(frame)
    problems = " ".join(store.problems())
    assert "duplicate row key" in problems and "row 3 (d, b, metric_depth): unknown status 'weird'" in problems
    store.repair()
    assert store.problems() == []
    assert store.rows()["sample_id"].tolist() == ["a"]


def test_manifest_problems(tmp_path):
    store = RunStore.create(tmp_path / "r", _manifest())
    (store.path / "manifest.json").write_text('{"run_id": "r", "format": "other/9", "status": "odd"}')
    text = " ".join(store.problems())
    assert "missing key(s)" in text and "unknown format" in text and "unknown status" in text
    (store.path / "manifest.json").write_text('{"run_id": "r", "sta')
    with pytest.raises(StoreError, match="unreadable manifest"):
        RunStore(store.path).manifest  # noqa: B018
    with pytest.raises(StoreError):
        RunStore(store.path).repair()


def test_leftover_temporary_files_are_reported_and_removed(tmp_path):
    store = RunStore.create(tmp_path / "r", _manifest())
    (store.path / ".samples.parquet.abc.tmp").write_bytes(b"half")
    assert any("leftover temporary" in p for p in store.problems())
    store.repair()
    assert not list(store.path.glob(".*.tmp"))


def test_list_runs_sorted_and_skipping_broken(tmp_path):
    RunStore.create(tmp_path / "late", _manifest("late", created="2026-02-01T00:00:00Z"))
    RunStore.create(tmp_path / "early", _manifest("early", created="2026-01-01T00:00:00Z"))
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{")
    assert [s.run_id for s in list_runs(tmp_path)] == ["early", "late"]
    assert list_runs(tmp_path / "absent") == []


def test_h5_names_escape_and_unescape():
    assert h5_name("a/b") == "a%2Fb"
    assert h5_name("100%") == "100%25"
    assert h5_name(".x") == "%2Ex"
    assert h5_key("sintel", "alley_1/frame_0001") == "/sintel/alley_1%2Fframe_0001"
    for text in WEIRD_IDS[:4] + WEIRD_IDS[5:]:
        assert unescape_h5_name(h5_name(text)) == text
        assert "/" not in h5_name(text)


def test_predictions_parts_merge_and_read(tmp_path, rng):
    store = RunStore.create(tmp_path / "r", _manifest(save_predictions=True))
    depth = rng.uniform(0.5, 80.0, size=(30, 40)).astype(np.float32)
    store.write_prediction("sintel", "alley_1/frame_0001", depth, {"focal_px": 500.0, "output_kind": "metric_depth"})
    store.write_prediction("sintel", ".odd 100%", depth * 2, {"focal_px": None, "output_kind": "metric_depth"})
    got, attrs = store.read_prediction("sintel", "alley_1/frame_0001")  # from its part file
    np.testing.assert_allclose(got, depth, rtol=2 ** -10)
    assert got.dtype == np.float32 and attrs["focal_px"] == 500.0 and attrs["output_kind"] == "metric_depth"
    assert store.merge_predictions() == 2
    assert not store.parts_folder.exists()
    with h5py.File(store.predictions_path, "r") as handle:
        ds = handle["/sintel/alley_1%2Fframe_0001"]
        assert ds.dtype == np.float16 and ds.compression == "gzip" and ds.shape == (30, 40)
        assert "%2Eodd 100%25" in handle["sintel"]
    got, attrs = store.read_prediction("sintel", ".odd 100%")
    np.testing.assert_allclose(got, depth * 2, rtol=2 ** -10)
    assert np.isnan(attrs["focal_px"])
    assert store.prediction_keys() == {("sintel", "alley_1/frame_0001"), ("sintel", ".odd 100%")}
    # a later part replaces the merged entry
    store.write_prediction("sintel", ".odd 100%", depth, {"focal_px": 1.0, "output_kind": "metric_depth"})
    store.merge_predictions()
    np.testing.assert_allclose(store.read_prediction("sintel", ".odd 100%")[0], depth, rtol=2 ** -10)
    with pytest.raises(KeyError):
        store.read_prediction("sintel", "absent")


def test_float16_cache_clips_instead_of_overflowing(tmp_path):
    store = RunStore.create(tmp_path / "r", _manifest())
    store.write_prediction("d", "x", np.array([[1e6, 2.0]], np.float32), {})
    got, _ = store.read_prediction("d", "x")
    assert np.isfinite(got).all() and got[0, 0] == np.float16(65504.0)


def test_corrupt_predictions_file_is_set_aside_and_rows_dropped(tmp_path):
    store = RunStore.create(tmp_path / "r", _manifest(save_predictions=True))
    store.append_rows([_row(sample_id="a"), _row(sample_id="b"), {**_row(sample_id="c"), "status": "error"}])
    store.write_prediction("d", "a", np.ones((2, 2)), {})
    store.merge_predictions()
    store.write_prediction("d", "b", np.ones((2, 2)), {})
    store.validate()
    store.predictions_path.write_bytes(b"not hdf5 at all")
    with pytest.raises(StoreError, match="unreadable"):
        store.validate()
    actions = store.repair()
    assert any("set aside unreadable predictions.h5" in a for a in actions)
    assert any("dropped 1 row" in a for a in actions)
    assert store.rows()["sample_id"].tolist() == ["b", "c"]  # "a" lost its prediction; errors stay
    store.validate()


def test_rows_of_a_run_without_its_prediction_are_flagged(tmp_path):
    store = RunStore.create(tmp_path / "r", _manifest(save_predictions=True))
    store.append_rows([_row(sample_id="a")])
    assert any("no cached prediction" in p for p in store.problems())


def test_repair_marks_a_running_run_without_a_lock_holder_interrupted(tmp_path):
    """A 'running' run whose lock no process holds was killed (lock semantics and concurrent
    writers: tests/test_hardening_lock.py)."""
    store = RunStore.create(tmp_path / "r", _manifest())
    assert store.status == "interrupted"  # 'running' without a live writer
    (store.path / "run.lock").write_text(json.dumps({"pid": os.getppid(), "host": "h"}))  # left by a kill
    assert store.lock_owner() is None
    store.repair()
    assert store.manifest["status"] == "interrupted"


def test_shard_rows_are_part_of_the_run(tmp_path):
    store = RunStore.create(tmp_path / "r", _manifest())
    store.append_rows([_row(sample_id="a")])
    RowFile(store.path / "shards" / "rank-1").append([_row(sample_id="b")])
    assert sorted(store.rows()["sample_id"]) == ["a", "b"]
    assert isinstance(store.rows(), pd.DataFrame)
