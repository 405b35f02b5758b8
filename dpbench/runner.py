"""Run one model over a suite: loading, batching, scoring, storing, resuming and sharding.

The pipeline for a dataset: a pool of loader threads reads samples ahead of the model (bounded
prefetch, in dataset order); the main thread runs the model on batches; a pool of scoring
threads (one per two loader threads, at least one) brings each prediction to the ground truth
and computes its metrics (:mod:`dpbench.protocol`) while the model works on the next batch; rows
are appended to the run's journal in sample order as soon as a sample is scored
(:mod:`dpbench.store`), so a killed run loses only the samples in flight and ``resume``
continues from the rows present. Under ``torchrun`` every rank evaluates its shard of each
dataset (:mod:`dpbench.runner_dist`) and rank 0 merges the shards at the end.

A dataset that is not on disk is recorded as missing (one line, no exception); a sample whose
load, prediction or scoring fails becomes an ``error`` row naming the problem, and the run goes on
(``on_error='continue'``) or stops with status ``failed`` (``on_error='stop'``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpbench import __version__
from dpbench.datasets import find_dataset_root, get_dataset_class, open_dataset
from dpbench.errors import DpbenchError, ModelError, UnknownNameError
from dpbench.protocol import (
    Protocol,
    focal_for_model,
    focal_source_of,
    score_boundary_depth,
    score_boundary_mask,
    score_focal,
    score_metric_depth,
    to_gt_resolution,
)
from dpbench.runner_dist import DistContext, dist_context
from dpbench.store import SHARDS, RowFile, RunStore, StoreError, list_runs, rows_to_frame, sort_rows
from dpbench.suites import Suite, SuiteEntry, get_suite
from dpbench.types import TASKS, Prediction, Sample

log = logging.getLogger(__name__)

ON_ERROR_POLICIES = ("continue", "stop")
#: Journal rows between two rewrites of the samples table.
CONSOLIDATE_EVERY = 256
#: Error messages printed per dataset before the rest are only counted (they are all in the rows).
MAX_ERROR_LINES = 5
DEPTH_TASKS = ("metric_depth", "boundary_depth", "boundary_mask")


@dataclass
class RunConfig:
    """Everything ``dpbench run`` accepts (see ``dpbench run --help`` for the meaning of each)."""

    model: str
    suite: str | Suite = "sample"
    checkpoint: str | None = None
    datasets: Sequence[str] | None = None
    data_root: str | os.PathLike | None = None
    device: str = "auto"
    precision: str = "fp32"
    batch_size: int = 1
    workers: int = 2
    limit: int | None = None
    out: str | os.PathLike = "runs"
    run_id: str | None = None
    resume: bool = True
    save_predictions: bool = False
    on_error: str = "continue"
    #: Protocol overrides (None = the suite's value).
    protocol: Mapping[str, Any] = field(default_factory=dict)
    model_options: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = True
    sample_root: str | os.PathLike | None = None

    def check(self) -> None:
        if self.on_error not in ON_ERROR_POLICIES:
            raise DpbenchError(f"on_error must be one of {', '.join(ON_ERROR_POLICIES)}, got {self.on_error!r}")
        if int(self.batch_size) < 1:
            raise DpbenchError(f"batch size must be >= 1, got {self.batch_size}")
        if int(self.workers) < 0:
            raise DpbenchError(f"workers must be >= 0, got {self.workers}")
        if self.limit is not None and int(self.limit) < 1:
            raise DpbenchError(f"limit must be >= 1, got {self.limit}")
        if self.run_id is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", self.run_id):
            raise DpbenchError(f"run id {self.run_id!r}: use letters, digits and . _ + - only")


@dataclass
class RunResult:
    """What :func:`run` returns: the store and a few counts for the command line."""

    store: RunStore
    status: str
    resumed: bool
    rows_written: int
    errors: int
    missing: list[str]


# -- model, environment, identity -------------------------------------------------------------

def describe_model(model: Any, checkpoint: str | None) -> dict:
    """The manifest's ``model`` record: ``model.describe()`` plus checkpoint path and sha256."""
    record = dict(model.describe()) if hasattr(model, "describe") else {}
    record.setdefault("name", getattr(model, "name", ""))
    record.setdefault("output_kind", getattr(model, "output_kind", "metric_depth"))
    record.setdefault("reads_ground_truth", bool(getattr(model, "reads_ground_truth", False)))
    path = record.get("checkpoint") or checkpoint
    record["checkpoint"] = str(path) if path else None
    if not record.get("checkpoint_sha256"):
        record["checkpoint_sha256"] = file_sha256(path) if path and Path(path).is_file() else None
    return json.loads(json.dumps(record, default=str))


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """sha256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def environment_record(device: str, precision: str, world_size: int) -> dict:
    """Versions, device, precision, git commit and host of this run (manifest ``environment``)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for key, distribution in (("numpy", "numpy"), ("torch", "torch"), ("timm", "timm"), ("scipy", "scipy"),
                              ("pandas", "pandas"), ("cv2", "opencv-python-headless"), ("h5py", "h5py"),
                              ("pyarrow", "pyarrow")):
        try:  # package metadata: no import (importing torch/timm costs seconds)
            versions[key] = version(distribution)
        except PackageNotFoundError:
            versions[key] = None
    resolved, device_name = _device_info(device)
    commit, dirty = _git_state()
    return {
        "dpbench": __version__,
        "python": platform.python_version(),
        **versions,
        "device": resolved,
        "device_name": device_name,
        "precision": precision,
        "git_commit": commit,
        "git_dirty": dirty,
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "world_size": world_size,
    }


