"""Out-of-memory failures: how one is recognised, how it is written in a row, what is freed after it.

The paper prints ``OOM`` where a model ran out of memory on a dataset (ZeroDepth on three datasets
of Table 1). dpbench records such a failure as an ``error`` row whose text starts with
:data:`OOM_PREFIX`, in evaluation runs (one row per sample) and in speed runs (one row per size);
the reports read that prefix back (:func:`is_oom_text`).
"""

from __future__ import annotations

from typing import Any

#: Start of the error text of an allocation failure in a run's rows.
OOM_PREFIX = "OOM"
#: Substrings of the error messages of an allocation failure (CUDA, MPS, CPU allocators).
OOM_MESSAGES = ("out of memory", "can't allocate memory", "cannot allocate memory", "not enough memory",
                "failed to allocate")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for an allocation failure: ``torch.OutOfMemoryError`` (``torch.cuda.OutOfMemoryError``),
    ``MemoryError``, or a RuntimeError whose message says the allocator ran out of memory."""
    try:
        import torch

        oom_type = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
        if isinstance(exc, oom_type):
            return True
    except ImportError:
        pass
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc).lower()
        return any(message in text for message in OOM_MESSAGES)
    return False


def oom_text(exc: BaseException, limit: int = 300) -> str:
    """The one-line row text of an allocation failure: ``OOM: <type>: <first line of the message>``."""
    first_line = (str(exc).strip().splitlines() or [""])[0][:limit]
    return f"{OOM_PREFIX}: {type(exc).__name__}: {first_line}"


def is_oom_text(text: Any) -> bool:
    """Whether a row's error text records an allocation failure."""
    return isinstance(text, str) and text.startswith(OOM_PREFIX)


def release_memory(device: Any = None) -> None:
    """Free what can be freed after a failure (garbage, the CUDA cache)."""
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


__all__ = ["OOM_MESSAGES", "OOM_PREFIX", "is_oom_text", "is_out_of_memory", "oom_text", "release_memory"]
