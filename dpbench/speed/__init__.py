"""Speed as a benchmark: latency, throughput, peak memory, parameters and FLOPs of a model.

Modules, one concept each:

- :mod:`~dpbench.speed.sizes`: the input sizes (``vga``, ``hd``, ``4k`` or ``WxH``);
- :mod:`~dpbench.speed.timing`: timers (device-synchronised wall clock, CUDA events) and the
  latency statistics of repeated calls;
- :mod:`~dpbench.speed.memory`: peak memory of a measured block (CUDA allocator statistics, or
  the process's peak resident set on the CPU);
- :mod:`~dpbench.speed.flops`: parameters, FLOPs and MACs, counted on the ``meta`` device;
- :mod:`~dpbench.speed.hooks`: the optional model protocol (``forward_callable``) and the
  out-of-memory test;
- :mod:`~dpbench.speed.run`: a speed measurement stored as a run (``kind: "speed"``);
- :mod:`~dpbench.speed.fp32`: the output difference of a non-plain setup (fp16/bf16, compile,
  speed-only options) from the same model at fp32;
- :mod:`~dpbench.speed.check`: :func:`check_speed`, a candidate against a baseline measured in
  the same job;
- :mod:`~dpbench.speed.table`: the Table 5-style text print;
- :mod:`~dpbench.speed.command`: the ``dpbench speed`` click command.

Importing this package does not import torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Public names and their submodules, imported on first use (``dpbench --help`` stays light).
_LAZY = {"check_speed": "check", "SpeedConfig": "run", "SpeedResult": "run", "run_speed": "run",
         "SIZE_PRESETS": "sizes", "InputSize": "sizes", "parse_sizes": "sizes"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"dpbench.speed.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'dpbench.speed' has no attribute {name!r}")


__all__ = list(_LAZY)
