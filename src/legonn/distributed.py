"""Rank bookkeeping for torchrun + DDP over gloo; a single process is world size 1."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


class Distributed:
    """Rank bookkeeping; a single process is world size 1."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        """Every rank waits for the others, then leaves the group (a no-op in a single process)."""
        if self.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    def gather_rng(self) -> list[torch.Tensor] | None:
        """Every rank's torch RNG state (so a resumed multi-process run replays its dropout exactly)."""
        if self.world == 1:
            return None
        state = torch.get_rng_state()
        states = [torch.empty_like(state) for _ in range(self.world)]
        dist.all_gather(states, state)
        return states

    def broadcast_flag(self, flag: bool) -> bool:
        if self.world == 1:
            return flag
        t = torch.tensor([int(flag)])
        dist.broadcast(t, 0)
        return bool(t.item())
