"""Batches indexed by step, so that a resumed or sharded run sees exactly the samples it would have."""
from dataclasses import dataclass
from typing import Iterator

import torch


@dataclass(frozen=True)
class StepBatches:
    """Index lists for one rank: micro-batch j of the run holds global rows [j*G, (j+1)*G) of the
    epoch order (G = global micro-batch), and this rank keeps its contiguous share of them.
    Each epoch is a fresh permutation seeded by (seed, epoch); the incomplete tail is dropped.

    With `window` > 0 and per-sample `sizes`, each run of `window` micro-batches of the permutation is sorted
    by size before it is cut, and its micro-batches are then shuffled: every sample still comes once per
    epoch, but a micro-batch holds similar sizes, so it pads (and computes) less."""

    dataset_size: int
    micro_batch: int  # global rows per micro-batch, over all ranks
    rank: int
    world: int
    seed: int
    start: int  # first micro-batch to yield
    sizes: torch.Tensor | None = None  # (dataset_size,) sample sizes (e.g. atoms), for `window`
    window: int = 0  # micro-batches sorted together by size; 0: plain permutation

    def __post_init__(self):
        if self.micro_batch % self.world:
            raise ValueError(f"micro-batch {self.micro_batch} does not split over {self.world} ranks")
        if self.dataset_size < self.micro_batch:
            raise ValueError(f"dataset has {self.dataset_size} samples, fewer than one micro-batch ({self.micro_batch})")
        if self.window and (self.sizes is None or len(self.sizes) != self.dataset_size):
            raise ValueError("trainer.size_window needs the size of every sample from the adapter")

    @property
    def rows(self) -> slice:
        per_rank = self.micro_batch // self.world
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """(micro-batches per epoch, G) sample indices of one epoch."""
        per_epoch = self.dataset_size // self.micro_batch
        gen = torch.Generator().manual_seed(self.seed * 100003 + epoch)
        order = torch.randperm(self.dataset_size, generator=gen)[: per_epoch * self.micro_batch]
        if not self.window:
            return order.view(per_epoch, self.micro_batch)
        parts = []
        for lo in range(0, per_epoch, self.window):
            rows = order[lo * self.micro_batch : (lo + self.window) * self.micro_batch]
            rows = rows[torch.argsort(self.sizes[rows], stable=True)].view(-1, self.micro_batch)  # (w, G), by size
            parts.append(rows[torch.randperm(len(rows), generator=gen)])
        return torch.cat(parts)

    def __iter__(self) -> Iterator[list[int]]:
        per_epoch = self.dataset_size // self.micro_batch
        j, epoch, order = self.start, -1, None
        while True:
            if j // per_epoch != epoch:
                epoch = j // per_epoch
                order = self.epoch_order(epoch)
            yield order[j % per_epoch][self.rows].tolist()
            j += 1
