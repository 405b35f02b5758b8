"""Sharding a run over the processes of ``torchrun`` (torch.distributed, any backend).

Under ``torchrun`` every process (rank) evaluates the samples whose dataset index ``i`` satisfies
``i % world_size == rank`` and writes its rows under ``<run>/shards/rank-<r>/``; after a barrier,
rank 0 merges the shards into the normal run layout. Outside ``torchrun`` (no ``WORLD_SIZE`` or
``WORLD_SIZE=1``) everything here degrades to a single process without importing
``torch.distributed``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)

#: How long ranks wait for each other at a barrier before giving up (a whole dataset may lie
#: between two barriers when ranks are unevenly loaded).
BARRIER_TIMEOUT = timedelta(hours=6)


@dataclass
class DistContext:
    """Rank, world size and whether this process initialised the process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def owns(self, index: int) -> bool:
        """Whether sample ``index`` of a dataset belongs to this rank's shard."""
        return index % self.world_size == self.rank

    def device_for(self, device: str) -> str:
        """The device of this rank: ``cuda`` / ``auto`` with CUDA become ``cuda:<local_rank>``."""
        if not self.distributed:
            return device
        import torch

        if device in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return device

    # collectives (no-ops for a single process) -----------------------------------------------
    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            if self.backend == "nccl":
                dist.barrier(device_ids=[self.local_rank])
            else:
                dist.barrier()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if not self.distributed:
            return value
        import torch.distributed as dist

        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.distributed:
            return [value]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out

    def close(self) -> None:
        """Destroy the process group if this context created it."""
        if self.owns_group:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self.owns_group = False


def dist_context(device: str = "auto") -> DistContext:
    """The context of this process, initialising torch.distributed from torchrun's variables.

    Backend: ``$DPBENCH_DIST_BACKEND`` if set, else ``nccl`` when this rank runs on CUDA, else
    ``gloo``. A process group initialised by the caller is reused as is.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world_size <= 1:
        return DistContext()
    import torch
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    if dist.is_initialized():
        return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(),
                           local_rank=local_rank, backend=str(dist.get_backend()), owns_group=False)
    uses_cuda = device in ("auto", "cuda") and torch.cuda.is_available() or device.startswith("cuda")
    backend = os.environ.get("DPBENCH_DIST_BACKEND") or ("nccl" if uses_cuda else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend, timeout=BARRIER_TIMEOUT)
    log.info("rank %d of %d initialised (%s)", rank, world_size, backend)
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                       backend=backend, owns_group=True)


__all__ = ["DistContext", "dist_context"]