def _device_info(device: str) -> tuple[str, str]:
    """The device the model ran on. A model that never imported torch (the probes, cached
    predictions) ran on the CPU whatever was requested."""
    if "torch" not in sys.modules:
        return "cpu", _cpu_name()
    try:
        import torch

        from dpbench.models.device import resolve_device

        resolved = resolve_device(device)
        if resolved.type == "cuda":
            return str(resolved), torch.cuda.get_device_name(resolved)
        if resolved.type == "mps":
            return "mps", "Apple MPS"
        return "cpu", _cpu_name()
    except Exception as exc:  # recording the environment must never stop a run
        return device, f"unknown ({type(exc).__name__})"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_state() -> tuple[str | None, bool | None]:
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None, None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
        return commit or None, bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _iso(moment: _dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^A-Za-z0-9._+]+", "-", text).strip("-.") or "model"
    return slug[:limit].rstrip("-.")


def new_run_id(runs_dir: Path, model: str, suite: str, moment: _dt.datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS-<model>-<suite>`` (UTC), with ``-2``, ``-3``... if it is taken."""
    moment = moment or _utc_now()
    base = f"{moment:%Y%m%d-%H%M%S}-{_slug(model)}-{_slug(suite, 24)}"
    candidate, number = base, 1
    while (runs_dir / candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def run_fingerprint(model_record: Mapping, model_options: Mapping, suite_name: str,
                    datasets: Sequence[str], protocol_record: Mapping, limit: int | None,
                    precision: str, save_predictions: bool = False) -> str:
    """A hash of everything that must match for a run to be resumed (not device or batch size)."""
    payload = {
        "model": model_record.get("name"), "checkpoint_sha256": model_record.get("checkpoint_sha256"),
        "model_options": dict(model_options), "suite": suite_name, "datasets": list(datasets),
        "protocol": dict(protocol_record), "limit": limit, "precision": precision,
        "save_predictions": bool(save_predictions),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


# -- loading ahead ---------------------------------------------------------------------------

@dataclass
class Loaded:
    """One sample read by the loader (or the error that prevented it)."""

    index: int
    sample: Sample | None
    error: BaseException | None
    seconds: float


class Prefetcher:
    """Reads ``dataset[i]`` for the given indices in worker threads, at most ``depth`` ahead.

    Items come out in index order. ``workers=0`` loads in the caller's thread (no overlap).
    """

    def __init__(self, dataset: Any, indices: Sequence[int], workers: int, depth: int | None = None):
        self.dataset = dataset
        self.indices = list(indices)
        self.workers = int(workers)
        self.depth = max(1, depth if depth is not None else self.workers + 1)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="dpbench-load") if self.workers else None
        self._queue: deque[Future] = deque()

    def _load(self, index: int) -> Loaded:
        start = time.perf_counter()
        try:
            sample = self.dataset[index]
            return Loaded(index, sample, None, time.perf_counter() - start)
        except Exception as exc:
            return Loaded(index, None, exc, time.perf_counter() - start)

    def __iter__(self) -> Iterator[Loaded]:
        if self._executor is None:
            for index in self.indices:
                yield self._load(index)
            return
        pending = iter(self.indices)
        for index in pending:
            self._queue.append(self._executor.submit(self._load, index))
            if len(self._queue) >= self.depth:
                break
        while self._queue:
            item = self._queue.popleft().result()
            for index in pending:
                self._queue.append(self._executor.submit(self._load, index))
                break
            yield item

    def close(self) -> None:
        for future in self._queue:
            future.cancel()
        self._queue.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


# -- the evaluation ----------------------------------------------------------------------------

SCORERS: dict[str, Callable[..., dict]] = {
    "boundary_depth": score_boundary_depth,
    "boundary_mask": score_boundary_mask,
}


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, DpbenchError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _done_future(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


class Evaluation:
    """The state of one run being executed (one model, one suite, one store)."""

    def __init__(self, *, model: Any, suite: Suite, protocol: Protocol, store: RunStore,
                 ctx: DistContext, config: RunConfig, resumed: bool,
                 sample_filter: Callable[[str], set[str] | None] | None = None,
                 carried_rows: Callable[[str], list[dict]] | None = None,
                 say: Callable[[str], None] | None = None):
        self.model = model
        self.suite = suite
        self.protocol = protocol
        self.store = store
        self.ctx = ctx
        self.config = config
        self.resumed = resumed
        self.output_kind = getattr(model, "output_kind", "metric_depth")
        self.sample_filter = sample_filter
        self.carried_rows = carried_rows
        say = say or (lambda message: None)
        self.say = say if ctx.is_main else (lambda message: say(f"[rank {ctx.rank}] {message}"))
        if ctx.distributed:
            self.row_file = RowFile(store.path / SHARDS / f"rank-{ctx.rank}", kind=store.row_file.kind)
            self.parts_folder = self.row_file.folder / "predictions.parts"
        else:
            self.row_file = store.row_file
            self.parts_folder = store.parts_folder
        existing = store.rows()
        self.done = set(zip(existing["dataset"], existing["sample_id"], existing["task"], strict=True))
        failed = existing[existing["status"] == "error"]
        self.failed = set(zip(failed["dataset"], failed["sample_id"], strict=True))
        self.rows_written = 0
        self.errors = 0
        self.stopped = False
        self.missing: list[str] = []
        self.records: dict[str, dict] = {}
        # Scoring (resampling + metrics at GT resolution) is CPU work on large arrays that mostly
        # releases the GIL: one scoring thread per two loader threads (at least one). More threads
        # on a small machine cost more than they give (page faults and TLB shoot-downs of the
        # fresh full-size buffers grow with the number of threads: bench_runner.py).
        self.scoring_threads = max(1, int(config.workers) // 2)
        self._scorer = ThreadPoolExecutor(self.scoring_threads, thread_name_prefix="dpbench-score")
        self._previous = {d["name"]: d for d in store.manifest.get("datasets", []) if isinstance(d, dict)}

    # bookkeeping -----------------------------------------------------------------------------
    def _initial_record(self, entry: SuiteEntry) -> dict:
        previous = self._previous.get(entry.dataset, {})
        record = {
            "name": entry.dataset, "tasks": list(entry.tasks), "split": entry.split,
            "root": str(entry.path) if entry.path else None, "status": "partial",
            "reason": "not evaluated yet", "num_samples": None, "num_available": None,
            "num_errors": 0, "protocol_hash": None, "min_depth": None, "max_depth": None,
            "excluded": {}, "expected_samples": None,
        }
        record.update({k: v for k, v in previous.items() if k in record and k not in ("tasks",)})
        return record

    def _write_manifest(self) -> None:
        if self.ctx.is_main:
            self.store.update_manifest(datasets=[self.records[e.dataset] for e in self.suite.entries])

    def _write_rows(self, rows: list[dict]) -> None:
        if not rows:
            return
        self.row_file.append(rows)
        self.rows_written += len(rows)
        for row in rows:
            self.done.add((row["dataset"], row["sample_id"], row["task"]))
            if row["status"] == "error":
                self.failed.add((row["dataset"], row["sample_id"]))
        if self.row_file.journal_rows >= CONSOLIDATE_EVERY:
            self._consolidate()

    def _consolidate(self) -> None:
        if self.ctx.distributed:
            self.row_file.consolidate()
        else:
            self.store.consolidate(self.suite.dataset_names, TASKS)

    # the run ------------------------------------------------------------------------------------
    def execute(self) -> str:
        """Evaluate every dataset; return the final status (re-raises interrupts and crashes)."""
        for entry in self.suite.entries:
            self.records[entry.dataset] = self._initial_record(entry)
        self._write_manifest()
        status, failure = "complete", None
        try:
            for entry in self.suite.entries:
                self._evaluate_dataset(entry)
                if self.stopped:
                    status = "failed"
                    failure = "stopped at the first error (--on-error stop)"
                    break
        except KeyboardInterrupt:
            self._finish("interrupted", "interrupted by the user", graceful=False)
            raise
        except BaseException as exc:
            self._finish("failed", _error_text(exc), graceful=False)
            raise
        return self._finish(status, failure, graceful=True)

    def _resolve_root(self, entry: SuiteEntry) -> tuple[Path | None, str]:
        if entry.path is not None:
            if Path(entry.path).is_dir():
                return Path(entry.path), ""
            return None, f"folder {entry.path} does not exist"
        data_root = self.config.data_root
        if data_root is None:
            from dpbench.datasets import default_data_root

            data_root = default_data_root()
        if data_root is None:
            return None, "no data root (pass --data-root or set $DPBENCH_DATA)"
        root = find_dataset_root(entry.dataset, data_root)
        if root is None:
            from dpbench.datasets import load_protocol

            folders = list(dict.fromkeys(list(load_protocol(entry.dataset).get("folders", [])) + [entry.dataset]))
            return None, (f"not found under {data_root} (looked for {', '.join(f + '/' for f in folders)}; "
                          f"expected layout: {get_dataset_class(entry.dataset).layout or 'see dpbench datasets'})")
        return root, ""

    def _evaluate_dataset(self, entry: SuiteEntry) -> None:
        name = entry.dataset
        record = self.records[name]
        root, reason = self._resolve_root(entry)
        if root is None:
            record.update(status="missing", reason=reason)
            self.missing.append(name)
            if self.ctx.is_main:
                self.say(f"{name}: missing - {reason}")
            self._write_manifest()
            return
        try:
            dataset = open_dataset(name, root, split=entry.split,
                                   on_error="skip" if self.config.on_error == "continue" else "raise")
        except Exception as exc:
            record.update(status="error", reason=_error_text(exc), root=str(root))
            if self.ctx.is_main:
                self.say(f"{name}: cannot be opened - {_error_text(exc)}")
            self._write_manifest()
            return
        lo, hi = self.protocol.depth_range_for(dataset.depth_range)
        ids = dataset.ids
        selected = list(range(len(dataset)))
        if self.config.limit is not None:
            selected = selected[: int(self.config.limit)]
        allowed = self.sample_filter(name) if self.sample_filter else None
        if allowed is not None:
            selected = [i for i in selected if ids[i] in allowed]
        record.update(
            split=dataset.split, root=str(root), num_available=len(dataset), num_samples=len(selected),
            protocol_hash=dataset.protocol_hash(), min_depth=lo, max_depth=hi,
            excluded=dataset.exclusion_summary(), expected_samples=dataset.protocol.get("expected_samples"),
            status="partial", reason="in progress",
        )
        self._write_manifest()
        if self.carried_rows is not None and self.ctx.is_main:
            self._write_rows([r for r in self.carried_rows(name)
                              if (r["dataset"], r["sample_id"], r["task"]) not in self.done])
        todo = []
        for index in selected:
            if not self.ctx.owns(index):
                continue
            tasks = [t for t in entry.tasks if (name, ids[index], t) not in self.done]
            if tasks:
                todo.append((index, tasks))
        begin = getattr(self.model, "begin_dataset", None)
        if callable(begin):
            begin(name)
        mine = sum(1 for i in selected if self.ctx.owns(i))
        self._run_samples(name, dataset, ids, todo, total=mine, depth_range=(lo, hi))
        if self.ctx.is_main and not self.ctx.distributed:
            self._settle_record(name, ids, selected, entry.tasks)
            self._write_manifest()

    def _settle_record(self, name: str, ids: Sequence[str], selected: Sequence[int],
                       tasks: Sequence[str]) -> None:
        """Final status and error count of a dataset, from the rows present."""
        record = self.records[name]
        wanted = {(name, ids[i], t) for i in selected for t in tasks}
        have = wanted & self.done
        record["num_errors"] = sum(1 for d, _ in self.failed if d == name)
        self._set_status(record, evaluated=len(have), expected=len(wanted), n_selected=len(selected))

    def _run_samples(self, name: str, dataset: Any, ids: Sequence[str], todo: list[tuple[int, list[str]]],
                     total: int, depth_range: tuple[float | None, float | None]) -> None:
        from tqdm.auto import tqdm

        tasks_of = dict(todo)
        bar = tqdm(total=total, initial=total - len(todo), desc=name, unit="img", dynamic_ncols=True,
                   disable=not (self.config.progress and self.ctx.is_main), leave=True, smoothing=0.1)
        loader = Prefetcher(dataset, [i for i, _ in todo], self.config.workers)
        pending: deque[tuple[int, Future]] = deque()
        # With on_error='stop' each sample is scored before the next is predicted, so that the
        # run stops right after the first failing sample.
        max_pending = 0 if self.config.on_error == "stop" else int(self.config.batch_size) + self.scoring_threads + 1
        batch: list[Loaded] = []
        shown = [0]
        try:
            for item in loader:
                if item.error is not None:
                    rows = self._error_rows(name, ids[item.index], item.index, tasks_of[item.index], item.error,
                                            seconds_load=item.seconds)
                    pending.append((item.index, _done_future(rows)))
                else:
                    batch.append(item)
                    if len(batch) >= int(self.config.batch_size):
                        self._predict(name, ids, batch, tasks_of, pending, depth_range)
                        batch = []
                self._drain(pending, bar, shown, name, keep=max_pending)
                if self.stopped:
                    break
            if batch and not self.stopped:
                self._predict(name, ids, batch, tasks_of, pending, depth_range)
            self._drain(pending, bar, shown, name, keep=0)
        except BaseException:
            loader.close()
            self._drain(pending, bar, shown, name, keep=0, quiet=True)
            bar.close()
            raise
        loader.close()
        bar.close()
        if shown[0] > MAX_ERROR_LINES:
            self.say(f"{name}: {shown[0] - MAX_ERROR_LINES} more sample error(s) (see the run's rows)")

    def _drain(self, pending: deque, bar: Any, shown: list[int], name: str, keep: int, quiet: bool = False) -> None:
        """Write the rows of scored samples in order; wait while more than ``keep`` are pending."""
        while pending and (pending[0][1].done() or len(pending) > keep):
            index, future = pending.popleft()
            try:
                rows = future.result()
            except BaseException as exc:  # a bug in scoring: keep going with error rows
                if quiet:
                    continue
                raise exc
            self._write_rows(rows)
            bar.update(1)
            errors = [r for r in rows if r["status"] == "error"]
            if errors:
                self.errors += 1
                shown[0] += 1
                if shown[0] <= MAX_ERROR_LINES and not quiet:
                    self.say(f"{name}: sample {rows[0]['sample_id']!r} ({errors[0]['task']}): {errors[0]['error']}")
                if self.config.on_error == "stop":
                    self.stopped = True

    def _error_rows(self, name: str, sample_id: str, index: int, tasks: Sequence[str], exc: BaseException,
                    **timings: float) -> list[dict]:
        text = _error_text(exc)
        return [{"dataset": name, "sample_id": sample_id, "task": task, "status": "error", "error": text,
                 "sample_index": index, **timings} for task in tasks]

    def _predict(self, name: str, ids: Sequence[str], batch: list[Loaded], tasks_of: dict,
                 pending: deque, depth_range) -> None:
        samples = [item.sample for item in batch]
        focals = []
        for item in batch:
            if any(t in DEPTH_TASKS for t in tasks_of[item.index]):
                focals.append(focal_for_model(item.sample, self.protocol.focal_mode))
            else:
                focals.append((None, "estimated"))
        start = time.perf_counter()
        try:
            predictions = list(self.model.predict_batch(samples, [f for f, _ in focals]))
            if len(predictions) != len(samples):
                raise ModelError(f"predict_batch returned {len(predictions)} predictions for {len(samples)} samples")
        except Exception as exc:
            _release_device_memory()
            if len(samples) == 1:
                predictions = [exc]
            else:  # find the sample(s) at fault
                predictions = []
                for sample, (focal, _) in zip(samples, focals, strict=True):
                    try:
                        predictions.append(self.model.predict(sample, focal))
                    except Exception as single:
                        _release_device_memory()
                        predictions.append(single)
        seconds = (time.perf_counter() - start) / len(samples)
        for item, prediction, (focal, source) in zip(batch, predictions, focals, strict=True):
            job = self._scorer.submit(self._score, name, ids[item.index], item, tasks_of[item.index],
                                      prediction, focal, source, seconds, depth_range)
            pending.append((item.index, job))

    def _score(self, name: str, sample_id: str, item: Loaded, tasks: Sequence[str], prediction: Any,
               focal: float | None, focal_source: str, seconds_predict: float, depth_range) -> list[dict]:
        """Rows of one sample (runs in the scoring thread)."""
        sample = item.sample
        timings = {"seconds_load": item.seconds, "seconds_predict": seconds_predict}
        if isinstance(prediction, BaseException):
            return self._error_rows(name, sample_id, item.index, tasks, prediction, **timings)
        if not isinstance(prediction, Prediction):
            error = ModelError(f"sample {sample_id!r}: the model returned {type(prediction).__name__}, "
                               "not a Prediction")
            return self._error_rows(name, sample_id, item.index, tasks, error, **timings)
        pred_map, map_error, seconds_resize = None, None, 0.0
        if any(t in DEPTH_TASKS for t in tasks):
            start = time.perf_counter()
            try:
                pred_map = to_gt_resolution(prediction, sample, self.protocol.resize, self.output_kind)
            except Exception as exc:
                map_error = exc
            seconds_resize = time.perf_counter() - start
        rows = []
        for task in tasks:
            row: dict[str, Any] = {"dataset": name, "sample_id": sample_id, "task": task,
                                   "sample_index": item.index, **timings, "seconds_resize": seconds_resize}
            start = time.perf_counter()
            try:
                if task == "focal":
                    row.update(score_focal(prediction, sample))
                else:
                    if map_error is not None:
                        raise map_error
                    if task == "metric_depth":
                        row.update(score_metric_depth(pred_map, sample, self.protocol, self.output_kind, depth_range))
                    else:
                        row.update(SCORERS[task](pred_map, sample, self.protocol, self.output_kind))
                    row["focal_px_used"] = focal if focal is not None else prediction.focal_px
                    row["focal_source"] = focal_source_of(prediction, focal_source, focal is not None)
                row.update(status="ok", error="")
            except Exception as exc:
                row.update(status="error", error=_error_text(exc))
            row["seconds_metrics"] = time.perf_counter() - start
            rows.append(row)
        if self.config.save_predictions:
            self._save_prediction(name, sample_id, sample, prediction, focal_source, focal is not None)
        return rows

    def _save_prediction(self, name: str, sample_id: str, sample: Sample, prediction: Prediction,
                         focal_source: str, given: bool) -> None:
        from dpbench.protocol import estimated_focal

        attrs = {
            "focal_px": prediction.focal_px,
            "focal_px_estimated": estimated_focal(prediction),
            "focal_source": focal_source_of(prediction, focal_source, given),
            "output_kind": self.output_kind,
            "sample_height": sample.height,
            "sample_width": sample.width,
        }
        self.store.write_prediction(name, sample_id, prediction.depth, attrs, folder=self.parts_folder)

    # the end -------------------------------------------------------------------------------------
    def _finish(self, status: str, failure: str | None, graceful: bool) -> str:
        self._scorer.shutdown(wait=True)
        self.row_file.close()
        if self.ctx.distributed and not graceful:
            # No collectives after a crash (the other ranks may be gone): keep this rank's shard,
            # which the next resume merges.
            self.row_file.consolidate()
            if self.ctx.is_main:
                self.store.update_manifest(status=status, finished=_iso(_utc_now()), failure=failure)
                self.store.release_lock()
            return status
        if self.ctx.distributed:
            self.row_file.consolidate()
            self.ctx.barrier()
            outcomes = self.ctx.gather({"status": status, "failure": failure, "errors": self.errors,
                                        "rows": self.rows_written})
            if any(o["status"] != "complete" for o in outcomes):
                bad = next(o for o in outcomes if o["status"] != "complete")
                status, failure = bad["status"], bad["failure"]
            self.errors = sum(o["errors"] for o in outcomes)
            self.rows_written = sum(o["rows"] for o in outcomes)
        if self.ctx.is_main:
            merge_shards(self.store, self.suite.dataset_names)
            self.store.consolidate(self.suite.dataset_names, TASKS)
            if self.config.save_predictions and status != "interrupted":
                self.store.merge_predictions()
            remove_empty_shards(self.store)
            if self.ctx.distributed:
                rows = self.store.rows()
                for entry in self.suite.entries:
                    record = self.records[entry.dataset]
                    if record["status"] in ("missing", "error") or record.get("num_samples") is None:
                        continue
                    self._settle_shared_record(entry, rows)
            self.store.update_manifest(
                status=status, finished=_iso(_utc_now()), failure=failure,
                datasets=[self.records[e.dataset] for e in self.suite.entries],
            )
            self.store.release_lock()
        self.ctx.barrier()
        return status

    def _settle_shared_record(self, entry: SuiteEntry, rows) -> None:
        """Dataset status after a sharded run (rank 0 re-derives the selection it did not load)."""
        record = self.records[entry.dataset]
        mine = rows[rows["dataset"] == entry.dataset]
        record["num_errors"] = int(mine.loc[mine["status"] == "error", "sample_id"].nunique())
        n_pairs = int(record["num_samples"]) * len(entry.tasks)
        self._set_status(record, evaluated=len(mine), expected=n_pairs, n_selected=int(record["num_samples"]))

    def _set_status(self, record: dict, evaluated: int, expected: int, n_selected: int) -> None:
        """``complete`` when every expected (sample, task) row is present, ``partial`` otherwise or
        when ``--limit`` cut the dataset short; the reason says which."""
        if evaluated < expected:
            record["status"] = "partial"
            record["reason"] = f"{expected - evaluated} of {expected} sample-task pairs not evaluated"
            return
        limited = (self.config.limit is not None and record.get("num_available", 0) > n_selected
                   and self.sample_filter is None)
        record["status"] = "partial" if limited else "complete"
        record["reason"] = (f"limited to the first {n_selected} of {record['num_available']} samples"
                            if limited else "")


def remove_empty_shards(store: RunStore) -> None:
    """Delete shard folders that no longer hold rows or cached predictions."""
    base = store.path / SHARDS
    if not base.is_dir():
        return
    for folder in store.shard_folders():
        parts = folder / "predictions.parts"
        if parts.is_dir() and not any(parts.iterdir()):
            parts.rmdir()
        if not any(folder.iterdir()):
            folder.rmdir()
    if not any(base.iterdir()):
        base.rmdir()


def _release_device_memory() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def merge_shards(store: RunStore, dataset_order: Sequence[str] = ()) -> int:
    """Fold the rows of ``shards/rank-*`` into the run's table and remove the shard row files.

    Cached prediction parts of the shards are left for :meth:`RunStore.merge_predictions`; a
    shard folder is deleted once it holds nothing else. Returns the number of rows merged.
    """
    shards = store.shard_folders()
    if not shards:
        return 0
    frames = [store.row_file.read()]
    files = [RowFile(folder, kind=store.row_file.kind) for folder in shards]
    frames += [f.read() for f in files]
    frames = [f for f in frames if not f.empty]
    merged = rows_to_frame(frames[0]) if len(frames) == 1 else rows_to_frame(
        __import__("pandas").concat(frames, ignore_index=True))
    merged = merged.drop_duplicates(subset=["dataset", "sample_id", "task"], keep="first") if len(merged) else merged
    store.row_file.consolidate(sort_rows(merged, dataset_order, TASKS))
    count = sum(len(f) for f in frames[1:]) if frames else 0
    for row_file in files:
        row_file.close()
        for path in (row_file.table_path, row_file.journal_path):
            if path.exists():
                path.unlink()
    remove_empty_shards(store)  # folders still holding prediction parts wait for merge_predictions
    return count


# -- opening or resuming the store ----------------------------------------------------------------

def _find_resumable(runs_dir: Path, fingerprint: str) -> RunStore | None:
    for store in reversed(list_runs(runs_dir)):
        manifest = store.manifest
        if manifest.get("fingerprint") == fingerprint and manifest.get("status") != "complete":
            return store
    return None


def _compare_for_resume(store: RunStore, fingerprint: str, model_record: Mapping, suite_name: str,
                        protocol_record: Mapping) -> None:
    manifest = store.manifest
    if manifest.get("fingerprint") == fingerprint:
        return
    differences = []
    if manifest.get("model", {}).get("name") != model_record.get("name"):
        differences.append(f"model {manifest.get('model', {}).get('name')!r} vs {model_record.get('name')!r}")
    if manifest.get("model", {}).get("checkpoint_sha256") != model_record.get("checkpoint_sha256"):
        differences.append("checkpoint sha256")
    if manifest.get("suite") != suite_name:
        differences.append(f"suite {manifest.get('suite')!r} vs {suite_name!r}")
    old_protocol = manifest.get("protocol", {})
    changed = sorted(k for k in set(old_protocol) | set(protocol_record)
                     if old_protocol.get(k) != json.loads(json.dumps(protocol_record.get(k), default=str)))
    if changed:
        differences.append("protocol options " + ", ".join(changed))
    if not differences:
        differences.append("dataset selection, --limit, --precision, --save-predictions or model options")
    raise StoreError(f"cannot resume run {store.run_id}: it was started with a different setup "
                     f"({'; '.join(differences)}). Use another --run-id or --no-resume.")


def _open_store(config: RunConfig, ctx: DistContext, fingerprint: str, manifest: dict,
                model_record: Mapping, suite_name: str, protocol_record: Mapping) -> tuple[RunStore, bool]:
    """Rank 0 creates or resumes the run folder; every rank gets its path."""
    runs_dir = Path(config.out)
    answer: dict[str, Any] = {}
    if ctx.is_main:
        try:
            store, resumed = None, False
            if config.run_id is not None and (runs_dir / config.run_id / "manifest.json").exists():
                if not config.resume:
                    raise StoreError(f"run {config.run_id} already exists in {runs_dir}; use --resume to "
                                     "continue it or choose another --run-id")
                store = RunStore(runs_dir / config.run_id)
                _compare_for_resume(store, fingerprint, model_record, suite_name, protocol_record)
                resumed = True
            elif config.run_id is None and config.resume:
                store = _find_resumable(runs_dir, fingerprint)
                resumed = store is not None
            if store is None:
                run_id = config.run_id or new_run_id(runs_dir, model_record.get("name", "model"), suite_name)
                store = RunStore.create(runs_dir / run_id, {**manifest, "run_id": run_id})
            else:
                store.acquire_lock()
                for action in store.repair():
                    log.warning("run %s: %s", store.run_id, action)
                merge_shards(store)
                history = list(store.manifest.get("resumed", []))
                history.append(_iso(_utc_now()))
                store.update_manifest(status="running", finished=None, failure=None, resumed=history,
                                      environment=manifest["environment"])
            store.acquire_lock()
            answer = {"path": str(store.path), "resumed": resumed}
        except BaseException as exc:
            answer = {"error": _error_text(exc), "exception": exc}
    shared = ctx.broadcast({k: v for k, v in answer.items() if k != "exception"})
    if "error" in shared:
        if ctx.is_main and "exception" in answer:
            raise answer["exception"]
        raise StoreError(shared["error"])
    ctx.barrier()
    return RunStore(shared["path"]), bool(shared["resumed"])


def _default_say(message: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(message)


def run(config: RunConfig, say: Callable[[str], None] | None = None) -> RunResult:
    """Run ``config.model`` over ``config.suite`` and return the run's store (see module doc)."""
    config.check()
    say = say or _default_say
    suite = config.suite if isinstance(config.suite, Suite) else get_suite(config.suite, sample_root=config.sample_root)
    suite = suite.select(config.datasets)
    for entry in suite.entries:
        get_dataset_class(entry.dataset)  # unknown names fail before any work
    protocol = Protocol.from_options(suite.protocol, **dict(config.protocol))
    ctx = dist_context(config.device)
    try:
        from dpbench.models import load_model

        device = ctx.device_for(config.device)
        model = load_model(config.model, checkpoint=config.checkpoint, device=device,
                           precision=config.precision, **dict(config.model_options))
        return _execute(config, suite, protocol, model, ctx, device, say)
    finally:
        ctx.close()


def _execute(config: RunConfig, suite: Suite, protocol: Protocol, model: Any, ctx: DistContext,
             device: str, say: Callable[[str], None], *, extra_manifest: Mapping | None = None,
             sample_filter=None, carried_rows=None, model_name: str | None = None) -> RunResult:
    model_record = describe_model(model, config.checkpoint)
    if model_name:
        model_record["name"] = model_name
    output_kind = model_record.get("output_kind", "metric_depth")
    protocol_record = protocol.record(output_kind)
    fingerprint = run_fingerprint(model_record, config.model_options, suite.name, suite.dataset_names,
                                  protocol_record, config.limit, config.precision, config.save_predictions)
    now = _iso(_utc_now())
    manifest = {
        "run_id": None, "status": "running", "created": now, "finished": None,
        "model": model_record, "model_options": dict(config.model_options),
        "suite": suite.name, "suite_info": suite.describe(), "metrics": suite.metrics,
        "protocol": protocol_record,
        "datasets": [],
        "environment": environment_record(device, config.precision, ctx.world_size),
        "limit": config.limit, "save_predictions": bool(config.save_predictions),
        "on_error": config.on_error,
        "options": {"batch_size": int(config.batch_size), "workers": int(config.workers),
                    "device": config.device, "precision": config.precision},
        "fingerprint": fingerprint, "argv": list(sys.argv),
        **(dict(extra_manifest) if extra_manifest else {}),
    }
    store, resumed = _open_store(config, ctx, fingerprint, manifest, model_record, suite.name, protocol_record)
    if ctx.is_main:
        verb = "resuming" if resumed else "writing"
        say(f"{model_record.get('name')} on suite {suite.name}: {verb} {store.path}")
    evaluation = Evaluation(model=model, suite=suite, protocol=protocol, store=store, ctx=ctx, config=config,
                            resumed=resumed, sample_filter=sample_filter, carried_rows=carried_rows, say=say)
    status = evaluation.execute()
    store.reload()
    return RunResult(store=store, status=status, resumed=resumed, rows_written=evaluation.rows_written,
                     errors=evaluation.errors, missing=evaluation.missing)


def default_models(suite_name: str) -> list[str]:
    """Models run when ``--model`` is omitted: the sample suite's probes (``suites.toml``)."""
    from dpbench.suites import _definitions, suite_names

    suites = _definitions()["suites"]
    if suite_name not in suites and not Path(suite_name).exists():
        raise UnknownNameError("suite", suite_name, suite_names())
    return list(suites.get(suite_name, {}).get("default_models", []))


def run_summary(store: RunStore) -> str:
    """The text table printed at the end of a run."""
    from dpbench.report import summarize_run

    return summarize_run(store)


__all__ = ["ON_ERROR_POLICIES", "Evaluation", "Prefetcher", "RunConfig", "RunResult", "default_models",
           "describe_model", "environment_record", "merge_shards", "new_run_id", "run", "run_summary"]
