"""Latents -> atoms: a transformer trunk with an element head (logits) and a position head (Å)."""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from unite_core.flow import masked_mean
from unite_core.model import ReconLoss
from unite_core.nn import LatentTrunk, TrunkConfig
from unite_mol.batch import ElementVocab, MolBatch
from unite_mol.structure import Structure


@dataclass
class AtomOutput:
    logits: torch.Tensor  # (B, N, T) element logits
    positions: torch.Tensor  # (B, N, 3) Å

    def types(self) -> torch.Tensor:
        return self.logits.argmax(-1)  # (B, N)

    def structures(self, counts: list[int], vocab: ElementVocab) -> list[Structure]:
        """The first counts[b] atoms of each row, as structures (elements by argmax)."""
        types, positions = self.types().cpu().numpy(), self.positions.float().cpu().numpy()
        return [Structure(vocab.decode(t[:k]), p[:k]) for t, p, k in zip(types, positions, counts)]


class AtomDecoder(nn.Module):
    def __init__(self, cfg: TrunkConfig, latent_dim: int, max_atoms: int, num_types: int, type_weight: float, position_weight: float):
        super().__init__()
        self.trunk = LatentTrunk(cfg, latent_dim, max_atoms)
        self.type_head = nn.Linear(cfg.width, num_types)
        self.position_head = nn.Linear(cfg.width, 3)
        self.type_weight, self.position_weight = type_weight, position_weight

    def forward(self, z: torch.Tensor, latent_mask: torch.Tensor) -> AtomOutput:
        h = self.trunk(z, latent_mask)  # (B, N, D)
        return AtomOutput(self.type_head(h).float(), self.position_head(h).float() * latent_mask[..., None])

    def loss(self, out: AtomOutput, batch: MolBatch) -> ReconLoss:
        """Cross-entropy over elements + squared distance (Å²) per atom, masked means over real atoms."""
        ce = F.cross_entropy(out.logits.transpose(1, 2), batch.types, reduction="none")  # (B, N)
        sq = (out.positions - batch.positions).pow(2).sum(-1)  # (B, N)
        type_ce, pos_mse = masked_mean(ce, batch.mask).mean(), masked_mean(sq, batch.mask).mean()
        accuracy = masked_mean((out.types() == batch.types).float(), batch.mask).mean()
        total = self.type_weight * type_ce + self.position_weight * pos_mse
        return ReconLoss(total=total, terms={"type_ce": type_ce, "pos_mse": pos_mse, "type_acc": accuracy.detach()})
