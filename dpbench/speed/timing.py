"""Timers and latency statistics of repeated calls.

Every reading is taken with the device idle: :class:`WallTimer` synchronises the device before
both clock readings (CPU, MPS); :class:`CudaEventTimer` records CUDA events on the current stream
around the call and waits for the end event, so the time is the stream's own and not the time
it took the host to enqueue work. Both take their dependencies as arguments (``clock``,
``sync``, ``cuda``) so that the statistics can be tested with a fake clock and a fake
``torch.cuda``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    """Statistics of per-call latencies, in milliseconds (percentiles: linear interpolation)."""

    n: int
    median_ms: float
    p10_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def from_seconds(cls, seconds: Sequence[float]) -> LatencyStats:
        values = np.asarray(list(seconds), dtype=np.float64) * 1e3
        if values.size == 0:
            raise ValueError("no timings to summarise")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(f"timings must be finite and non-negative, got {values.tolist()}")
        p10, median, p90 = np.percentile(values, [10, 50, 90])
        return cls(n=int(values.size), median_ms=float(median), p10_ms=float(p10), p90_ms=float(p90),
                   min_ms=float(values.min()), max_ms=float(values.max()), mean_ms=float(values.mean()))

    def per_second(self, items: int = 1) -> float:
        """Items per second at the median latency (``items`` = images per call)."""
        return items * 1e3 / self.median_ms if self.median_ms > 0 else float("inf")

    def as_dict(self) -> dict:
        return asdict(self)


class WallTimer:
    """``start()`` / ``stop() -> seconds`` on a monotonic clock, synchronising before each reading."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter, sync: Callable[[], None] | None = None):
        self.clock = clock
        self.sync = sync or (lambda: None)
        self._start: float | None = None

    def start(self) -> None:
        self.sync()
        self._start = self.clock()

    def stop(self) -> float:
        if self._start is None:
            raise RuntimeError("stop() without start()")
        self.sync()
        elapsed = self.clock() - self._start
        self._start = None
        return elapsed


class CudaEventTimer:
    """Times the work queued between ``start()`` and ``stop()`` on the current CUDA stream.

    The device is synchronised before the start event (so that earlier work is not counted) and
    the end event is waited for. ``cuda`` is ``torch.cuda`` unless a stand-in is given.
    """

    def __init__(self, device=None, cuda=None):
        if cuda is None:
            import torch

            cuda = torch.cuda
        self.cuda = cuda
        self.device = device
        self._events = None

    def start(self) -> None:
        begin = self.cuda.Event(enable_timing=True)
        end = self.cuda.Event(enable_timing=True)
        self.cuda.synchronize(self.device)
        begin.record()
        self._events = (begin, end)

    def stop(self) -> float:
        if self._events is None:
            raise RuntimeError("stop() without start()")
        begin, end = self._events
        end.record()
        end.synchronize()
        self._events = None
        return float(begin.elapsed_time(end)) / 1e3  # elapsed_time is in milliseconds


def make_timer(device, *, cuda=None, clock: Callable[[], float] = time.perf_counter):
    """The timer for ``device`` (a ``torch.device`` or its string): CUDA events on CUDA, else wall clock."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        return CudaEventTimer(device, cuda=cuda)
    if kind == "mps":
        from dpbench.models.device import synchronize

        return WallTimer(clock, sync=lambda: synchronize(device))
    return WallTimer(clock)


def time_calls(fn: Callable[[], object], *, warmup: int, repeats: int, timer) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed; the seconds of each."""
    if warmup < 0 or repeats < 1:
        raise ValueError(f"need warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        timer.start()
        fn()
        seconds.append(timer.stop())
    return seconds


__all__ = ["CudaEventTimer", "LatencyStats", "WallTimer", "make_timer", "time_calls"]
