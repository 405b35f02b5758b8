"""One run id, one writer: the run lock under real concurrent processes, stale locks, umask."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dpbench import store as store_module
from dpbench.runner.config import RunConfig
from dpbench.runner.dist import DistContext
from dpbench.runner.resume import open_store
from dpbench.store import RunStore, StoreError, process_start_time

REPETITIONS = 24


def _manifest(run_id: str) -> dict:
    return {"run_id": run_id, "status": "running", "created": "2026-01-01T00:00:00Z", "finished": None,
            "model": {"name": "m", "output_kind": "metric_depth"}, "suite": "s", "protocol": {},
            "datasets": [], "environment": {}, "fingerprint": "f"}


def _start(runs_dir: str, run_id: str, start, attempted, results) -> None:
    """One contender: wait for the other, open the run as ``dpbench run`` does, report, and keep
    the lock (if won) until the other has tried too."""
    config = RunConfig(out=runs_dir, run_id=run_id, resume=True)
    manifest = _manifest(run_id)
    start.wait()
    try:
        open_store(config, DistContext(), "f", manifest, manifest["model"], "s", {})
        outcome = "won"
    except StoreError as exc:
        outcome = "lost: " + str(exc)
    except BaseException as exc:  # anything else is a failure of the test
        outcome = f"crashed: {type(exc).__name__}: {exc}"
    results.put(outcome)
    attempted.wait()


def test_two_processes_starting_the_same_run_id_at_once_one_wins(tmp_path):
    context = multiprocessing.get_context("fork")
    for repetition in range(REPETITIONS):
        start, attempted = context.Barrier(2), context.Barrier(2)
        results = context.Queue()
        run_id = f"race-{repetition}"
        workers = [context.Process(target=_start, args=(str(tmp_path), run_id, start, attempted, results))
                   for _ in range(2)]
        for worker in workers:
            worker.start()
        outcomes = sorted(results.get(timeout=60) for _ in workers)
        for worker in workers:
            worker.join(timeout=60)
        assert outcomes[1] == "won", outcomes
        assert outcomes[0].startswith("lost: "), outcomes
        assert "\n" not in outcomes[0]
        assert ("being written by" in outcomes[0] or "already exists" in outcomes[0]), outcomes
        # the winner is gone: its lock went with it and the run can be resumed
        assert not RunStore(tmp_path / run_id).is_locked()


def test_lock_is_held_for_the_run_and_released(tmp_path):
    store = RunStore.create(tmp_path / "r", _manifest("r"), lock=True)
    owner = store.lock_owner()
    assert owner == {"host": socket.gethostname(), "pid": os.getpid(),
                     "process_start": process_start_time(os.getpid())}
    assert store.status == "running"
    store.acquire_lock()  # again in the same process: nothing happens
    store.release_lock()
    assert not (store.path / "run.lock").exists()
    assert store.status == "interrupted"


def test_a_live_holder_in_another_process_is_refused_with_one_line(tmp_path):
    RunStore.create(tmp_path / "r", _manifest("r"))
    script = textwrap.dedent(f"""
        import sys, time
        from dpbench.store import RunStore
        RunStore({str(tmp_path / "r")!r}).acquire_lock()
        print("locked", flush=True)
        sys.stdin.readline()
    """)
    source = str(Path(store_module.__file__).parents[1])  # this checkout's dpbench, not an installed one
    holder = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": source})
    try:
        assert holder.stdout.readline().strip() == "locked"
        store = RunStore(tmp_path / "r")
        assert store.is_locked() and store.status == "running"
        with pytest.raises(StoreError) as info:
            store.acquire_lock()
        assert str(info.value) == (f"run r is being written by process {holder.pid} on "
                                   f"{socket.gethostname()}; wait for it or stop it first")
    finally:
        holder.communicate("\n", timeout=30)
    # the holder exited without releasing: the kernel dropped the lock, the file it left is stale
    assert (tmp_path / "r" / "run.lock").exists()
    store = RunStore(tmp_path / "r")
    assert not store.is_locked() and store.status == "interrupted"
    store.acquire_lock()
    assert store.lock_owner()["pid"] == os.getpid()
    store.release_lock()


def test_a_lock_file_naming_a_live_pid_is_stale_without_the_kernel_lock(tmp_path):
    """A PID recycled by another program (here: our parent, alive but not a dpbench writer)
    does not keep the run locked: only a held lock does."""
    store = RunStore.create(tmp_path / "r", _manifest("r"))
    (store.path / "run.lock").write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(),
                                                     "process_start": "1"}))
    assert not store.is_locked()
    store.acquire_lock()
    store.release_lock()


def test_without_flock_the_recorded_start_time_decides(tmp_path, monkeypatch):
    """On a file system without locks the record decides: same PID but another start time is a
    recycled PID (stale); the same PID and start time is a live writer."""
    store = RunStore.create(tmp_path / "r", _manifest("r"))

    def no_flock(fd, operation):
        raise OSError(store_module.errno.ENOLCK, "No locks available")

    monkeypatch.setattr(store_module.fcntl, "flock", no_flock)
    parent = os.getppid()
    lock = store.path / "run.lock"
    lock.write_text(json.dumps({"pid": parent, "host": socket.gethostname(), "process_start": "1"}))
    assert not store.is_locked()
    lock.write_text(json.dumps({"pid": parent, "host": socket.gethostname(),
                                "process_start": process_start_time(parent)}))
    assert store.is_locked()
    with pytest.raises(StoreError, match=f"being written by process {parent} "):
        store.acquire_lock()


def test_process_start_time_reads_proc_stat():
    fields = open(f"/proc/{os.getpid()}/stat").read().rsplit(")", 1)[1].split()
    assert process_start_time(os.getpid()) == fields[19]
    assert process_start_time(2**22 + 12345) is None


def test_run_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        store = RunStore.create(tmp_path / "r", _manifest("r"))
        store.append_rows([{"dataset": "d", "sample_id": "x", "task": "metric_depth", "status": "ok",
                            "error": ""}])
        store.consolidate()
        store.write_prediction("d", "x", __import__("numpy").ones((2, 2)), {})
        store.merge_predictions()
        os.umask(0o027)
        store.update_manifest(status="complete")
    finally:
        os.umask(old)
    assert (store.samples_path.stat().st_mode & 0o777) == 0o644
    assert (store.predictions_path.stat().st_mode & 0o777) == 0o644
    assert ((store.path / "manifest.json").stat().st_mode & 0o777) == 0o640
