"""Running a model over a suite: one job per module.

- :mod:`~dpbench.runner.api`: :func:`run` (a model by name) and :func:`evaluate` (a model object);
- :mod:`~dpbench.runner.config`: :class:`RunConfig`, :class:`RunResult`;
- :mod:`~dpbench.runner.evaluation`: loading ahead, batching, scoring threads, rows in order;
- :mod:`~dpbench.runner.scoring`: the prediction check and one row per task of a sample;
- :mod:`~dpbench.runner.focal`: the focal length given to the model;
- :mod:`~dpbench.runner.prefetch`: loader threads;
- :mod:`~dpbench.runner.provenance`: model record, environment, run ids, resume fingerprint;
- :mod:`~dpbench.runner.resume`: a new run folder or the unfinished one with the same setup;
- :mod:`~dpbench.runner.dist`: sharding over ``torchrun`` processes;
- :mod:`~dpbench.runner.rescore`: scoring cached predictions again with other protocol options.

Run files are read and written only through :class:`dpbench.store.RunStore`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Public names and the submodule each comes from, imported on first use (``dpbench --help``
#: reads the choice lists of :mod:`~dpbench.runner.config` without importing pandas or torch).
_LAZY = {
    "default_models": "api", "default_runs": "api", "evaluate": "api", "print_message": "api", "run": "api", "run_summary": "api",
    "ON_ERROR_POLICIES": "config", "PRECISIONS": "config", "RunConfig": "config", "RunResult": "config",
    "describe_model": "provenance", "environment_record": "provenance", "new_run_id": "provenance",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"dpbench.runner.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'dpbench.runner' has no attribute {name!r}")


__all__ = list(_LAZY)
