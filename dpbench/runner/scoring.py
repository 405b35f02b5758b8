"""Scoring one sample: the prediction check, the map each task needs, one row per task.

Steps 2–3 of the order of operations (``docs/ARCHITECTURE.md``) happen here once per sample:
:func:`dpbench.models.check_prediction` refuses a prediction that cannot be scored (the one check
every path uses), then the map is resampled to the GT size for the tasks whose input is ``map``.
Each task then scores the sample (:meth:`dpbench.tasks.Task.score`); a failure becomes an
``error`` row naming the sample and the problem, never a missing row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from dpbench.errors import DpbenchError, ModelError
from dpbench.models.base import check_prediction
from dpbench.oom import is_out_of_memory, oom_text
from dpbench.protocol import Protocol
from dpbench.runner.focal import focal_source_of
from dpbench.tasks import get_task
from dpbench.tasks.maps import to_gt_resolution
from dpbench.types import Prediction, Sample


def error_text(exc: BaseException) -> str:
    """An exception as one line: dpbench's own messages as they are, an allocation failure as
    ``OOM: ...`` (the paper's OOM cells, :mod:`dpbench.oom`), others with their type."""
    if is_out_of_memory(exc):
        return oom_text(exc)
    if isinstance(exc, DpbenchError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def error_rows(dataset: str, sample_id: str, index: int, tasks: Sequence[str], exc: BaseException,
               **timings: float) -> list[dict]:
    """One ``error`` row per task of a sample that could not be scored."""
    text = error_text(exc)
    return [{"dataset": dataset, "sample_id": sample_id, "task": task, "status": "error", "error": text,
             "sample_index": index, **timings} for task in tasks]


def prepare_prediction(prediction: Any, sample: Sample, output_kind: str, resize: str, *,
                       to_gt: bool) -> Prediction:
    """The checked prediction, tagged with its output kind, resampled to the GT size if ``to_gt``."""
    if not isinstance(prediction, Prediction):
        raise ModelError(f"sample {sample.id!r}: the model returned {type(prediction).__name__}, not a Prediction")
    check_prediction(prediction, sample, output_kind, exact_size=False)
    prepared = replace(prediction, output_kind=output_kind)
    if to_gt:
        prepared = replace(prepared, depth=to_gt_resolution(prediction, sample, resize, output_kind))
    return prepared


def score_sample(dataset: str, sample: Sample, index: int, tasks: Sequence[str], prediction: Any,
                 protocol: Protocol, output_kind: str, *, focal_given: float | None, focal_mode_source: str,
                 timings: dict[str, float]) -> list[dict]:
    """The rows of one sample (one per task); ``protocol`` is bound to the dataset (``for_dataset``)."""
    if isinstance(prediction, BaseException):
        return error_rows(dataset, sample.id, index, tasks, prediction, **timings)
    task_objects = [get_task(name) for name in tasks]
    prepared: dict[str, Prediction | BaseException] = {}
    seconds_resize = 0.0
    for kind in ("map", "raw"):
        if any(t.input == kind for t in task_objects):
            start = time.perf_counter()
            try:
                prepared[kind] = prepare_prediction(prediction, sample, output_kind, protocol.resize,
                                                    to_gt=kind == "map")
            except Exception as exc:
                prepared[kind] = exc
            seconds_resize += time.perf_counter() - start
    rows = []
    variant = prediction.meta.get("model_variant") if isinstance(prediction, Prediction) else None
    for task in task_objects:
        row: dict[str, Any] = {"dataset": dataset, "sample_id": sample.id, "task": task.name,
                               "sample_index": index, **timings, "seconds_resize": seconds_resize}
        if variant is not None:  # a model routed per dataset says which network made this prediction
            row["model_variant"] = str(variant)
        start = time.perf_counter()
        try:
            task.check_sample(sample)
            given = prepared.get(task.input, prediction)
            if isinstance(given, BaseException):
                raise given
            if not isinstance(given, Prediction):
                raise ModelError(f"sample {sample.id!r}: the model returned {type(given).__name__}, "
                                 "not a Prediction")
            row.update(task.score(sample, given, protocol))
            if task.uses_depth:
                row["focal_px_used"] = focal_given if focal_given is not None else given.focal_px
                row["focal_source"] = focal_source_of(given, focal_mode_source, focal_given is not None)
            row.update(status="ok", error="")
        except Exception as exc:
            row.update(status="error", error=error_text(exc))
        row["seconds_metrics"] = time.perf_counter() - start
        rows.append(row)
    return rows


__all__ = ["error_rows", "error_text", "prepare_prediction", "score_sample"]
