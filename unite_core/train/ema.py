"""Exponential moving average of the weights; evaluation and sampling always use it."""
import copy

import torch
import torch.nn as nn


class EMA:
    """`warmup`: the decay after optimiser step n (1, 2, ...) is min(decay, (1 + n) / (10 + n)), so a short run's EMA
    averages the steps it took rather than its initial weights (without it, the initial weights are still 0.999^600 =
    55 % of a 0.999 EMA after 600 steps)."""

    def __init__(self, model: nn.Module, decay: float, warmup: bool = False):
        self.decay, self.warmup = decay, warmup
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    def decay_at(self, n: int) -> float:
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module, n: int) -> None:
        """Move towards `model`'s weights after optimiser step n."""
        ema_params = list(self.module.parameters())
        torch._foreach_lerp_(ema_params, [p.detach() for p in model.parameters()], 1.0 - self.decay_at(n))
        for ema_buf, buf in zip(self.module.buffers(), model.buffers()):
            ema_buf.copy_(buf)
