"""Batches indexed by step, so that a resumed or sharded run sees exactly the samples it would have."""
from dataclasses import dataclass
from typing import Iterator

import torch


@dataclass(frozen=True)
class StepBatches:
    """Index lists for one rank: micro-batch j of the run holds global rows [j*G, (j+1)*G) of the
    epoch permutation (G = global micro-batch), and this rank keeps its contiguous share of them.
    Each epoch is a fresh permutation seeded by (seed, epoch); the incomplete tail is dropped."""

    dataset_size: int
    micro_batch: int  # global rows per micro-batch, over all ranks
    rank: int
    world: int
    seed: int
    start: int  # first micro-batch to yield

    def __post_init__(self):
        if self.micro_batch % self.world:
            raise ValueError(f"micro-batch {self.micro_batch} does not split over {self.world} ranks")
        if self.dataset_size < self.micro_batch:
            raise ValueError(f"dataset has {self.dataset_size} samples, fewer than one micro-batch ({self.micro_batch})")

    @property
    def rows(self) -> slice:
        per_rank = self.micro_batch // self.world
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)

    def __iter__(self) -> Iterator[list[int]]:
        per_epoch = self.dataset_size // self.micro_batch
        j, epoch, perm = self.start, -1, None
        while True:
            if j // per_epoch != epoch:
                epoch = j // per_epoch
                perm = torch.randperm(self.dataset_size, generator=torch.Generator().manual_seed(self.seed * 100003 + epoch))
            offset = (j % per_epoch) * self.micro_batch
            yield perm[offset : offset + self.micro_batch][self.rows].tolist()
            j += 1
