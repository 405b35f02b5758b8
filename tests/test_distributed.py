"""Sharded runs: two torchrun ranks (gloo, CPU) give the rows of a single-process run; leftover
shards of a killed sharded run are merged when it is resumed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _runner_fakes as fakes  # noqa: E402

from dpbench.runner import RunConfig, run  # noqa: E402
from dpbench.store import RowFile, RunStore  # noqa: E402

TESTS = Path(__file__).parent


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if c.startswith("seconds_")]).reset_index(drop=True)


def _single(tmp_path, suite, out, **options):
    return run(RunConfig(model="fake:gt", suite=str(suite), out=tmp_path / out, progress=False, workers=1,
                         **options), say=lambda m: None)


def test_two_gloo_ranks_equal_a_single_process_run(tmp_path):
    suite = fakes.build_fake_suite(tmp_path / "data", n_depth=7, n_mask=3, n_focal=4)  # uneven shards
    script = tmp_path / "sharded.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import _runner_fakes
        from dpbench.cli import main
        sys.argv = ["dpbench", "run", "--model", "fake:gt", "--suite", {str(suite)!r}, "--out",
                    {str(tmp_path / 'runs')!r}, "--run-id", "sharded", "--no-progress", "--workers", "1",
                    "--device", "cpu", "--save-predictions", "-o", {'log=' + str(tmp_path / 'calls-{rank}.txt')!r}]
        main()
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DPBENCH_DIST_BACKEND": "gloo"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--standalone", str(script)], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "run sharded (complete)" in proc.stdout  # printed once, by rank 0
    assert proc.stdout.count("run sharded (complete)") == 1

    # each rank predicted its own disjoint half of every dataset
    calls = [(tmp_path / f"calls-{rank}.txt").read_text().split() for rank in (0, 1)]
    assert len(calls[0]) == 4 + 2 + 2 and len(calls[1]) == 3 + 1 + 2

    store = RunStore(tmp_path / "runs" / "sharded")
    store.validate()
    manifest = store.manifest
    assert manifest["status"] == "complete" and manifest["environment"]["world_size"] == 2
    assert not (store.path / "shards").exists() and not store.parts_folder.exists()
    assert {d["name"]: d["status"] for d in manifest["datasets"]} == {
        "fake-depth": "complete", "fake-mask": "complete", "fake-focal": "complete"}

    single = _single(tmp_path, suite, "single", save_predictions=True,
                     model_options={"log": str(tmp_path / "calls-{rank}.txt")}).store
    pd.testing.assert_frame_equal(_comparable(store.rows()), _comparable(single.rows()))
    assert store.prediction_keys() == single.prediction_keys()


def test_leftover_shards_of_a_killed_sharded_run_are_merged_on_resume(tmp_path, monkeypatch):
    suite = fakes.build_fake_suite(tmp_path / "data")
    reference = _single(tmp_path, suite, "ref").store.rows()
    monkeypatch.setenv("DPBENCH_FAKE_FAULT", "interrupt@1")
    with pytest.raises(KeyboardInterrupt):
        _single(tmp_path, suite, "runs", run_id="killed")
    monkeypatch.delenv("DPBENCH_FAKE_FAULT")
    store = RunStore(tmp_path / "runs" / "killed")
    rows = store.rows()
    assert 0 < len(rows) < len(reference)
    # turn the rows into what two ranks would have left behind: even / odd sample positions
    for rank in (0, 1):
        RowFile(store.path / "shards" / f"rank-{rank}", kind=store.row_file.kind).consolidate(
            rows[rows["sample_index"] % 2 == rank].reset_index(drop=True))
    store.samples_path.unlink()
    store.update_manifest(status="running")
    assert len(store.rows()) == len(rows)  # shards are part of the run's rows

    resumed = _single(tmp_path, suite, "runs", run_id="killed")
    assert resumed.resumed and resumed.status == "complete"
    assert resumed.rows_written == len(reference) - len(rows)
    assert not (store.path / "shards").exists()
    pd.testing.assert_frame_equal(_comparable(resumed.store.rows()), _comparable(reference))
    shutil.rmtree(tmp_path / "data")
