"""The Generative Encoder's block (adaLN-Zero) and its final layer."""
import torch
import torch.nn as nn

from unite_core.nn.layers import Attention, RMSNorm, SwiGLU


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]  # (B, S, D)


class GEBlock(nn.Module):
    """Pre-RMSNorm attention + SwiGLU, both modulated and gated by the condition c (adaLN-Zero),
    with an extra RMSNorm on the residual stream at the end of the block (as the UNITE release)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, qk_norm: bool = True, block_norm: bool = True):
        super().__init__()
        self.norm1 = RMSNorm(dim)
        self.attn = Attention(dim, heads, qk_norm=qk_norm)
        self.norm2 = RMSNorm(dim)
        self.mlp = SwiGLU(dim, mlp_ratio)
        self.out_norm = RMSNorm(dim) if block_norm else nn.Identity()
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        nn.init.zeros_(self.ada[-1].weight)
        nn.init.zeros_(self.ada[-1].bias)

    def forward(self, x, c, key_mask=None, rope=None):
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=-1)  # 6 x (B, D)
        x = x + gate1[:, None] * self.attn(modulate(self.norm1(x), shift1, scale1), key_mask, rope)
        x = x + gate2[:, None] * self.mlp(modulate(self.norm2(x), shift2, scale2))
        return self.out_norm(x)  # (B, S, D)


class FinalLayer(nn.Module):
    """adaLN-modulated norm, then Linear(D -> C). Only the modulation starts at zero: the GE's output is
    LayerNormed into z, and a zero output would make every latent the norm's bias at step 0 (the start of
    the latent collapse measured in the README's departures section)."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.norm = RMSNorm(dim)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, out_dim)
        nn.init.zeros_(self.ada[-1].weight)
        nn.init.zeros_(self.ada[-1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))  # (B, S, C)
