"""Atoms -> observation tokens: element embedding + position MLP + e3nn local-environment scalars.

Latent i is tied to atom i through the canonical atom order (the file order: QM9 lists heavy atoms, then
hydrogens) and a shared pairing signal, chosen by `Pairing`.
"""
from enum import Enum

import torch
import torch.nn as nn

from unite_core.model import Observation
from unite_mol.embed import EnvConfig, LocalEnvironment
from unite_mol.structure import MolBatch


class Pairing(str, Enum):
    rope = "rope"  # atom token i gets RoPE position i, the position of latent i
    slot = "slot"  # atom tokens continue the RoPE positions after the latents and add a learned slot embedding i


class AtomTokenizer(nn.Module):
    def __init__(self, num_types: int, width: int, max_atoms: int, env: EnvConfig, pairing: Pairing):
        super().__init__()
        self.observation_dim = width
        self.pairing = pairing
        self.type_embed = nn.Embedding(num_types, width)
        self.position_mlp = nn.Sequential(nn.Linear(3, width), nn.GELU(), nn.Linear(width, width))
        self.env = LocalEnvironment(num_types, env)
        self.env_proj = nn.Linear(env.scalars, width)
        self.slot_embed = nn.Parameter(torch.randn(max_atoms, width) * 0.02) if pairing is Pairing.slot else None

    def forward(self, batch: MolBatch) -> Observation:
        B, N = batch.types.shape
        scalars, _ = self.env(batch.types, batch.positions, batch.mask)  # (B, N, S)
        tokens = self.type_embed(batch.types) + self.position_mlp(batch.positions) + self.env_proj(scalars)  # (B, N, D)
        positions = None
        if self.pairing is Pairing.rope:
            positions = torch.arange(N, device=tokens.device).expand(B, N)  # (B, N)
        else:
            tokens = tokens + self.slot_embed[:N]
        return Observation(tokens=tokens * batch.mask[..., None], mask=batch.mask, latent_mask=batch.mask, cond=batch.cond, positions=positions)
