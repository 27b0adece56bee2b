"""torch.distributed set-up from the torchrun environment; everything is a no-op in one process."""
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    def device(self, requested: str) -> torch.device:
        if requested == "auto":
            requested = "cuda" if torch.cuda.is_available() else "cpu"
        if requested == "cuda" and self.enabled:
            return torch.device("cuda", self.local_rank)
        return torch.device(requested)


@contextmanager
def distributed(device_kind: str) -> Iterator[DistEnv]:
    """Join the process group when launched by torchrun (NCCL on GPUs, gloo on CPU) and leave it on the way out.
    A block that ends without an error ends on every rank together: torchrun stops the other ranks as soon as one
    exits, and rank 0 may still be writing (a checkpoint, the run's lock). A gloo worker thread drops its finished
    collective's tensors only once it holds the GIL; if the group is torn down first (at the interpreter's exit:
    SIGABRT, "terminate called without an active exception"; or when the DDP wrapper is freed: a deadlock), a run
    that went well fails, so the group is left with the GIL released for a moment first. A group the caller already
    joined is left to the caller."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    env = DistEnv(rank=int(os.environ.get("RANK", "0")), world=world, local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    joined = env.enabled and not dist.is_initialized()
    if joined:
        use_cuda = device_kind != "cpu" and torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(env.local_rank)
        dist.init_process_group("nccl" if use_cuda else "gloo")
    try:
        yield env
        barrier(env)
    finally:
        if joined:
            time.sleep(0.1)  # releases the GIL: the gloo threads finish dropping their last tensors
            dist.destroy_process_group()


def mean_over_ranks(values: dict[str, float], env: DistEnv, device: torch.device) -> dict[str, float]:
    if not env.enabled:
        return values
    t = torch.tensor(list(values.values()), device=device, dtype=torch.float64)
    dist.all_reduce(t)
    return dict(zip(values, (t / env.world).tolist()))


def any_rank(flags: tuple[bool, ...], env: DistEnv, device: torch.device) -> tuple[bool, ...]:
    """Each flag true on every rank if it is true on any (e.g. rank 0's clock ran out); one all-reduce for all."""
    if not env.enabled:
        return flags
    t = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in t.tolist())


def barrier(env: DistEnv) -> None:
    if env.enabled:
        dist.barrier()
