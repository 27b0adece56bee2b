"""Transformer building blocks: RMSNorm, SwiGLU, masked attention with QK-norm and RoPE."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from unite_core.nn.rope import apply_rope


class RMSNorm(nn.Module):
    """Root-mean-square norm with a learned gain."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(var + self.eps)).type_as(x) * self.weight.to(x.dtype)  # bf16 stays bf16


class SwiGLU(nn.Module):
    """Gated MLP: W2(silu(W1 x) * W3 x), hidden width 2/3 of the usual 4x so parameters match."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0):
        super().__init__()
        hidden = int(2 * dim * mlp_ratio / 3)
        self.w13 = nn.Linear(dim, 2 * hidden)
        self.w2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = self.w13(x).chunk(2, dim=-1)
        return self.w2(F.silu(gate) * value)


class Attention(nn.Module):
    """Multi-head self-attention with optional QK-RMSNorm, RoPE and a key-padding mask."""

    def __init__(self, dim: int, heads: int, qk_norm: bool = True):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        head_dim = dim // heads
        self.q_norm = RMSNorm(head_dim) if qk_norm else nn.Identity()
        self.k_norm = RMSNorm(head_dim) if qk_norm else nn.Identity()

    def forward(
        self,
        x: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        B, S, D = x.shape
        q, k, v = self.qkv(x).view(B, S, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)  # 3 x (B, H, S, hd)
        q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, S), True = attend
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, S, hd)
        return self.proj(out.transpose(1, 2).reshape(B, S, D))
