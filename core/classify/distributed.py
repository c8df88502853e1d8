"""Training on several processes (GPUs or nodes) with PyTorch's DistributedDataParallel, launched by ``torchrun``.

``torchrun`` starts one process per device and tells each its place through environment variables (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``...). Every process runs the same training code: each takes its own
shard of every epoch's (identically shuffled) image order, gradients are averaged across processes after every step,
and process 0 alone validates, writes checkpoints and logs. Backend: NCCL on GPUs, gloo on CPUs. Without torchrun the
world is one process and nothing here does anything.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["World", "all_sum", "barrier", "process_group", "shard", "world_from_environment"]


@dataclass(frozen=True)
class World:
    """This process's place among the training processes.

    Attributes
    ----------
    rank, size, local_rank : int
        Global index, number of processes, index on this machine.
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Process 0: the one that validates, saves and logs."""
        return self.rank == 0


def world_from_environment() -> World:
    """The world ``torchrun`` describes in the environment; one process when it is absent."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    return World(rank=int(os.environ.get("RANK", "0")), size=size, local_rank=int(os.environ.get("LOCAL_RANK", "0")))


@contextmanager
def process_group(world: World, device: torch.device):
    """Join the other processes for the duration (NCCL on GPUs, gloo on CPUs); nothing for a world of one."""
    if world.size == 1:
        yield
        return
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", rank=world.rank,
                            world_size=world.size)  # fmt: skip
    try:
        yield
    finally:
        dist.destroy_process_group()


def shard(order: torch.Tensor, world: World) -> torch.Tensor:
    """This process's share of an epoch's order: every ``size``-th image from ``rank``, all shares equally long (a
    process that took more steps than the others would wait for them forever)."""
    if world.size == 1:
        return order
    length = order.numel() // world.size
    return order[world.rank :: world.size][:length]


def all_sum(values: list[float], world: World) -> list[float]:
    """Element-wise sums of ``values`` over every process."""
    if world.size == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def barrier(world: World) -> None:
    """Wait until every process gets here."""
    if world.size > 1:
        dist.barrier()
