"""The on-disk layout of a run: ``manifest.json``, per-sample rows, cached predictions.

A run lives in ``<runs_dir>/<run-id>/`` (see ``docs/ARCHITECTURE.md``):

- ``manifest.json``: what was run and how (model, suite, protocol, datasets, environment,
  status), always written atomically (temporary file + ``os.replace``);
- ``samples.parquet`` (or ``samples.csv`` without pyarrow): one row per (dataset, sample_id,
  task), always a complete table because it is only ever replaced atomically;
- ``samples.journal.jsonl``: rows written since the table was last rewritten, one JSON object a
  line, appended and flushed after every sample. Reading a run merges table and journal, so a
  killed process loses at most the samples it was working on; the journal is folded into the
  table every few hundred rows and when a run ends;
- ``predictions.h5`` (optional): one float16, gzip-compressed dataset per sample at
  ``/<dataset>/<sample_id>`` (both escaped, see :func:`h5_name`) with attributes such as
  ``focal_px`` and ``output_kind``. While a run is going, each prediction is first written to its
  own small file in ``predictions.parts/`` (atomically) and merged into ``predictions.h5`` at the
  end, so a kill can never leave a half-written HDF5 file behind;
- ``shards/rank-<r>/`` while a ``torchrun`` run is in progress (same row files, one per rank);
- ``run.lock`` while a process writes the run: one writer per run, see :func:`acquire_run_lock`.

Rows read back (table and journal) are data, not trust: a row with a non-numeric value, an
unknown status or a key that is not text, and every copy of a key whose copies differ, is
refused naming the file and the row; :meth:`RunStore.repair` (run by every resume) drops them
so that their samples are evaluated again. Files are created with the user's umask.

:class:`RunStore` is the only code that opens, writes, merges or deletes these files (rows, shards,
journals, cached predictions, the lock); other modules call its methods. :func:`list_runs` finds runs.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import importlib.util
import io
import json
import logging
import math
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from dpbench.errors import DpbenchError

log = logging.getLogger(__name__)

FORMAT = "dpbench-run/1"
MANIFEST = "manifest.json"
JOURNAL = "samples.journal.jsonl"
PREDICTIONS = "predictions.h5"
PREDICTION_PARTS = "predictions.parts"
SHARDS = "shards"
LOCK = "run.lock"

#: ``partial``: some dataset of the suite is missing or not fully scored; ``empty``: nothing scored.
RUN_STATUSES = ("running", "complete", "partial", "empty", "interrupted", "failed")
ROW_STATUSES = ("ok", "error")
KEY_COLUMNS = ("dataset", "sample_id", "task")
#: Columns holding text; every other column is a float64 number (NaN when missing).
TEXT_COLUMNS = ("dataset", "sample_id", "task", "status", "error", "focal_source", "model_variant")


def text_columns() -> frozenset[str]:
    """:data:`TEXT_COLUMNS` and the text columns the registered tasks declare."""
    from dpbench.tasks import list_tasks

    return frozenset(TEXT_COLUMNS).union(*(task.text_columns for task in list_tasks()))
#: Columns every row has, in this order, before the metric columns.
BASE_COLUMNS = (
    "dataset", "sample_id", "task", "status", "error", "sample_index",
    "seconds_load", "seconds_predict", "seconds_resize", "seconds_metrics",
)
REQUIRED_MANIFEST_KEYS = ("format", "run_id", "status", "created", "model", "suite", "protocol",
                          "datasets", "environment")
#: Largest finite float16: predictions are clipped to it before caching.
FLOAT16_MAX = float(np.finfo(np.float16).max)


class StoreError(DpbenchError):
    """A run folder is missing, corrupt or half-written; the message says what and where."""


def have_pyarrow() -> bool:
    """True when Parquet can be written (pyarrow importable)."""
    return importlib.util.find_spec("pyarrow") is not None


# -- small file helpers ----------------------------------------------------------------------

def _new_temp(folder: Path, prefix: str, suffix: str = ".tmp") -> tuple[int, str]:
    """Create a fresh temporary file in ``folder``; return its descriptor and path.

    Unlike ``tempfile.mkstemp`` (always mode 0600), the file is created with mode 0666 minus
    the user's umask, so that the run files renamed from it get the permissions the user's
    other files get (a shared results folder stays readable by the group).
    """
    for _ in range(100):
        name = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), name
        except FileExistsError:
            continue
    raise StoreError(f"{folder}: cannot create a temporary file (100 names taken)")


def atomic_write_bytes(path: Path, data: bytes, prefix: str | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    fd, tmp = _new_temp(path.parent, prefix=prefix or f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(Path(tmp))
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically; NaN/inf become null (strict JSON)."""
    text = json.dumps(_json_safe(obj), indent=2, sort_keys=False, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def h5_name(text: str) -> str:
    """Escape a dataset name or sample id into one HDF5 link name (``/`` and ``%`` encoded)."""
    escaped = quote(text, safe=" #()[]{}+,;=@!$&'-._~")
    return "%2E" + escaped[1:] if escaped.startswith(".") else escaped


def h5_key(dataset: str, sample_id: str) -> str:
    """The HDF5 path of a cached prediction: ``/<dataset>/<sample_id>``, both escaped."""
    return f"/{h5_name(dataset)}/{h5_name(sample_id)}"


def unescape_h5_name(name: str) -> str:
    """Inverse of :func:`h5_name`."""
    return unquote(name)


# -- rows -----------------------------------------------------------------------------------

def rows_to_frame(records: Sequence[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Normalise rows into the store's schema: text columns as str ("" when missing), others float64.

    Base columns come first (in :data:`BASE_COLUMNS` order), then the others in a fixed order
    (:func:`_column_key`), so that the layout never depends on which rows came first.
    """
    frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame.from_records(list(records))
    others = sorted((c for c in frame.columns if c not in BASE_COLUMNS), key=_column_key)
    columns = list(BASE_COLUMNS) + others
    n = len(frame)
    data: dict[str, np.ndarray] = {}
    for column in columns:
        text = column in text_columns()
        if column not in frame.columns:
            data[column] = np.full(n, "", dtype=object) if text else np.full(n, np.nan)
        elif text:
            data[column] = np.array([_text_cell(v) for v in frame[column].tolist()], dtype=object)
        else:
            values = frame[column]
            try:
                data[column] = values.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                data[column] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(data, columns=columns)


_PER_THRESHOLD = re.compile(r"(.+_t)(\d+)")


def _column_key(name: str) -> tuple:
    """Metric columns in task order (the task registry), then other columns by name, then
    per-threshold columns (``<stem>_t<i>``) by stem and threshold index."""
    from dpbench.tasks import all_metrics

    order = {metric: i for i, metric in enumerate(all_metrics())}
    if name in order:
        return (0, order[name], "", 0)
    match = _PER_THRESHOLD.fullmatch(name)
    if match:
        return (2, 0, match.group(1), int(match.group(2)))
    return (1, 0, name, 0)


def _text_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _dedupe(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per key, when the copies of a key are identical (a process killed between
    rewriting the table and deleting the journal leaves such copies). Conflicting copies are
    left for :func:`_conflicts` to report."""
    if frame.empty:
        return frame
    return frame.drop_duplicates(keep="first").reset_index(drop=True)


def _conflicts(frame: pd.DataFrame) -> pd.Series:
    """Rows whose key has copies that differ (after :func:`_dedupe`): a tampered or foreign row
    that no rule can tell from the true one."""
    if frame.empty:
        return pd.Series(np.zeros(0, dtype=bool), index=frame.index)
    return frame.duplicated(subset=list(KEY_COLUMNS), keep=False)


def _key_text(row: Mapping[str, Any]) -> str:
    return f"({row['dataset']}, {row['sample_id']}, {row['task']})"


def _journal_row_problem(row: Mapping[str, Any]) -> str | None:
    """Why a journal row read back cannot be trusted (None when it can): keys must be text,
    the status one of :data:`ROW_STATUSES`, every other non-text value a number or null."""
    for key in KEY_COLUMNS:
        if not isinstance(row.get(key), str):
            return f"{key} is {row.get(key)!r}, not text"
    if row.get("status") not in ROW_STATUSES:
        return f"unknown status {row.get('status')!r}"
    for column, value in row.items():
        if column in text_columns() or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{column} is {value!r}, not a number"
    return None


_NAN_TEXT = ("", "nan", "NaN")


def _table_row_problems(frame: pd.DataFrame) -> list[tuple[int, str]]:
    """(position, problem) of each table row that cannot be trusted, as read from disk (before
    the schema is applied, which would turn a non-numeric value into NaN unseen)."""
    found: dict[int, str] = {}
    status = frame["status"].astype(str)
    for position in np.flatnonzero(~status.isin(ROW_STATUSES).to_numpy()):
        found.setdefault(int(position), f"unknown status {frame['status'].iat[position]!r}")
    for column in frame.columns:
        if column in text_columns() or pd.api.types.is_numeric_dtype(frame[column].dtype):
            continue
        values = frame[column]
        numbers = pd.to_numeric(values, errors="coerce")
        blank = values.isna() | values.astype(str).isin(_NAN_TEXT)
        bad = (numbers.isna() & ~blank) | values.map(lambda v: isinstance(v, bool))
        for position in np.flatnonzero(bad.to_numpy()):
            found.setdefault(int(position), f"{column} is {values.iat[position]!r}, not a number")
    return sorted(found.items())


def sort_rows(frame: pd.DataFrame, dataset_order: Sequence[str] = (),
              task_order: Sequence[str] = ()) -> pd.DataFrame:
    """Rows in canonical order: datasets in ``dataset_order`` (others after, by name), then
    ``sample_index``, then ``sample_id``, then tasks in ``task_order``."""
    if frame.empty:
        return frame.reset_index(drop=True)
    rank_dataset = {name: i for i, name in enumerate(dataset_order)}
    rank_task = {name: i for i, name in enumerate(task_order)}
    keys = pd.DataFrame({
        "d": frame["dataset"].map(lambda n: rank_dataset.get(n, len(rank_dataset))),
        "dn": frame["dataset"],
        "i": frame["sample_index"].fillna(np.inf) if "sample_index" in frame else 0.0,
        "s": frame["sample_id"],
        "t": frame["task"].map(lambda n: rank_task.get(n, len(rank_task))),
        "tn": frame["task"],
    })
    order = keys.sort_values(["d", "dn", "i", "s", "t", "tn"], kind="stable").index
    return frame.loc[order].reset_index(drop=True)


class RowFile:
    """One table of rows plus its append-only journal (a run folder, or one rank's shard).

    ``append`` writes rows to the journal and flushes (cheap, survives a killed process);
    ``consolidate`` folds the journal into the table atomically. ``read`` merges both, ignoring
    a trailing partial journal line (the sample in flight when a process was killed).
    """

    def __init__(self, folder: Path, kind: str | None = None):
        self.folder = Path(folder)
        self.kind = kind or self._detect_kind()
        self._journal_handle = None
        self._journal_rows = 0

    def _detect_kind(self) -> str:
        if (self.folder / "samples.parquet").exists():
            return "parquet"
        if (self.folder / "samples.csv").exists():
            return "csv"
        return "parquet" if have_pyarrow() else "csv"

    @property
    def table_path(self) -> Path:
        return self.folder / f"samples.{self.kind}"

    @property
    def journal_path(self) -> Path:
        return self.folder / JOURNAL

    # reading ---------------------------------------------------------------------------
    def read_table(self) -> pd.DataFrame:
        """The consolidated table (empty frame when none was written yet); StoreError if a row
        cannot be trusted (see :meth:`read_checked`)."""
        frame, problems = self._read_table_checked()
        if problems:
            raise _untrusted(problems)
        return frame

    def _read_table_checked(self) -> tuple[pd.DataFrame, list[str]]:
        path = self.table_path
        if not path.exists():
            return rows_to_frame([]), []
        try:
            if self.kind == "parquet":
                frame = pd.read_parquet(path)
            else:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
        except Exception as exc:
            raise StoreError(f"{path}: the samples table is unreadable ({type(exc).__name__}: "
                             f"{exc}); run RunStore.repair() or resume the run to repair it") from exc
        missing = [c for c in KEY_COLUMNS + ("status",) if c not in frame.columns]
        if missing:
            raise StoreError(f"{path}: the samples table lacks the column(s) {', '.join(missing)}")
        if self.kind == "csv":
            frame = frame.replace({"": np.nan}).astype(object)
        frame = frame.reset_index(drop=True)
        bad = _table_row_problems(frame)
        problems = [f"{path}: row {position + 1} {_key_text(frame.iloc[position])}: {problem}"
                    for position, problem in bad]
        if bad:
            frame = frame.drop(index=[position for position, _ in bad]).reset_index(drop=True)
        return rows_to_frame(frame), problems

    def read_journal(self, strict: bool = False) -> tuple[list[dict], bool]:
        """Rows of the journal and whether a trailing partial line was ignored.

        A malformed line anywhere but at the end is corruption: StoreError. A well-formed row
        that cannot be trusted (:func:`_journal_row_problem`) is a StoreError too.
        """
        rows, partial, problems = self._read_journal_checked(strict)
        if problems:
            raise _untrusted(problems)
        return rows, partial

    def _read_journal_checked(self, strict: bool = False) -> tuple[list[dict], bool, list[str]]:
        path = self.journal_path
        if not path.exists():
            return [], False, []
        data = path.read_bytes()
        if not data:
            return [], False, []
        lines = data.split(b"\n")
        complete, tail = lines[:-1], lines[-1]
        rows: list[dict] = []
        problems: list[str] = []
        for number, line in enumerate(complete, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
                raise StoreError(f"{path}: line {number} is not valid JSON ({exc}); the journal is "
                                 "corrupt") from exc
            if not isinstance(row, dict) or any(k not in row for k in KEY_COLUMNS):
                raise StoreError(f"{path}: line {number} is not a sample row")
            problem = _journal_row_problem(row)
            if problem is not None:
                problems.append(f"{path}: line {number} {_key_text(row)}: {problem}")
                continue
            rows.append(row)
        partial = bool(tail.strip())
        if partial and strict:
            raise StoreError(f"{path}: the last line is incomplete (a process was killed while "
                             "writing it); run RunStore.repair() to drop it")
        return rows, partial, problems

    def read_checked(self) -> tuple[pd.DataFrame, list[str]]:
        """The rows that can be trusted (table, then journal, one per key) and one sentence for
        each row that cannot: a non-numeric metric, an unknown status, a key that is not text,
        or a key with differing copies (all copies are left out: nothing tells which one is
        true, and the sample is simply run again)."""
        table, problems = self._read_table_checked()
        journal, partial, journal_problems = self._read_journal_checked()
        problems += journal_problems
        if partial:
            log.warning("%s: ignoring an incomplete last line (sample in flight when killed)",
                        self.journal_path)
        frame = table
        if journal:
            frame = rows_to_frame(pd.concat([table, rows_to_frame(journal)], ignore_index=True))
        frame = _dedupe(frame)
        conflicts = _conflicts(frame)
        if conflicts.any():
            for _, row in frame[conflicts].drop_duplicates(subset=list(KEY_COLUMNS)).iterrows():
                problems.append(f"{self.folder}: key {_key_text(row)} has differing rows in "
                                f"{self.table_path.name} / {JOURNAL}")
            frame = frame[~conflicts].reset_index(drop=True)
        return frame, problems

    def read(self) -> pd.DataFrame:
        """Table rows followed by journal rows, one per key; StoreError naming the file and the
        row when a row cannot be trusted (:meth:`read_checked`)."""
        frame, problems = self.read_checked()
        if problems:
            raise _untrusted(problems)
        return frame

    # writing ---------------------------------------------------------------------------
    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append rows to the journal and flush them to the operating system."""
        records = list(records)
        if not records:
            return
        if self._journal_handle is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._drop_partial_tail()
            self._journal_handle = self.journal_path.open("a", encoding="utf-8")
        lines = "".join(json.dumps(_journal_safe(r), allow_nan=True) + "\n" for r in records)
        self._journal_handle.write(lines)
        self._journal_handle.flush()
        self._journal_rows += len(records)

    def _drop_partial_tail(self) -> bool:
        """Cut an incomplete last journal line (left by a kill) so new lines start clean."""
        path = self.journal_path
        if not path.exists():
            return False
        data = path.read_bytes()
        if not data or data.endswith(b"\n"):
            return False
        keep = data.rfind(b"\n") + 1
        with path.open("r+b") as handle:
            handle.truncate(keep)
        return True

    @property
    def journal_rows(self) -> int:
        """Rows appended to the journal by this object since the last consolidation."""
        return self._journal_rows

    def write_table(self, frame: pd.DataFrame) -> None:
        """Replace the table with ``frame`` atomically (the journal is left alone)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        frame = rows_to_frame(frame)
        path = self.table_path
        fd, tmp = _new_temp(self.folder, prefix=f".{path.name}.")
        os.close(fd)
        try:
            if self.kind == "parquet":
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False, na_rep="")
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(Path(tmp))
            raise

    def consolidate(self, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        """Fold the journal into the table (optionally replacing the rows by ``frame``)."""
        self.close()
        rows = self.read() if frame is None else frame
        self.write_table(rows)
        _unlink_quietly(self.journal_path)
        self._journal_rows = 0
        return rows

    def close(self) -> None:
        """Close the journal (rows are already flushed; a close that fails still drops the handle)."""
        handle, self._journal_handle = self._journal_handle, None
        if handle is not None:
            handle.close()


def _untrusted(problems: Sequence[str]) -> StoreError:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return StoreError(f"{problems[0]}{more}; RunStore.repair() (or resuming the run) drops such rows "
                      "and their samples are run again")


def _journal_safe(row: Mapping[str, Any]) -> dict:
    out = {}
    for key, value in row.items():
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        elif isinstance(value, np.bool_):
            value = bool(value)
        out[str(key)] = value
    return out


# -- predictions ----------------------------------------------------------------------------

def _part_name(dataset: str, sample_id: str) -> str:
    digest = hashlib.sha1(f"{dataset}\0{sample_id}".encode()).hexdigest()[:24]
    return f"{digest}.h5"


def write_prediction_part(folder: Path, dataset: str, sample_id: str, depth: np.ndarray,
                          attrs: Mapping[str, Any]) -> Path:
    """Write one cached prediction (float16, gzip) as its own small HDF5 file, atomically.

    The HDF5 file is built in memory and written with one ordinary write: HDF5 never touches
    the disk here, so a full disk is a plain ``OSError`` (never a crash inside the HDF5
    library with a half-open file).
    """
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _part_name(dataset, sample_id)
    values = np.clip(np.asarray(depth, dtype=np.float32), -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        ds = handle.create_dataset(h5_key(dataset, sample_id), data=values, compression="gzip",
                                   compression_opts=4, shuffle=True,
                                   chunks=_chunk_shape(values.shape))
        _set_attrs(ds, {**attrs, "dataset": dataset, "sample_id": sample_id})
    atomic_write_bytes(path, buffer.getvalue(), prefix=".part.")
    return path


def _chunk_shape(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    if not shape or min(shape) == 0:
        return None
    return tuple(min(s, 256) for s in shape)


def _set_attrs(ds, attrs: Mapping[str, Any]) -> None:
    for key, value in attrs.items():
        if value is None:
            value = np.nan if key.startswith("focal") else ""
        ds.attrs[key] = value


def _read_attrs(ds) -> dict:
    out = {}
    for key, value in ds.attrs.items():
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


# -- the run --------------------------------------------------------------------------------

class RunStore:
    """One run folder: its manifest, rows and cached predictions (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not (self.path / MANIFEST).is_file():
            if not self.path.is_dir():
                raise StoreError(f"{self.path}: no such run folder")
            raise StoreError(f"{self.path}: not a dpbench run (no {MANIFEST})")
        self._manifest: dict | None = None
        self._rows = RowFile(self.path)

    # creation and manifest ---------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, manifest: Mapping[str, Any], lock: bool = False) -> RunStore:
        """Create a new run folder holding ``manifest``; refuses an existing run.

        The folder's lock is taken before the manifest is looked for and written, so that of
        several processes creating the same run at once exactly one succeeds; the others get
        a StoreError. With ``lock=True`` the lock is kept (the caller is the run's writer until
        :meth:`release_lock` or its exit), otherwise it is given up once the manifest is written.
        """
        path = Path(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(path, exc) from exc
        held_before = _held_key(path) in _HELD
        acquire_run_lock(path, str(manifest.get("run_id") or path.name))
        try:
            if (path / MANIFEST).exists():
                raise StoreError(f"{path}: a run already exists there")
            try:
                atomic_write_json(path / MANIFEST, {"format": FORMAT, **manifest})
            except OSError as exc:
                raise write_error(path, exc) from exc
        except BaseException:
            if not held_before:
                release_run_lock(path)
            raise
        if not lock and not held_before:
            release_run_lock(path)
        return cls(path)

    @property
    def manifest(self) -> dict:
        if self._manifest is None:
            self._manifest = self._read_manifest()
        return self._manifest

    def _read_manifest(self) -> dict:
        path = self.path / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreError(f"{path}: unreadable manifest ({exc}); the run folder is corrupt") from exc
        if not isinstance(data, dict):
            raise StoreError(f"{path}: the manifest is not a JSON object")
        return data

    def reload(self) -> dict:
        """Re-read the manifest from disk."""
        self._manifest = None
        return self.manifest

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Replace the manifest (atomically)."""
        manifest = dict(manifest)
        atomic_write_json(self.path / MANIFEST, manifest)
        self._manifest = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))

    def update_manifest(self, **changes: Any) -> dict:
        """Set top-level manifest keys and write it back."""
        manifest = dict(self.manifest)
        manifest.update(changes)
        self.write_manifest(manifest)
        return self.manifest

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or self.path.name)

    @property
    def status(self) -> str:
        """The manifest status, with a 'running' run whose process is gone reported 'interrupted'."""
        status = self.manifest.get("status", "")
        if status == "running" and not self.is_locked():
            return "interrupted"
        return status

    @property
    def created(self) -> str:
        return str(self.manifest.get("created") or "")

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    # rows ------------------------------------------------------------------------------
    @property
    def samples_path(self) -> Path:
        """``samples.parquet`` or ``samples.csv`` (whichever this run uses)."""
        return self._rows.table_path

    @property
    def row_file(self) -> RowFile:
        return self._rows

    def rows(self) -> pd.DataFrame:
        """Every row of the run (table, journal and in-progress shards), one per key."""
        frames = [self._rows.read()]
        for shard in self.shard_folders():
            frames.append(RowFile(shard, kind=self._rows.kind).read())
        frames = [f for f in frames if not f.empty]
        if not frames:
            return rows_to_frame([])
        if len(frames) == 1:
            return frames[0]
        return self._merged(frames)

    def _merged(self, frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
        """Rows of several row files, one per key; StoreError when two files disagree on a key."""
        merged = _dedupe(rows_to_frame(pd.concat(frames, ignore_index=True)))
        conflicts = _conflicts(merged)
        if conflicts.any():
            first = merged[conflicts].iloc[0]
            raise _untrusted([f"{self.path}: key {_key_text(first)} has differing rows in the run and "
                              f"its shards ({int(conflicts.sum())} rows)"])
        return merged

    def done_keys(self) -> set[tuple[str, str, str]]:
        """The (dataset, sample_id, task) keys that already have a row."""
        frame = self.rows()
        return set(zip(frame["dataset"], frame["sample_id"], frame["task"], strict=True))

    def drop_foreign_rows(self, dataset: str, sample_ids: Iterable[str]) -> int:
        """Remove the rows of ``dataset`` whose sample is not among ``sample_ids`` (the dataset
        as it is on disk now); returns how many went. Such rows come from a tampered journal
        or another version of the dataset, and would otherwise reach the tables."""
        frame = self._rows.read()
        foreign = (frame["dataset"] == dataset) & ~frame["sample_id"].isin(set(sample_ids))
        if foreign.any():
            self._rows.consolidate(frame[~foreign].reset_index(drop=True))
        return int(foreign.sum())

    def append_rows(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append rows (journal + flush); see :meth:`consolidate`."""
        self._rows.append(records)

    def consolidate(self, dataset_order: Sequence[str] = (), task_order: Sequence[str] = ()) -> pd.DataFrame:
        """Fold journal rows into the samples table, in canonical order."""
        rows = sort_rows(self._rows.read(), dataset_order, task_order)
        return self._rows.consolidate(rows)

    def close(self) -> None:
        self._rows.close()

    def shard_folders(self) -> list[Path]:
        base = self.path / SHARDS
        if not base.is_dir():
            return []
        return sorted(p for p in base.iterdir() if p.is_dir() and p.name.startswith("rank-"))

    def failed_keys(self) -> set[tuple[str, str]]:
        """The (dataset, sample_id) pairs that have an ``error`` row."""
        frame = self.rows()
        failed = frame[frame["status"] == "error"]
        return set(zip(failed["dataset"], failed["sample_id"], strict=True))

    # shards (torchrun) -----------------------------------------------------------------
    def shard_writer(self, rank: int) -> tuple[RowFile, Path]:
        """The row file and prediction-parts folder of rank ``rank``'s shard (``shards/rank-<r>/``)."""
        rows = RowFile(self.path / SHARDS / f"rank-{int(rank)}", kind=self._rows.kind)
        return rows, rows.folder / PREDICTION_PARTS

    def merge_shards(self, dataset_order: Sequence[str] = (), task_order: Sequence[str] = ()) -> int:
        """Fold the rows of ``shards/rank-*`` into the run's table and remove the shard row files.

        Cached prediction parts of the shards are left for :meth:`merge_predictions`; a shard
        folder is deleted once it holds nothing else. Returns the number of rows merged.
        """
        shards = self.shard_folders()
        if not shards:
            return 0
        files = [RowFile(folder, kind=self._rows.kind) for folder in shards]
        frames = [f for f in [self._rows.read()] + [f.read() for f in files] if not f.empty]
        count = sum(len(f) for f in frames[1:])
        if frames:
            merged = self._merged(frames)
            self._rows.consolidate(sort_rows(merged, dataset_order, task_order))
        for row_file in files:
            row_file.close()
            for path in (row_file.table_path, row_file.journal_path):
                _unlink_quietly(path)
        self.remove_empty_shards()  # folders still holding prediction parts wait for merge_predictions
        return count

    def remove_empty_shards(self) -> None:
        """Delete shard folders that no longer hold rows or cached predictions."""
        base = self.path / SHARDS
        if not base.is_dir():
            return
        for folder in self.shard_folders():
            parts = folder / PREDICTION_PARTS
            if parts.is_dir() and not any(parts.iterdir()):
                parts.rmdir()
            if not any(folder.iterdir()):
                folder.rmdir()
        if not any(base.iterdir()):
            base.rmdir()

    # predictions -----------------------------------------------------------------------
    @property
    def predictions_path(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def parts_folder(self) -> Path:
        return self.path / PREDICTION_PARTS

    def _part_folders(self) -> list[Path]:
        folders = [self.parts_folder] + [s / PREDICTION_PARTS for s in self.shard_folders()]
        return [f for f in folders if f.is_dir()]

    def write_prediction(self, dataset: str, sample_id: str, depth: np.ndarray,
                         attrs: Mapping[str, Any], folder: Path | None = None) -> None:
        """Cache one prediction (float16) until :meth:`merge_predictions` folds it in."""
        write_prediction_part(folder or self.parts_folder, dataset, sample_id, depth, attrs)

    def has_predictions(self) -> bool:
        return self.predictions_path.exists() or any(any(f.glob("*.h5")) for f in self._part_folders())

    def prediction_keys(self) -> set[tuple[str, str]]:
        """The (dataset, sample_id) pairs with a cached prediction."""
        import h5py

        keys: set[tuple[str, str]] = set()
        if self.predictions_path.exists():
            with self._open_predictions() as handle:
                for group_name, group in handle.items():
                    for name in group:
                        keys.add((unescape_h5_name(group_name), unescape_h5_name(name)))
        for folder in self._part_folders():
            for part in folder.glob("*.h5"):
                try:
                    with h5py.File(part, "r") as handle:
                        for group_name, group in handle.items():
                            for name in group:
                                keys.add((unescape_h5_name(group_name), unescape_h5_name(name)))
                except OSError as exc:
                    raise StoreError(f"{part}: unreadable cached prediction ({exc})") from exc
        return keys

    def _open_predictions(self):
        import h5py

        try:
            return h5py.File(self.predictions_path, "r")
        except OSError as exc:
            raise StoreError(f"{self.predictions_path}: unreadable ({exc}); run RunStore.repair() "
                             "to set it aside (the samples it held will be predicted again)") from exc

    def read_prediction(self, dataset: str, sample_id: str) -> tuple[np.ndarray, dict]:
        """A cached prediction as float32 and its attributes; KeyError if it was not saved."""
        import h5py

        key = h5_key(dataset, sample_id)
        for folder in self._part_folders():
            part = folder / _part_name(dataset, sample_id)
            if part.exists():
                with h5py.File(part, "r") as handle:
                    ds = handle[key]
                    return ds[()].astype(np.float32), _read_attrs(ds)
        if self.predictions_path.exists():
            with self._open_predictions() as handle:
                if key in handle:
                    ds = handle[key]
                    return ds[()].astype(np.float32), _read_attrs(ds)
        raise KeyError(f"run {self.run_id}: no cached prediction for {dataset}/{sample_id}")

    def merge_predictions(self) -> int:
        """Fold the per-sample part files (of this run and its shards) into ``predictions.h5``.

        The merged file is built as a copy and renamed over the old one, so a kill during the
        merge leaves both the old file and the parts intact. Returns the number of parts merged.
        """
        import h5py

        parts = [p for folder in self._part_folders() for p in sorted(folder.glob("*.h5"))]
        if not parts:
            return 0
        # HDF5 does not survive a write refused halfway (it may crash the process): make sure
        # the merged copy fits before HDF5 writes anything (gzip parts copy at their size).
        needed = sum(p.stat().st_size for p in parts) + (
            self.predictions_path.stat().st_size if self.predictions_path.exists() else 0)
        if shutil.disk_usage(self.path).free < needed + (16 << 20):
            raise OSError(errno.ENOSPC, f"No space left on device for merging {len(parts)} cached "
                                        f"prediction(s) ({needed:,} bytes)")
        fd, tmp = _new_temp(self.path, prefix=f".{PREDICTIONS}.")
        os.close(fd)
        try:
            if self.predictions_path.exists():
                shutil.copyfile(self.predictions_path, tmp)
                mode = "a"
            else:
                mode = "w"
            with h5py.File(tmp, mode) as target:
                for part in parts:
                    with h5py.File(part, "r") as source:
                        for group_name, group in source.items():
                            dest = target.require_group(group_name)
                            for name in group:
                                if name in dest:
                                    del dest[name]
                                source.copy(group[name], dest, name=name)
            os.replace(tmp, self.predictions_path)
        except BaseException:
            _unlink_quietly(Path(tmp))
            raise
        for part in parts:
            _unlink_quietly(part)
        for folder in self._part_folders():
            if not any(folder.iterdir()):
                folder.rmdir()
        return len(parts)

    # locking ---------------------------------------------------------------------------
    def acquire_lock(self) -> None:
        """Become the one writer of this run; StoreError if another live process is (see
        :func:`acquire_run_lock`). Calling it again in the same process does nothing."""
        acquire_run_lock(self.path, self.run_id)

    def release_lock(self) -> None:
        """Give up the writer's lock taken by this process (nothing if it holds none)."""
        release_run_lock(self.path)

    def lock_owner(self) -> dict | None:
        """Host, PID and process start time recorded by the lock's holder (None if unlocked)."""
        return _read_owner(self.path / LOCK) if self.is_locked() else None

    def is_locked(self) -> bool:
        """True while some process (this one included) holds the run's lock."""
        return run_lock_held(self.path)

    # integrity -------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Everything wrong with the folder, as readable sentences (empty when it is sound)."""
        found: list[str] = []
        try:
            manifest = self.reload()
        except StoreError as exc:
            return [str(exc)]
        missing = [k for k in REQUIRED_MANIFEST_KEYS if k not in manifest]
        if missing:
            found.append(f"{self.path / MANIFEST}: missing key(s) {', '.join(missing)}")
        if "format" in manifest and manifest["format"] != FORMAT:
            found.append(f"{self.path / MANIFEST}: unknown format {manifest.get('format')!r} "
                         f"(expected {FORMAT!r})")
        if "status" in manifest and manifest["status"] not in RUN_STATUSES:
            found.append(f"{self.path / MANIFEST}: unknown status {manifest['status']!r}")
        row_files = [self._rows] + [RowFile(s, kind=self._rows.kind) for s in self.shard_folders()]
        for row_file in row_files:
            found.extend(_row_file_problems(row_file))
        for leftover in sorted(self.path.glob(".*.tmp")):
            found.append(f"{leftover}: leftover temporary file of an interrupted write")
        if not found and manifest.get("save_predictions"):
            found.extend(self._prediction_problems())
        return found

    def _prediction_problems(self) -> list[str]:
        try:
            keys = self.prediction_keys()
        except StoreError as exc:
            return [str(exc)]
        rows = self.rows()
        ok = rows[rows["status"] == "ok"]
        lacking = {(d, s) for d, s in zip(ok["dataset"], ok["sample_id"], strict=True)} - keys
        if lacking:
            example = sorted(lacking)[0]
            return [f"{self.path}: {len(lacking)} finished sample(s) have no cached prediction "
                    f"(e.g. {example[0]}/{example[1]})"]
        return []

    def validate(self) -> None:
        """Raise StoreError listing every problem when the folder is corrupt or half-written."""
        found = self.problems()
        if found:
            raise StoreError(f"run folder {self.path} is damaged:\n  - " + "\n  - ".join(found)
                             + "\nRunStore.repair() (or resuming the run) fixes what can be fixed.")

    def repair(self) -> list[str]:
        """Fix what can be fixed; return what was done (empty if nothing was needed).

        Drops a trailing partial journal line or CSV line, duplicate keys and leftover temporary
        files; sets aside (renames to ``*.corrupt``) an unreadable samples table or predictions
        file so that resuming re-computes their samples; drops rows whose cached prediction is
        missing when predictions are saved; marks a dead 'running' run 'interrupted'. An
        unreadable manifest cannot be repaired (StoreError).
        """
        actions: list[str] = []
        manifest = self.reload()  # raises StoreError when the manifest itself is broken
        for leftover in sorted(self.path.glob(".*.tmp")) + sorted(self.path.glob(f"{SHARDS}/*/.*.tmp")):
            _unlink_quietly(leftover)
            actions.append(f"removed leftover temporary file {leftover.name}")
        row_files = [self._rows] + [RowFile(s, kind=self._rows.kind) for s in self.shard_folders()]
        for row_file in row_files:
            actions.extend(_repair_row_file(row_file))
        for folder in self._part_folders():
            for leftover in folder.glob(".part.*.tmp"):
                _unlink_quietly(leftover)
                actions.append(f"removed leftover temporary file {leftover.name}")
        if self.predictions_path.exists():
            try:
                self._open_predictions().close()
            except StoreError:
                aside = self.predictions_path.with_name(PREDICTIONS + ".corrupt")
                os.replace(self.predictions_path, aside)
                actions.append(f"set aside unreadable {PREDICTIONS} as {aside.name}")
        if manifest.get("save_predictions"):
            actions.extend(self._drop_rows_without_predictions())
        if manifest.get("status") == "running" and not self.is_locked():
            self.update_manifest(status="interrupted")
            actions.append("marked the run 'interrupted' (its process is gone)")
        return actions

    def _drop_rows_without_predictions(self) -> list[str]:
        keys = self.prediction_keys()
        actions = []
        for row_file in [self._rows] + [RowFile(s, kind=self._rows.kind) for s in self.shard_folders()]:
            frame = row_file.read()
            if frame.empty:
                continue
            pairs = list(zip(frame["dataset"], frame["sample_id"], strict=True))
            lacking = np.array([(frame["status"].iat[i] == "ok") and (p not in keys)
                                for i, p in enumerate(pairs)], dtype=bool)
            if lacking.any():
                row_file.consolidate(frame[~lacking].reset_index(drop=True))
                actions.append(f"dropped {int(lacking.sum())} row(s) of {row_file.folder.name} whose "
                               "cached prediction is missing (they will be run again)")
        return actions


def _row_file_problems(row_file: RowFile) -> list[str]:
    found = []
    table = None
    try:
        table = row_file._read_table_checked()[0]
    except StoreError as exc:
        found.append(str(exc))
    if row_file.kind == "csv" and row_file.table_path.exists():
        data = row_file.table_path.read_bytes()
        if data and not data.endswith(b"\n"):
            found.append(f"{row_file.table_path}: the last line is incomplete (half-written file)")
    try:
        row_file._read_journal_checked(strict=True)
    except StoreError as exc:
        found.append(str(exc))
    try:
        found.extend(row_file.read_checked()[1])
    except StoreError:
        pass  # an unreadable table or journal: reported above
    if table is not None and not table.empty:
        dupes = table.duplicated(subset=list(KEY_COLUMNS))
        if dupes.any():
            first = table[dupes].iloc[0]
            found.append(f"{row_file.table_path}: {int(dupes.sum())} duplicate row key(s), e.g. "
                         f"({first['dataset']}, {first['sample_id']}, {first['task']})")
    return found


def _repair_row_file(row_file: RowFile) -> list[str]:
    actions = []
    if row_file._drop_partial_tail():
        actions.append(f"dropped the incomplete last line of {row_file.journal_path.name}")
    try:
        row_file._read_journal_checked(strict=True)
    except StoreError:
        aside = row_file.journal_path.with_name(JOURNAL + ".corrupt")
        os.replace(row_file.journal_path, aside)
        actions.append(f"set aside corrupt journal as {aside.name}")
    path = row_file.table_path
    if row_file.kind == "csv" and path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            atomic_write_bytes(path, data[: data.rfind(b"\n") + 1])
            actions.append(f"dropped the incomplete last line of {path.name}")
    try:
        table = row_file._read_table_checked()[0]
    except StoreError:
        aside = path.with_name(path.name + ".corrupt")
        os.replace(path, aside)
        actions.append(f"set aside unreadable {path.name} as {aside.name} (its samples will be run again)")
        table = rows_to_frame([])
    clean = table[table["status"].isin(ROW_STATUSES)]
    clean = _dedupe(clean)
    if len(clean) != len(table):
        row_file.write_table(clean)
        actions.append(f"dropped {len(table) - len(clean)} duplicate or malformed row(s) of {path.name}")
    rows, untrusted = row_file.read_checked()
    if untrusted:
        row_file.consolidate(rows)
        actions.append(f"dropped {len(untrusted)} row(s) that cannot be trusted (their samples will be "
                       f"run again), e.g. {untrusted[0]}")
    return actions


# -- the writer's lock -------------------------------------------------------------------------
#
# ``run.lock`` is locked with ``flock`` and held open for the life of the run: the kernel drops
# the lock when the process ends, however it ends, so a lock is never stale and a recycled PID
# can never keep a run locked. Taking it is one atomic step (``flock(LOCK_EX | LOCK_NB)``). The
# file records the holder's host, PID and process start time, for messages and for file systems
# without ``flock``, where a recorded holder counts as alive only if a process with that PID and
# that start time exists on this host.

#: Lock files held by this process, by the resolved run folder: the open descriptor.
_HELD: dict[str, int] = {}
#: How long a blocked lock is retried before giving up (someone merely testing the lock holds it
#: for microseconds; a run holds it for its whole life).
LOCK_PATIENCE_SECONDS = 0.2
_NO_FLOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


def _held_key(folder: Path) -> str:
    return os.path.realpath(folder)


def process_start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, field 22 of
    ``/proc/<pid>/stat``), or None when there is no such process or no ``/proc``."""
    try:
        text = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = text[text.rfind(")") + 2:].split()  # the command name may hold spaces and ')'
    return fields[19] if len(fields) > 19 else None


def _owner_record() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "process_start": process_start_time(os.getpid())}


def _recorded_owner_alive(path: Path) -> bool:
    """Whether the process recorded in lock file ``path`` is alive (when ``flock`` cannot tell)."""
    owner = _read_owner(path)
    return owner is not None and _owner_alive(owner)


def _read_owner(path: Path) -> dict | None:
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return owner if isinstance(owner, dict) and "pid" in owner else None


def _owner_alive(owner: Mapping[str, Any]) -> bool:
    """Whether a recorded holder still runs: another host cannot be asked (assumed alive); on
    this host the PID must exist and, when recorded, have the same process start time."""
    if owner.get("host") != socket.gethostname():
        return True
    try:
        pid = int(owner["pid"])
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except (TypeError, ValueError, KeyError, OverflowError):
        return False
    recorded = owner.get("process_start")
    return recorded is None or process_start_time(pid) in (None, str(recorded))


def _describe_owner(owner: Mapping[str, Any] | None) -> str:
    if not owner:
        return "another process"
    return f"process {owner.get('pid')} on {owner.get('host')}"


#: ``errno`` values of a write the file system refused (full disk or quota, read-only, no
#: permission, file too large, I/O error): the run cannot go on, but is left resumable.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                          errno.EFBIG, errno.EIO})


def is_write_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a refused write (see :data:`WRITE_ERRNOS`)."""
    return isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS


def write_error(folder: Path, exc: OSError) -> StoreError:
    """A one-line StoreError for a write that failed in ``folder`` (full disk, read-only, ...)."""
    cause = exc.strerror or str(exc)
    return StoreError(f"cannot write to {folder}: {cause}")


def acquire_run_lock(folder: Path, run_id: str | None = None) -> None:
    """Take the writer's lock of the run in ``folder`` (StoreError if a live process holds it)."""
    folder = Path(folder)
    key = _held_key(folder)
    if key in _HELD:
        return
    path = folder / LOCK
    name = run_id or folder.name
    deadline = time.monotonic() + LOCK_PATIENCE_SECONDS
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise write_error(folder, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() < deadline:
                time.sleep(0.01)
                continue
            raise StoreError(f"run {name} is being written by {_describe_owner(_read_owner(path))}; "
                             "wait for it or stop it first") from None
        except OSError as exc:
            if exc.errno not in _NO_FLOCK:
                os.close(fd)
                raise write_error(folder, exc) from exc
            owner = _read_owner(path)
            if owner is not None and owner.get("pid") != os.getpid() and _owner_alive(owner):
                os.close(fd)
                raise StoreError(f"run {name} is being written by {_describe_owner(owner)}; wait "
                                 "for it or stop it first") from None
            log.warning("%s: the file system does not support locks; concurrent writers of this "
                        "run are detected only by the PID recorded in %s", folder, LOCK)
        # The previous holder may have removed the file between our open and our lock: then we
        # locked an orphan and must start again with the file now at that path.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(_owner_record()) + "\n").encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise write_error(folder, exc) from exc
        _HELD[key] = fd
        return


def release_run_lock(folder: Path) -> None:
    """Give up the lock of the run in ``folder`` if this process holds it (the file goes)."""
    fd = _HELD.pop(_held_key(folder), None)
    if fd is None:
        return
    _unlink_quietly(Path(folder) / LOCK)
    os.close(fd)


def run_lock_held(folder: Path) -> bool:
    """Whether a live process (this one included) holds the lock of the run in ``folder``."""
    if _held_key(folder) in _HELD:
        return True
    path = Path(folder) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return _recorded_owner_alive(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # no flock on this file system: the recorded owner decides
        return _recorded_owner_alive(path)
    finally:
        os.close(fd)  # closing drops the shared lock taken to test it
    return False


def list_runs(runs_dir: str | os.PathLike) -> list[RunStore]:
    """Every run under ``runs_dir`` (folders with a manifest), oldest first by creation time."""
    base = Path(runs_dir)
    if not base.is_dir():
        return []
    runs = []
    for folder in base.iterdir():
        if not (folder / MANIFEST).is_file():
            continue
        try:
            store = RunStore(folder)
            store.manifest  # noqa: B018 - read now so that broken manifests are skipped here
        except StoreError as exc:
            log.warning("skipping %s: %s", folder, exc)
            continue
        runs.append(store)
    return sorted(runs, key=lambda s: (s.created, s.run_id))


__all__ = [
    "BASE_COLUMNS", "FORMAT", "KEY_COLUMNS", "RUN_STATUSES", "TEXT_COLUMNS", "RowFile", "RunStore",
    "StoreError", "acquire_run_lock", "atomic_write_json", "process_start_time", "release_run_lock",
    "WRITE_ERRNOS", "is_write_error", "run_lock_held", "write_error", "h5_key", "h5_name", "have_pyarrow", "list_runs",
    "rows_to_frame", "sort_rows", "unescape_h5_name",
]
