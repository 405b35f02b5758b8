"""Peak memory of a measured block, above what was in use when it began.

CUDA: the allocator's ``max_memory_allocated`` / ``max_memory_reserved`` after
``reset_peak_memory_stats``, minus the memory allocated at the start (the loaded model).

CPU: the process's peak resident set above a reference resident set (by default the one at
the start of the block; :func:`run_speed` passes the resident set measured right after the
model was loaded). On Linux the kernel's own high-water mark ``VmHWM`` is reset at the start
(``/proc/self/clear_refs``) and read at the end, which sees every peak however brief; where that
is impossible a thread samples ``/proc/self/statm`` every few milliseconds (and may miss
peaks shorter than the interval: the report's ``method`` says which). Memory the allocator kept
from earlier sizes counts as in use, so a CPU peak can be an overestimate, never an
underestimate, of what the measured calls needed on top of the reference.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

MB = 1024 * 1024


@dataclass
class MemoryReport:
    """Peak memory of one block in MiB; ``reserved_mb`` only on CUDA (else None)."""

    peak_mb: float | None = None
    reserved_mb: float | None = None
    reference_mb: float | None = None
    method: str = "none"


def _status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_bytes() -> int | None:
    """The current resident set of this process in bytes (None where it cannot be read)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        # ru_maxrss is the peak, not the current size: usable only as an upper bound.
        usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return usage if os.uname().sysname == "Darwin" else usage * 1024
    except (ImportError, OSError):
        return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak resident set (VmHWM) to the current one; False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return _status_bytes("VmHWM") is not None


class _Sampler(threading.Thread):
    def __init__(self, interval: float):
        super().__init__(name="dpbench-rss-sampler", daemon=True)
        self.interval = interval
        self.peak = rss_bytes() or 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            value = rss_bytes()
            if value is not None and value > self.peak:
                self.peak = value

    def finish(self) -> int:
        self._stop_event.set()
        self.join()
        value = rss_bytes()
        return max(self.peak, value or 0)


class PeakMemory:
    """Context manager measuring the peak memory of its block on ``device`` (see module doc).

    ``reference_bytes`` (CPU only): the resident set the peak is measured above (default: the
    one at entry). ``cuda``: a stand-in for ``torch.cuda`` (tests).
    """

    def __init__(self, device, *, reference_bytes: int | None = None, interval: float = 0.005, cuda=None):
        self.kind = getattr(device, "type", str(device).split(":")[0])
        self.device = device
        self.reference_bytes = reference_bytes
        self.interval = interval
        self._cuda = cuda
        self.report = MemoryReport()
        self._sampler: _Sampler | None = None
        self._hwm = False
        self._start = 0

    @property
    def cuda(self):
        if self._cuda is None:
            import torch

            self._cuda = torch.cuda
        return self._cuda

    def __enter__(self) -> PeakMemory:
        if self.kind == "cuda":
            self.cuda.synchronize(self.device)
            self._start = self.cuda.memory_allocated(self.device)
            self.cuda.reset_peak_memory_stats(self.device)
        elif self.kind == "cpu":
            current = rss_bytes()
            self._start = self.reference_bytes if self.reference_bytes is not None else (current or 0)
            self._hwm = reset_peak_rss()
            if not self._hwm and current is not None:
                self._sampler = _Sampler(self.interval)
                self._sampler.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.kind == "cuda":
            self.cuda.synchronize(self.device)
            peak = self.cuda.max_memory_allocated(self.device)
            reserved = self.cuda.max_memory_reserved(self.device)
            self.report = MemoryReport(peak_mb=max(peak - self._start, 0) / MB, reserved_mb=reserved / MB,
                                       reference_mb=self._start / MB, method="cuda_max_allocated")
        elif self.kind == "cpu":
            if self._hwm:
                peak, method = _status_bytes("VmHWM"), "vmhwm"
            elif self._sampler is not None:
                peak, method = self._sampler.finish(), f"sampled_{self.interval * 1e3:g}ms"
            else:
                peak, method = None, "none"
            self.report = MemoryReport(
                peak_mb=None if peak is None else max(peak - self._start, 0) / MB,
                reference_mb=self._start / MB, method=method,
            )
        # other devices (mps): no portable peak statistic; the report stays empty


__all__ = ["MemoryReport", "PeakMemory", "reset_peak_rss", "rss_bytes"]
