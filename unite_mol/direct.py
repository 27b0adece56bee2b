"""The no-tokenizer baseline (`objective.recipe=direct`): a plain all-atom flow transformer.

Each atom's "latent" is fixed, not learned: its one-hot element followed by its position / `position_scale`
(latent_dim = elements + 3). The GE's flow runs on these directly and decoding is reading them back, so the
same GE, sampler and evaluation compare a learned tokenizer against none at equal compute.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from unite_core.model import Latents
from unite_mol.batch import MolBatch
from unite_mol.decoder import AtomOutput


@dataclass
class DirectConfig:
    position_scale: float = 1.4  # Å per unit: QM9's per-axis coordinate spread, so positions enter like the noise


class DirectAtoms(nn.Module):
    """encode: atoms -> (B, N, T + 3) one-hot element | position / scale; calling it decodes (argmax element)."""

    def __init__(self, num_types: int, position_scale: float):
        super().__init__()
        self.num_types, self.position_scale = num_types, position_scale

    def encode(self, batch: MolBatch) -> Latents:
        one_hot = F.one_hot(batch.types, self.num_types).to(batch.positions.dtype)  # (B, N, T)
        z = torch.cat([one_hot, batch.positions / self.position_scale], dim=-1) * batch.mask[..., None]  # (B, N, T+3)
        return Latents(z, batch.mask, batch.cond)

    def forward(self, z: torch.Tensor, latent_mask: torch.Tensor) -> AtomOutput:
        logits, positions = z[..., : self.num_types], z[..., self.num_types :] * self.position_scale  # (B, N, T), (B, N, 3)
        return AtomOutput(logits.float(), positions.float() * latent_mask[..., None])

    def latent_mask(self, atom_mask: torch.Tensor, periodic: bool = False) -> torch.Tensor:
        return atom_mask  # one latent per atom (molecules only)
