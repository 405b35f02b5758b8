"""What a run is asked to do (:class:`RunConfig`) and what it returns (:class:`RunResult`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dpbench.errors import DpbenchError

if TYPE_CHECKING:  # pragma: no cover
    from dpbench.store import RunStore
    from dpbench.suites import Suite

ON_ERROR_POLICIES = ("continue", "stop")
PRECISIONS = ("fp32", "fp16", "bf16")


@dataclass
class RunConfig:
    """Everything ``dpbench run`` accepts (see ``dpbench run --help`` for the meaning of each)."""

    #: A registered model name (see ``dpbench models``); ignored when a model object is evaluated.
    model: str = ""
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


__all__ = ["ON_ERROR_POLICIES", "PRECISIONS", "RunConfig", "RunResult"]
