"""Executing one run: loading ahead, batching, prediction, scoring threads, rows in order.

The pipeline for a dataset: a pool of loader threads reads samples ahead of the model (bounded
prefetch, in dataset order, :mod:`~dpbench.runner.prefetch`); the main thread runs the model on
batches; a pool of scoring threads (one per two loader threads, at least one) brings each
prediction to the ground truth and scores it (:mod:`~dpbench.runner.scoring`) while the model works
on the next batch; rows are appended to the run's journal in sample order as soon as a sample is
scored, so a killed run loses only the samples in flight and a resume continues from the rows
present. Under ``torchrun`` every rank evaluates its shard of each dataset
(:mod:`~dpbench.runner.dist`) and rank 0 merges the shards at the end.

A dataset that is not on disk is recorded as missing (one line, no exception); a sample whose
load, prediction or scoring fails becomes an ``error`` row naming the problem, and the run goes on
(``on_error='continue'``) or stops with status ``failed`` (``on_error='stop'``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dpbench.datasets import find_dataset_root, get_dataset_class, open_dataset
from dpbench.errors import ModelError
from dpbench.progress import progress
from dpbench.protocol import Protocol
from dpbench.runner.config import RunConfig
from dpbench.runner.dist import DistContext
from dpbench.runner.focal import focal_for_model, focal_source_of
from dpbench.runner.prefetch import Loaded, Prefetcher
from dpbench.runner.provenance import iso, utc_now
from dpbench.runner.scoring import error_rows, error_text, score_sample
from dpbench.store import RunStore, StoreError, is_write_error, write_error
from dpbench.suites import Suite, SuiteEntry
from dpbench.tasks import get_task, task_names
from dpbench.types import Prediction, Sample

log = logging.getLogger(__name__)

#: Journal rows between two rewrites of the samples table.
CONSOLIDATE_EVERY = 256
#: Error messages printed per dataset before the rest are only counted (they are all in the rows).
MAX_ERROR_LINES = 5


def _done_future(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _release_device_memory() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


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
            self.row_file, self.parts_folder = store.shard_writer(ctx.rank)
        else:
            self.row_file, self.parts_folder = store.row_file, store.parts_folder
        self.done = store.done_keys()
        self.failed = store.failed_keys()
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
            self.store.consolidate(self.suite.dataset_names, task_names())

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
            if is_write_error(exc):
                raise self._abandon(exc) from exc
            self._finish("failed", error_text(exc), graceful=False)
            raise
        try:
            return self._finish(status, failure, graceful=True)
        except OSError as exc:
            if is_write_error(exc):
                raise self._abandon(exc) from exc
            raise

    def _abandon(self, exc: OSError) -> StoreError:
        """Stop after a refused write (full disk, read-only folder): keep what is on disk, leave
        the run resumable, and return the one-line error to raise.

        Nothing more is written that could fail again: the journal (flushed after every sample)
        is closed, the manifest is marked ``interrupted`` if the disk still takes it (if not, it
        says ``running`` and, with the lock gone, reads as ``interrupted`` all the same), and
        the lock is released. The next start with the same setup resumes the run.
        """
        self._scorer.shutdown(wait=True)
        error = write_error(self.store.path, exc)
        try:
            self.row_file.close()
        except OSError:
            pass  # buffered bytes of a row in flight: that sample is run again
        if self.ctx.is_main:
            try:
                self.store.update_manifest(status="interrupted", finished=iso(utc_now()), failure=str(error))
            except OSError:
                pass
            self.store.release_lock()
        return error

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
            from dpbench.datasets import load_spec

            folders = list(dict.fromkeys(list(load_spec(entry.dataset).get("folders", [])) + [entry.dataset]))
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
            record.update(status="error", reason=error_text(exc), root=str(root))
            if self.ctx.is_main:
                self.say(f"{name}: cannot be opened - {error_text(exc)}")
            self._write_manifest()
            return
        protocol = self.protocol.for_dataset(dataset.depth_range)
        lo, hi = protocol.depth_bounds
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
            excluded=dataset.exclusion_summary(), expected_samples=dataset.spec.get("expected_samples"),
            status="partial", reason="in progress",
        )
        self._write_manifest()
        if self.ctx.is_main:
            self._drop_foreign_rows(name, ids)
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
        self._run_samples(name, dataset, ids, todo, total=mine, protocol=protocol)
        if self.ctx.is_main and not self.ctx.distributed:
            self._settle_record(name, ids, selected, entry.tasks)
            self._write_manifest()

    def _drop_foreign_rows(self, name: str, ids: Sequence[str]) -> None:
        """Rows read back for samples the dataset does not have are dropped, never scored."""
        dropped = self.store.drop_foreign_rows(name, ids)
        if dropped:
            known = set(ids)
            self.say(f"{name}: dropped {dropped} row(s) of the run for samples not in the dataset")
            self.done = {k for k in self.done if k[0] != name or k[1] in known}
            self.failed = {k for k in self.failed if k[0] != name or k[1] in known}

    def _settle_record(self, name: str, ids: Sequence[str], selected: Sequence[int],
                       tasks: Sequence[str]) -> None:
        """Final status and error count of a dataset, from the rows present."""
        record = self.records[name]
        wanted = {(name, ids[i], t) for i in selected for t in tasks}
        have = wanted & self.done
        record["num_errors"] = sum(1 for d, _ in self.failed if d == name)
        self._set_status(record, evaluated=len(have), expected=len(wanted), n_selected=len(selected))

    def _run_samples(self, name: str, dataset: Any, ids: Sequence[str], todo: list[tuple[int, list[str]]],
                     total: int, protocol: Protocol) -> None:
        tasks_of = dict(todo)
        bar = progress(total=total, initial=total - len(todo), desc=name, unit="img", say=self.say,
                       enabled=bool(self.config.progress and self.ctx.is_main))
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
                    rows = error_rows(name, ids[item.index], item.index, tasks_of[item.index], item.error,
                                      seconds_load=item.seconds)
                    pending.append((item.index, _done_future(rows)))
                else:
                    batch.append(item)
                    if len(batch) >= int(self.config.batch_size):
                        self._predict(name, ids, batch, tasks_of, pending, protocol)
                        batch = []
                self._drain(pending, bar, shown, name, keep=max_pending)
                if self.stopped:
                    break
            if batch and not self.stopped:
                self._predict(name, ids, batch, tasks_of, pending, protocol)
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
            bar.advance()
            errors = [r for r in rows if r["status"] == "error"]
            if errors:
                self.errors += 1
                shown[0] += 1
                if shown[0] <= MAX_ERROR_LINES and not quiet:
                    self.say(f"{name}: sample {rows[0]['sample_id']!r} ({errors[0]['task']}): {errors[0]['error']}")
                if self.config.on_error == "stop":
                    self.stopped = True

    def _predict(self, name: str, ids: Sequence[str], batch: list[Loaded], tasks_of: dict,
                 pending: deque, protocol: Protocol) -> None:
        samples = [item.sample for item in batch]
        focals = []
        for item in batch:
            if any(get_task(t).uses_depth for t in tasks_of[item.index]):
                focals.append(focal_for_model(item.sample, self.protocol.focal_mode_for(name)))
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
            job = self._scorer.submit(self._score, name, item, tasks_of[item.index], prediction, focal, source,
                                      seconds, protocol)
            pending.append((item.index, job))

    def _score(self, name: str, item: Loaded, tasks: Sequence[str], prediction: Any, focal: float | None,
               focal_source: str, seconds_predict: float, protocol: Protocol) -> list[dict]:
        """Rows of one sample (runs in a scoring thread)."""
        timings = {"seconds_load": item.seconds, "seconds_predict": seconds_predict}
        rows = score_sample(name, item.sample, item.index, tasks, prediction, protocol, self.output_kind,
                            focal_given=focal, focal_mode_source=focal_source, timings=timings)
        if self.config.save_predictions and isinstance(prediction, Prediction):
            self._save_prediction(name, item.sample.id, item.sample, prediction, focal_source, focal is not None)
        return rows

    def _save_prediction(self, name: str, sample_id: str, sample: Sample, prediction: Prediction,
                         focal_source: str, given: bool) -> None:
        from dpbench.tasks.focal import estimated_focal

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
                self.store.update_manifest(status=status, finished=iso(utc_now()), failure=failure)
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
            self.store.merge_shards(self.suite.dataset_names, task_names())
            self.store.consolidate(self.suite.dataset_names, task_names())
            if self.config.save_predictions and status != "interrupted":
                self.store.merge_predictions()
            self.store.remove_empty_shards()
            if self.ctx.distributed:
                rows = self.store.rows()
                for entry in self.suite.entries:
                    record = self.records[entry.dataset]
                    if record["status"] in ("missing", "error") or record.get("num_samples") is None:
                        continue
                    self._settle_shared_record(entry, rows)
            status, failure = self._coverage_status(status, failure)
            self.store.update_manifest(
                status=status, finished=iso(utc_now()), failure=failure,
                datasets=[self.records[e.dataset] for e in self.suite.entries],
                **self._observed(),
            )
            self.store.release_lock()
        self.ctx.barrier()
        return status

    def _observed(self) -> dict:
        """``{"model_observed": ...}``: what the model reports it chose, merged over what an earlier
        session of this run recorded (a resumed run only sees the datasets it still had to do)."""
        observe = getattr(self.model, "observed", None)
        seen = observe() if callable(observe) else {}
        if not seen:
            return {}
        merged = dict(self.store.manifest.get("model_observed") or {})
        for key, value in seen.items():
            old = merged.get(key)
            merged[key] = {**old, **value} if isinstance(old, dict) and isinstance(value, dict) else value
        return {"model_observed": merged}

    def _coverage_status(self, status: str, failure: str | None) -> tuple[str, str | None]:
        """An honest run status: ``complete`` only when every dataset of the suite was found and
        fully scored (a ``--limit`` the user asked for aside); ``empty`` when nothing was scored;
        ``partial`` otherwise, naming the datasets that are missing or incomplete."""
        if status != "complete":
            return status, failure
        records = [self.records[e.dataset] for e in self.suite.entries]
        if not any(r.get("num_samples") for r in records if r["status"] not in ("missing", "error")):
            names = ", ".join(f"{r['name']} ({r['status']})" for r in records)
            return "empty", f"no sample was scored: {names}"
        short = [r for r in records if r["status"] != "complete" and not r.get("limited")]
        if short:
            return "partial", "not fully evaluated: " + "; ".join(
                f"{r['name']} {r['status']}" + (f" ({r['reason']})" if r.get("reason") else "") for r in short)
        return status, failure

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
        record["limited"] = False
        if evaluated < expected:
            record["status"] = "partial"
            record["reason"] = f"{expected - evaluated} of {expected} sample-task pairs not evaluated"
            return
        limited = (self.config.limit is not None and record.get("num_available", 0) > n_selected
                   and self.sample_filter is None)
        record["status"] = "partial" if limited else "complete"
        record["limited"] = bool(limited)
        record["reason"] = (f"limited to the first {n_selected} of {record['num_available']} samples"
                            if limited else "")


__all__ = ["CONSOLIDATE_EVERY", "Evaluation", "MAX_ERROR_LINES"]
