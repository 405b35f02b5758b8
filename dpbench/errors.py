"""Exception types shared across dpbench, and the "did you mean" helper for unknown names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DpbenchError(Exception):
    """Base class of every error dpbench raises on purpose."""


class DatasetError(DpbenchError, ValueError):
    """A dataset file is missing, truncated, mis-tagged or inconsistent; the message names the file."""


class ModelError(DpbenchError):
    """A model cannot be created or returned an unusable prediction."""


class CheckpointError(ModelError, ValueError):
    """A checkpoint is missing, corrupted or does not match the architecture."""


class MissingExtraError(ModelError, ImportError):
    """An optional dependency group (a pip extra) is needed for this feature."""

    def __init__(self, feature: str, extra: str, module: str):
        super().__init__(
            f"{feature} needs the optional package '{module}'. Install it with: "
            f'pip install "dpbench[{extra}]"'
        )
        self.extra = extra
        self.module = module


class UnknownNameError(DpbenchError, KeyError):
    """A dataset, model, suite or metric name is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        message = f"unknown {kind} {name!r}.{hint} Known: {', '.join(known) or '(none)'}"
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.name = name
        self.known = known
        self.suggestions = close

    def __str__(self) -> str:  # KeyError would otherwise print the repr
        return self.message
