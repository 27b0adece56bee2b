"""The Generative Encoder (GE): one transformer that both tokenizes and denoises.

Token sequence, in order: [in-context condition tokens (from block `in_context_start` on)] +
[L latent tokens] + [N observation tokens (tokenize mode only)]. Only the latent positions are read out.
"""
from dataclasses import dataclass, replace

import torch
import torch.nn as nn

from unite_core.nn.block import FinalLayer, GEBlock
from unite_core.nn.embed import ConditionEmbedder, TimestepEmbedder
from unite_core.nn.rope import rope_tables


@dataclass(frozen=True)
class GEConfig:
    """Size and options of the GE. `presets()` lists the named sizes."""

    depth: int
    width: int
    heads: int
    mlp_ratio: float = 4.0
    qk_norm: bool = True
    rope: bool = True
    block_norm: bool = True
    in_context_len: int = 0
    in_context_start: int = 0

    def __post_init__(self):
        if self.width % self.heads or (self.width // self.heads) % 2:
            raise ValueError(f"GE width {self.width} must split into {self.heads} heads of even width")
        if self.in_context_len and not 0 <= self.in_context_start < self.depth:
            raise ValueError(f"in_context_start {self.in_context_start} must be a block index < depth {self.depth}")


def presets() -> dict[str, GEConfig]:
    """Named GE sizes: tiny for tests; S/B/L/XL as the UNITE paper (depth / width / heads)."""
    return {
        "tiny": GEConfig(depth=2, width=64, heads=2, in_context_len=4, in_context_start=1),
        "S": GEConfig(depth=12, width=384, heads=6, in_context_len=32, in_context_start=4),
        "B": GEConfig(depth=12, width=768, heads=12, in_context_len=32, in_context_start=4),
        "L": GEConfig(depth=24, width=1024, heads=16, in_context_len=32, in_context_start=4),
        "XL": GEConfig(depth=28, width=1152, heads=16, in_context_len=32, in_context_start=4),
    }


@dataclass
class ModelConfig:
    """Config schema: a named preset, optionally with some of its fields overridden (`model=S model.depth=6`)."""

    preset: str = "tiny"
    depth: int | None = None
    width: int | None = None
    heads: int | None = None
    in_context_len: int | None = None
    in_context_start: int | None = None

    def resolve(self) -> GEConfig:
        known = presets()
        if self.preset not in known:
            raise ValueError(f"model.preset={self.preset!r} is not one of {sorted(known)}")
        changes = {k: v for k, v in vars(self).items() if k != "preset" and v is not None}
        return replace(known[self.preset], **changes)


class GenerativeEncoder(nn.Module):
    """forward(latents, t, cond, drop, mask, observation=None, ..., latent_inputs=None, self_cond=None) -> clean
    latents (B, L, C). With `self_condition`, a zero-initialised input adds the GE's own previous clean estimate
    (B, L, C) to the latent tokens (zeros when there is none)."""

    def __init__(self, cfg: GEConfig, latent_dim: int, max_latents: int, num_classes: int, observation_dim: int | None,
                 self_condition: bool = False):
        super().__init__()
        self.cfg = cfg
        D = cfg.width
        self.latent_in = nn.Linear(latent_dim, D)
        self.latent_pos = nn.Parameter(torch.randn(max_latents, D) * 0.02)
        self.observation_in = None if observation_dim is None else nn.Linear(observation_dim, D)  # None: denoiser only
        self.self_cond_in = nn.Linear(latent_dim, D) if self_condition else None
        if self.self_cond_in is not None:
            nn.init.zeros_(self.self_cond_in.weight)
            nn.init.zeros_(self.self_cond_in.bias)
        self.t_embed = TimestepEmbedder(D)
        self.c_embed = ConditionEmbedder(num_classes, D)
        self.in_context_pos = nn.Parameter(torch.randn(cfg.in_context_len, D) * 0.02)
        self.blocks = nn.ModuleList(GEBlock(D, cfg.heads, cfg.mlp_ratio, cfg.qk_norm, cfg.block_norm) for _ in range(cfg.depth))
        self.final = FinalLayer(D, latent_dim)

    def forward(
        self,
        latents: torch.Tensor,
        t: torch.Tensor,
        cond: torch.Tensor,
        drop: torch.Tensor,
        latent_mask: torch.Tensor,
        observation: torch.Tensor | None = None,
        observation_mask: torch.Tensor | None = None,
        observation_positions: torch.Tensor | None = None,
        latent_inputs: torch.Tensor | None = None,
        self_cond: torch.Tensor | None = None,
    ) -> torch.Tensor:
        B, L, _ = latents.shape
        if L > self.latent_pos.shape[0]:
            raise ValueError(f"{L} latent tokens exceed max_latents={self.latent_pos.shape[0]}")
        x = self.latent_in(latents) + self.latent_pos[:L]  # (B, L, D)
        if latent_inputs is not None:
            x = x + self.observation_in(latent_inputs)  # observation item i summed into latent i
        if self.self_cond_in is not None:
            x = x + self.self_cond_in(torch.zeros_like(latents) if self_cond is None else self_cond)  # (B, L, D)
        mask = latent_mask
        positions = torch.arange(L, device=x.device).expand(B, L)  # (B, L)
        if observation is not None:
            N = observation.shape[1]
            x = torch.cat([x, self.observation_in(observation)], dim=1)  # (B, L+N, D)
            mask = torch.cat([mask, observation_mask], dim=1)
            obs_pos = observation_positions if observation_positions is not None else L + torch.arange(N, device=x.device).expand(B, N)
            positions = torch.cat([positions, obs_pos], dim=1)
        y = self.c_embed(cond, drop)  # (B, D)
        c = self.t_embed(t) + y
        head_dim = self.cfg.width // self.cfg.heads
        rope = rope_tables(positions, head_dim) if self.cfg.rope else None
        dense = bool(mask.all())  # no padding: unmasked attention can use the fused (flash) kernels
        n_ctx = 0
        for i, block in enumerate(self.blocks):
            if self.cfg.in_context_len and i == self.cfg.in_context_start:
                n_ctx = self.cfg.in_context_len
                ctx = y[:, None] + self.in_context_pos  # (B, n_ctx, D)
                x = torch.cat([ctx, x], dim=1)
                mask = torch.cat([mask.new_ones(B, n_ctx), mask], dim=1)
                positions = torch.cat([positions.new_full((B, n_ctx), -1), positions], dim=1)
                rope = rope_tables(positions, head_dim) if self.cfg.rope else None
            x = block(x, c, None if dense else mask, rope)
        out = self.final(x[:, n_ctx : n_ctx + L], c)  # (B, L, C)
        return out * latent_mask[..., None]
