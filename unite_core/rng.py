"""Randomness that does not depend on how a batch is split over ranks.

Every random draw of a training step comes from a generator seeded by (seed, step, micro-step) and is
made for the *global* batch, of which each rank keeps its own rows. So a 2-process DDP step draws the same
noise for each sample as a single process on the combined batch, and a resumed run needs no RNG state
to continue exactly.
"""
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class BatchRandom:
    generator: torch.Generator
    rows: slice  # this rank's rows of the global batch
    global_rows: int

    @classmethod
    def for_step(cls, seed: int, step: int, micro: int, rows: slice, global_rows: int, device: torch.device) -> "BatchRandom":
        state = np.random.SeedSequence([seed, step, micro]).generate_state(1, np.uint64)[0]
        generator = torch.Generator(device=device)
        generator.manual_seed(int(state) & (2**63 - 1))
        return cls(generator, rows, global_rows)

    @classmethod
    def whole(cls, generator: torch.Generator, batch: int) -> "BatchRandom":
        """All rows, for evaluation and sampling outside the training loop."""
        return cls(generator, slice(0, batch), batch)

    @property
    def device(self) -> torch.device:
        return self.generator.device

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(self.global_rows, *shape, generator=self.generator, device=self.device)[self.rows]

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(self.global_rows, *shape, generator=self.generator, device=self.device)[self.rows]
