"""Atoms -> observation tokens: element embedding + position MLP + e3nn local-environment scalars.

Latent i stands for atom i in the canonical atom order (the file order: QM9 lists heavy atoms, then
hydrogens); `Pairing` says how the GE is told which atom belongs to which latent. `sum` is the default:
on QM9 (150 steps, CPU preset) it reconstructed to 0.10 Å² while `rope` and `slot`, which must first learn
to route atom i's token to latent i by attention, let the latents collapse (z_std -> 0.03) first.
"""
from enum import Enum

import torch
import torch.nn as nn

from unite_core.model import Observation
from unite_mol.embed import EnvConfig, LocalEnvironment
from unite_mol.lattice import fractional, lattice_params
from unite_mol.batch import MolBatch


class Pairing(str, Enum):
    sum = "sum"  # atom i's token is added to latent token i (no extra tokens)
    rope = "rope"  # atom i is an extra token with RoPE position i, the position of latent i
    slot = "slot"  # atom i is an extra token after the latents, with a learned slot embedding i


class AtomTokenizer(nn.Module):
    """`periodic`: crystals. In place of the Cartesian position the token gets sin / cos of 2π × its fractional
    coordinates and the cell's lengths / N^(1/3) and angles, and the e3nn environment sees periodic neighbours:
    a crystal's tokens do not change when it is rotated or an atom is replaced by another periodic image.
    `lattice_token`: the cell's features go into an extra latent before the atoms' instead of into every atom's.
    `joint`: molecules too (a lattice-token model; a molecule's lattice latent is switched off in its latent mask)."""

    def __init__(self, num_types: int, width: int, max_atoms: int, env: EnvConfig, pairing: Pairing, periodic: bool = False,
                 lattice_token: bool = False, joint: bool = False):
        super().__init__()
        if lattice_token and (not periodic or pairing is not Pairing.sum):
            raise ValueError("a lattice token needs a crystal dataset and pairing=sum")
        if joint and not lattice_token:
            raise ValueError("molecules and crystals in one model need the lattice token (lattice=token)")
        self.observation_dim = width
        self.pairing, self.lattice_token = pairing, lattice_token
        self.type_embed = nn.Embedding(num_types, width)
        mlp = lambda n: nn.Sequential(nn.Linear(n, width), nn.GELU(), nn.Linear(width, width))  # noqa: E731
        self.position_mlp = mlp(3) if joint or not periodic else None
        self.fractional_mlp, self.lattice_mlp = (mlp(6), mlp(6)) if periodic else (None, None)
        self.env = LocalEnvironment(num_types, env)
        self.env_proj = nn.Linear(env.scalars, width)
        self.slot_embed = nn.Parameter(torch.randn(max_atoms, width) * 0.02) if pairing is Pairing.slot else None

    def forward(self, batch: MolBatch) -> Observation:
        B, N = batch.types.shape
        scalars, _ = self.env(batch.types, batch.positions, batch.mask, batch.cells)  # (B, N, S)
        tokens = self.type_embed(batch.types) + self.env_proj(scalars)  # (B, N, D)
        if batch.cells is None:
            tokens = tokens + self.position_mlp(batch.positions)
            cell = tokens.new_zeros(B, 1, tokens.shape[-1])  # (B, 1, D): a joint model's molecule, lattice latent masked off
        else:
            angle = 2 * torch.pi * fractional(batch.positions, batch.cells)  # (B, N, 3)
            cell = self.lattice_mlp(lattice_params(batch.cells, batch.mask.sum(1)))[:, None]  # (B, 1, D)
            tokens = tokens + self.fractional_mlp(torch.cat([angle.sin(), angle.cos()], dim=-1)) + (0 if self.lattice_token else cell)
        tokens = tokens * batch.mask[..., None]
        if self.lattice_token:
            latent_mask = torch.cat([batch.mask.new_full((B, 1), batch.cells is not None), batch.mask], dim=1)  # (B, 1 + N)
            inputs = torch.cat([cell, tokens], dim=1)  # (B, 1 + N, D): the cell's token, then the atoms'
            return Observation(tokens=None, mask=None, latent_mask=latent_mask, cond=batch.cond, latent_inputs=inputs)
        if self.pairing is Pairing.sum:
            return Observation(tokens=None, mask=None, latent_mask=batch.mask, cond=batch.cond, latent_inputs=tokens)
        if self.pairing is Pairing.rope:
            positions = torch.arange(N, device=tokens.device).expand(B, N)  # (B, N)
            return Observation(tokens=tokens, mask=batch.mask, latent_mask=batch.mask, cond=batch.cond, positions=positions)
        tokens = (tokens + self.slot_embed[:N]) * batch.mask[..., None]
        return Observation(tokens=tokens, mask=batch.mask, latent_mask=batch.mask, cond=batch.cond)
