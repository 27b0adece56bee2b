"""Embeddings of the flow time and of the condition (with the null condition used for CFG)."""
import math

import torch
import torch.nn as nn


def sincos_features(x: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features of a (B,) float tensor -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    args = x.float()[:, None] * freqs[None]  # (B, dim/2)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimestepEmbedder(nn.Module):
    """t in [0, 1] -> (B, D): sinusoidal features of 1000 t, then a 2-layer MLP (as DiT)."""

    def __init__(self, dim: int, freq_dim: int = 256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sincos_features(1000.0 * t, self.freq_dim))


class ConditionEmbedder(nn.Module):
    """Class/condition index -> (B, D); row `num_classes` is the learned null condition.

    `drop` (B,) bool replaces a sample's condition by the null one: the tokenize pass drops all of them,
    the denoise pass drops a random fraction in training (classifier-free guidance).
    """

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.table = nn.Embedding(num_classes + 1, dim)

    def forward(self, cond: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
        if cond.dtype != torch.long or cond.dim() != 1:
            raise ValueError(f"condition must be a (B,) long tensor, got {tuple(cond.shape)} {cond.dtype}")
        return self.table(torch.where(drop, torch.full_like(cond, self.num_classes), cond))
