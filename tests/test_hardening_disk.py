"""Full disks and read-only output folders: one line, exit 2, the run left resumable."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import _runner_fakes as fakes  # noqa: E402  (registers fake-* datasets and the fake:* models)

from dpbench import store as store_module  # noqa: E402
from dpbench.cli import cli  # noqa: E402
from dpbench.store import RunStore  # noqa: E402


@pytest.fixture
def suite(tmp_path):
    return fakes.build_fake_suite(tmp_path / "data", 6, 2, 2)


def _cli_run(suite, out, *extra):
    args = ["run", "--model", "fake:gt", "--suite", str(suite), "--out", str(out), "--run-id", "r",
            "--workers", "1", "--no-progress", *extra]
    return CliRunner().invoke(cli, args)


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if c.startswith("seconds_")]).reset_index(drop=True)


def _fail_after(calls: int, original):
    """A stand-in for ``original`` that works ``calls`` times, then fails like a full disk."""
    count = [0]

    def failing(*args, **kwargs):
        count[0] += 1
        if count[0] > calls:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(*args, **kwargs)
    return failing


def _assert_one_line_exit_2(result, folder: Path, cause: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: cannot write to {folder}: {cause}"], result.output
    assert "Traceback" not in result.output


def _assert_resumable(tmp_path, suite, out: Path, extra=()) -> None:
    store = RunStore(out / "r")
    assert store.manifest["status"] == "interrupted" and store.status == "interrupted"
    assert "No space left on device" in store.manifest["failure"]
    assert not (store.path / "run.lock").exists()
    resumed = _cli_run(suite, out, *extra)
    assert resumed.exit_code == 0, resumed.output
    assert "resuming" in resumed.output
    reference = _cli_run(suite, tmp_path / "reference", *extra)
    assert reference.exit_code == 0, reference.output
    pd.testing.assert_frame_equal(_comparable(RunStore(out / "r").rows()),
                                  _comparable(RunStore(tmp_path / "reference" / "r").rows()))
    RunStore(out / "r").validate()


def test_disk_full_while_journaling_rows(tmp_path, suite, monkeypatch):
    out = tmp_path / "runs"
    monkeypatch.setattr(store_module.RowFile, "append", _fail_after(3, store_module.RowFile.append))
    result = _cli_run(suite, out)
    _assert_one_line_exit_2(result, out / "r", "No space left on device")
    assert len(RunStore(out / "r").rows()) > 0  # what was written before is kept
    monkeypatch.undo()
    _assert_resumable(tmp_path, suite, out)


def test_disk_full_while_caching_predictions(tmp_path, suite, monkeypatch):
    out = tmp_path / "runs"
    monkeypatch.setattr(store_module, "write_prediction_part", _fail_after(2, store_module.write_prediction_part))
    result = _cli_run(suite, out, "--save-predictions")
    _assert_one_line_exit_2(result, out / "r", "No space left on device")
    assert not list((out / "r").rglob("*.tmp"))
    monkeypatch.undo()
    _assert_resumable(tmp_path, suite, out, ["--save-predictions"])
    assert RunStore(out / "r").prediction_keys() == RunStore(tmp_path / "reference" / "r").prediction_keys()


def test_no_room_to_merge_predictions_stops_before_hdf5_writes(tmp_path, suite, monkeypatch):
    out = tmp_path / "runs"
    usage = store_module.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(store_module.shutil, "disk_usage", lambda path: usage._replace(free=1000))
    result = _cli_run(suite, out, "--save-predictions")
    assert result.exit_code == 2, result.output
    assert f"error: cannot write to {out / 'r'}: No space left on device for merging" in result.output
    assert not (out / "r" / "predictions.h5").exists() and any((out / "r" / "predictions.parts").iterdir())
    monkeypatch.undo()
    _assert_resumable(tmp_path, suite, out, ["--save-predictions"])


def test_a_write_failing_while_the_manifest_is_updated(tmp_path, suite, monkeypatch):
    """The manifest itself cannot be written: still one line, and the run reads as interrupted."""
    out = tmp_path / "runs"
    append, write_json = store_module.RowFile.append, store_module.atomic_write_json
    full = [False]

    def append_until_full(self, records):
        if self.journal_rows >= 4:
            full[0] = True
        if full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return append(self, records)

    def write_json_unless_full(path, obj):
        if full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_json(path, obj)

    monkeypatch.setattr(store_module.RowFile, "append", append_until_full)
    monkeypatch.setattr(store_module, "atomic_write_json", write_json_unless_full)
    result = _cli_run(suite, out)
    _assert_one_line_exit_2(result, out / "r", "No space left on device")
    store = RunStore(out / "r")
    assert store.manifest["status"] == "running" and store.status == "interrupted"


def test_read_only_out_folder(tmp_path, suite, monkeypatch):
    out = tmp_path / "runs"
    out.mkdir()
    real_mkdir = pathlib.Path.mkdir

    def read_only_mkdir(self, *args, **kwargs):
        if str(self).startswith(str(out)) and self != out:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only_mkdir)
    result = _cli_run(suite, out)
    _assert_one_line_exit_2(result, out / "r", "Read-only file system")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mounting needs root")
def test_real_read_only_and_full_tmpfs(tmp_path, suite):
    """On a real read-only mount and a real 64 KiB tmpfs (root only; skipped when mount fails)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        _assert_one_line_exit_2(_cli_run(suite, mount), mount / "r", "Read-only file system")
        subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
        result = _cli_run(suite, mount, "--save-predictions")
        assert result.exit_code == 2, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "No space left on device" in errors[0], result.output
        manifest = json.loads((mount / "r" / "manifest.json").read_text())
        assert manifest["status"] in ("interrupted", "running")
        assert RunStore(mount / "r").status == "interrupted"
    finally:
        subprocess.run(["umount", str(mount)], check=False)
