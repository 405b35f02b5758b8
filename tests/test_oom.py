"""Out-of-memory failures: recognised once (dpbench.oom), written ``OOM: ...`` in evaluation rows,
counted per dataset, and printed ``OOM`` only when every failed sample of an entry ran out of memory."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from dpbench.errors import ModelError
from dpbench.oom import is_oom_text, is_out_of_memory, oom_text
from dpbench.report.aggregate import count_oom_samples
from dpbench.report.coverage import is_oom_entry
from dpbench.runner.scoring import error_rows, error_text


@pytest.mark.parametrize(("exc", "expected"), [
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore"),
     "OOM: OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
    (MemoryError("Unable to allocate 3.1 GiB"), "OOM: MemoryError: Unable to allocate 3.1 GiB"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"),
     "OOM: RuntimeError: [enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"),
    (RuntimeError("shape mismatch"), "RuntimeError: shape mismatch"),
    (ModelError("sample 'a': bad"), "sample 'a': bad"),
])
def test_error_text_marks_allocation_failures(exc, expected):
    assert error_text(exc) == expected
    assert is_oom_text(expected) is is_out_of_memory(exc) is expected.startswith("OOM")
    rows = error_rows("booster", "s1", 0, ["metric_depth", "pointcloud"], exc)
    assert [r["error"] for r in rows] == [expected, expected] and {r["status"] for r in rows} == {"error"}


def test_oom_text_is_one_line_and_bounded():
    text = oom_text(MemoryError("x" * 500 + "\nsecond line"), limit=20)
    assert text == "OOM: MemoryError: " + "x" * 20


def _aggregate(errors: list[str], scored: int) -> dict:
    """A run aggregate of one dataset with ``scored`` ok samples and one failed sample per error."""
    rows = pd.DataFrame(
        [{"dataset": "d", "sample_id": f"ok{i}", "task": "metric_depth", "status": "ok", "error": ""}
         for i in range(scored)]
        + [{"dataset": "d", "sample_id": f"bad{i}", "task": "metric_depth", "status": "error", "error": e}
           for i, e in enumerate(errors)])
    expected = scored + len(errors)
    return {"results": {"d": {"num_errors": len(errors)}},
            "datasets": {"d": {"num_oom": count_oom_samples(rows)}},
            "coverage": {"d": {"metric_depth": {"scored": scored, "expected": expected}}}}


def test_entry_is_oom_only_when_every_failure_is_oom():
    oom = "OOM: OutOfMemoryError: CUDA out of memory"
    assert is_oom_entry(_aggregate([oom, oom, oom], scored=0), "d", "delta1")
    assert is_oom_entry(_aggregate([oom], scored=2), "d", "delta1")  # the paper would not print it either
    assert not is_oom_entry(_aggregate([oom, "RuntimeError: shape mismatch"], scored=2), "d", "delta1")
    assert not is_oom_entry(_aggregate([], scored=3), "d", "delta1")  # full coverage
    assert not is_oom_entry(_aggregate([oom], scored=2), None, "avg_rank")
    assert _aggregate([oom, "ValueError: x", oom], scored=1)["datasets"]["d"]["num_oom"] == 2
