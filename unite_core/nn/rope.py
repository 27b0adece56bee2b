"""1-D rotary position embedding with explicit per-token positions.

Positions are given per token, so an adapter can give observation token i the same position as latent
token i (a relative offset of zero ties them), and tokens with no position (in-context condition tokens)
get the identity rotation.
"""
import torch


def rope_tables(positions: torch.Tensor, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables for integer positions (B, S); a negative position means 'no rotation'."""
    if head_dim % 2:
        raise ValueError(f"RoPE needs an even head width, got {head_dim}")
    freqs = base ** (-torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim)
    angles = positions.clamp(min=0).float()[..., None] * freqs  # (B, S, hd/2)
    angles = angles.masked_fill((positions < 0)[..., None], 0.0)
    angles = torch.cat([angles, angles], dim=-1)[:, None]  # (B, 1, S, hd)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, H, S, hd) by the tables; the halves convention of GPT-NeoX."""
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat([-x2, x1], dim=-1)
    return (x.float() * cos + rotated.float() * sin).type_as(x)
