"""Reading samples ahead of the model in loader threads (bounded, in dataset order)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dpbench.types import Sample


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


__all__ = ["Loaded", "Prefetcher"]
