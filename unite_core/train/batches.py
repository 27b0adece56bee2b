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
    epoch, but a micro-batch holds similar sizes, so it pads (and computes) less.

    With per-sample `groups` (e.g. which dataset of a joint run), each group is permuted and cut on its own, so a
    micro-batch holds one group; the micro-batches of all groups are then shuffled together (each group's
    incomplete tail is dropped)."""

    dataset_size: int
    micro_batch: int  # global rows per micro-batch, over all ranks
    rank: int
    world: int
    seed: int
    start: int  # first micro-batch to yield
    sizes: torch.Tensor | None = None  # (dataset_size,) sample sizes (e.g. atoms), for `window`
    window: int = 0  # micro-batches sorted together by size; 0: plain permutation
    groups: torch.Tensor | None = None  # (dataset_size,) group of each sample; a micro-batch holds one group

    def __post_init__(self):
        if self.micro_batch % self.world:
            raise ValueError(f"micro-batch {self.micro_batch} does not split over {self.world} ranks")
        if self.dataset_size < self.micro_batch:
            raise ValueError(f"dataset has {self.dataset_size} samples, fewer than one micro-batch ({self.micro_batch}): lower "
                             "trainer.batch_size (or raise trainer.accum_steps)")
        if self.window and (self.sizes is None or len(self.sizes) != self.dataset_size):
            raise ValueError("trainer.size_window needs the size of every sample from the adapter")
        if self.groups is not None and len(self.groups) != self.dataset_size:
            raise ValueError(f"{len(self.groups)} sample groups for a dataset of {self.dataset_size}")
        if self.per_epoch == 0:
            raise ValueError(f"no group has a micro-batch ({self.micro_batch}) of samples")

    @property
    def rows(self) -> slice:
        per_rank = self.micro_batch // self.world
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)

    @property
    def per_epoch(self) -> int:
        """Micro-batches per epoch."""
        if self.groups is None:
            return self.dataset_size // self.micro_batch
        return int((torch.bincount(self.groups) // self.micro_batch).sum())

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """(micro-batches per epoch, G) sample indices of one epoch."""
        gen = torch.Generator().manual_seed(self.seed * 100003 + epoch)
        if self.groups is None:
            return self._cut(torch.randperm(self.dataset_size, generator=gen), gen)
        parts = []
        for g in torch.unique(self.groups).tolist():
            members = torch.nonzero(self.groups == g).flatten()  # (n_g,)
            if len(members) >= self.micro_batch:
                parts.append(self._cut(members[torch.randperm(len(members), generator=gen)], gen))
        rows = torch.cat(parts)  # (micro-batches, G), group by group
        return rows[torch.randperm(len(rows), generator=gen)]

    def _cut(self, order: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """A permutation -> (its full micro-batches, G), similar sizes together with `window`."""
        per_epoch = len(order) // self.micro_batch
        order = order[: per_epoch * self.micro_batch]
        if not self.window:
            return order.view(per_epoch, self.micro_batch)
        parts = []
        for lo in range(0, per_epoch, self.window):
            rows = order[lo * self.micro_batch : (lo + self.window) * self.micro_batch]
            rows = rows[torch.argsort(self.sizes[rows], stable=True)].view(-1, self.micro_batch)  # (w, G), by size
            parts.append(rows[torch.randperm(len(rows), generator=gen)])
        return torch.cat(parts)

    def __iter__(self) -> Iterator[list[int]]:
        per_epoch = self.per_epoch
        j, epoch, order = self.start, -1, None
        while True:
            if j // per_epoch != epoch:
                epoch = j // per_epoch
                order = self.epoch_order(epoch)
            yield order[j % per_epoch][self.rows].tolist()
            j += 1
