"""torchrun support: DistributedDataParallel over gloo (CPU) or nccl (GPU).

Run as ``torchrun --nproc_per_node N -m training.finetune ...``; without torchrun the
same code runs as a single process. Rank 0 alone validates, checkpoints and writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return cls(dist.get_rank(), dist.get_world_size())

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        if not self.enabled:
            return module
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(module)

    def shard(self, order: list[int]) -> list[int]:
        """This rank's equal share of an epoch's example order (a remainder is dropped)."""
        if not self.enabled:
            return order
        usable = len(order) - len(order) % self.world_size
        return order[self.rank:usable:self.world_size]

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()
