"""A plain pre-LayerNorm transformer (GELU MLP) over latent tokens: the trunk of every decoder."""
from dataclasses import dataclass

import torch
import torch.nn as nn

from unite_core.nn.layers import Attention


@dataclass
class TrunkConfig:
    depth: int
    width: int
    heads: int
    mlp_ratio: float = 4.0


class ViTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, qk_norm=False)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), key_mask)
        return x + self.mlp(self.norm2(x))  # (B, S, D)


class LatentTrunk(nn.Module):
    """latents (B, L, C) + mask -> features (B, L, D): Linear(C -> D), learned slot embedding, blocks, LN."""

    def __init__(self, cfg: TrunkConfig, latent_dim: int, max_latents: int):
        super().__init__()
        self.latent_in = nn.Linear(latent_dim, cfg.width)
        self.pos = nn.Parameter(torch.randn(max_latents, cfg.width) * 0.02)
        self.blocks = nn.ModuleList(ViTBlock(cfg.width, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.width)

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.latent_in(z) + self.pos[: z.shape[1]]  # (B, L, D)
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)
