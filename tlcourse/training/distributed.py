"""Several processes, one model: PyTorch's DistributedDataParallel (DDP), started by ``torchrun``.

``torchrun --nproc_per_node 2 train.py`` starts ``train.py`` twice and tells each process who it is through
environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). In each:

1. :func:`init_distributed` joins the process group (NCCL between GPUs, gloo on CPUs);
2. :func:`~tlcourse.training.make_loader` gives the process its own shard of every epoch (a
   ``DistributedSampler``: rank ``r`` of ``w`` takes examples ``r, r + w, r + 2w, ...`` of the shuffled order);
3. :class:`~tlcourse.training.Trainer` wraps the model in DDP, which averages the gradients over all processes
   during ``backward``, so every process takes the same optimizer step, the one a single process would take on
   the global batch (all the shards together), when every micro-batch holds as many loss tokens;
4. only the main process (rank 0) shows progress and writes files.

A plain ``python train.py`` runs the same script as one process: every helper here is a no-op without a group.

Example:
    >>> info = init_distributed()            # no torchrun here: one process
    >>> info, info.is_main
    (DistInfo(rank=0, world_size=1, local_rank=0), True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistInfo:
    """This process's place: ``rank`` among ``world_size`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True for the process that logs and saves (rank 0)."""
        return self.rank == 0


def is_distributed() -> bool:
    """True inside an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def dist_info() -> DistInfo:
    """This process's :class:`DistInfo`; ``DistInfo()`` (rank 0 of 1) outside a process group."""
    if not is_distributed():
        return DistInfo()
    rank = dist.get_rank()
    return DistInfo(rank, dist.get_world_size(), int(os.environ.get("LOCAL_RANK", rank)))


def init_distributed(backend: str | None = None) -> DistInfo:
    """Join the process group that torchrun's environment describes (``WORLD_SIZE`` > 1), once; else do nothing.

    ``backend`` defaults to ``"nccl"`` when CUDA is available (each process then uses GPU ``LOCAL_RANK``) and to
    ``"gloo"`` otherwise.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not is_distributed():
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)  # "env://": rank, world size and rendezvous from torchrun's variables
    return dist_info()


def wrap_ddp(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` inside ``DistributedDataParallel`` (parameters broadcast from rank 0, gradients averaged over
    processes in ``backward``); ``model`` itself outside a process group."""
    if not is_distributed():
        return model
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over all processes, in place, and return it (unchanged in a single process)."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier() -> None:
    """Wait until every process gets here (after rank 0 writes a file the others will read)."""
    if is_distributed():
        dist.barrier()


def cleanup_distributed() -> None:
    """Leave the process group, if any (the end of a torchrun script)."""
    if is_distributed():
        dist.destroy_process_group()
