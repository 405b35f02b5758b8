"""Speed timing and memory: statistics from injected clocks, the CUDA-event path with a fake torch.cuda."""

from __future__ import annotations

import pytest

from dpbench.speed.memory import PeakMemory
from dpbench.speed.timing import CudaEventTimer, LatencyStats, WallTimer, make_timer, time_calls


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SleepingModel:
    """'Sleeps' the given durations (ms) on a fake clock, one per call, in order."""

    def __init__(self, clock: FakeClock, durations_ms):
        self.clock = clock
        self.durations = list(durations_ms)
        self.calls = 0

    def __call__(self):
        self.clock.now += self.durations[self.calls] / 1e3
        self.calls += 1


def test_latency_statistics_of_known_values():
    stats = LatencyStats.from_seconds([0.005, 0.001, 0.003, 0.002, 0.004])
    assert stats.n == 5
    assert stats.median_ms == pytest.approx(3.0)
    assert stats.min_ms == pytest.approx(1.0)
    assert stats.max_ms == pytest.approx(5.0)
    assert stats.mean_ms == pytest.approx(3.0)
    assert stats.p10_ms == pytest.approx(1.4)  # linear interpolation between 1 and 2
    assert stats.p90_ms == pytest.approx(4.6)
    assert stats.min_ms <= stats.p10_ms <= stats.median_ms <= stats.p90_ms <= stats.max_ms
    assert stats.per_second(2) == pytest.approx(2 / 0.003)


def test_latency_statistics_refuse_empty_or_negative():
    with pytest.raises(ValueError):
        LatencyStats.from_seconds([])
    with pytest.raises(ValueError):
        LatencyStats.from_seconds([0.1, -0.1])


def test_warmup_calls_are_not_timed():
    clock = FakeClock()
    model = SleepingModel(clock, [500, 400, 7, 3, 5])
    seconds = time_calls(model, warmup=2, repeats=3, timer=WallTimer(clock))
    assert model.calls == 5
    assert seconds == pytest.approx([0.007, 0.003, 0.005])
    stats = LatencyStats.from_seconds(seconds)
    assert stats.median_ms == pytest.approx(5.0)
    assert stats.max_ms == pytest.approx(7.0)


def test_wall_timer_synchronises_before_each_reading():
    clock, events = FakeClock(), []
    timer = WallTimer(lambda: events.append("clock") or clock(), sync=lambda: events.append("sync"))
    timer.start()
    clock.now = 2.0
    assert timer.stop() == pytest.approx(2.0)
    assert events == ["sync", "clock", "sync", "clock"]


def test_time_calls_checks_its_arguments():
    with pytest.raises(ValueError):
        time_calls(lambda: None, warmup=0, repeats=0, timer=WallTimer())


class FakeCuda:
    """Enough of torch.cuda for the event timer and the peak-memory statistics."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.log: list[str] = []
        self.allocated = 1000 * 2**20
        self.peak = self.allocated
        self.reserved = 3000 * 2**20

    class _Event:
        def __init__(self, cuda, enable_timing=False):
            assert enable_timing
            self.cuda, self.time = cuda, None

        def record(self):
            self.cuda.log.append("record")
            self.time = self.cuda.clock.now

        def synchronize(self):
            self.cuda.log.append("event_sync")

        def elapsed_time(self, end):
            return (end.time - self.time) * 1e3  # milliseconds, like CUDA

    def Event(self, enable_timing=False):  # noqa: N802 - torch.cuda's name
        return self._Event(self, enable_timing)

    def synchronize(self, device=None):
        self.log.append("sync")

    def memory_allocated(self, device=None):
        return self.allocated

    def reset_peak_memory_stats(self, device=None):
        self.log.append("reset_peak")
        self.peak = self.allocated

    def max_memory_allocated(self, device=None):
        return self.peak

    def max_memory_reserved(self, device=None):
        return self.reserved


def test_cuda_event_timer_with_a_fake_cuda():
    clock = FakeClock()
    cuda = FakeCuda(clock)
    timer = make_timer("cuda:0", cuda=cuda)
    assert isinstance(timer, CudaEventTimer)
    model = SleepingModel(clock, [50, 20, 30, 10])
    seconds = time_calls(model, warmup=1, repeats=3, timer=timer)
    assert seconds == pytest.approx([0.020, 0.030, 0.010])
    # per timed call: device sync, start event, end event, wait for the end event
    assert cuda.log == ["sync", "record", "record", "event_sync"] * 3


def test_make_timer_on_cpu_is_a_wall_timer():
    assert isinstance(make_timer("cpu"), WallTimer)


def test_cuda_peak_memory_is_above_the_loaded_model():
    cuda = FakeCuda(FakeClock())
    with PeakMemory("cuda", cuda=cuda) as memory:
        cuda.peak = cuda.allocated + 256 * 2**20
    assert "reset_peak" in cuda.log
    assert memory.report.peak_mb == pytest.approx(256)
    assert memory.report.reserved_mb == pytest.approx(3000)
    assert memory.report.reference_mb == pytest.approx(1000)
