"""Latents -> atoms: a transformer trunk with an element head (logits) and a position head (Å); for crystals the
position head gives fractional coordinates (periodic loss: the minimum-image difference) and a lattice head gives
the cell (`unite_mol.lattice`), read from the mean of the atoms' features or from a lattice latent token."""
from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn as nn
import torch.nn.functional as F

from unite_core.flow import masked_mean
from unite_core.model import ReconLoss
from unite_core.nn import LatentTrunk, TrunkConfig
from unite_mol.batch import ElementVocab, MolBatch
from unite_mol.lattice import fractional_offset, lattice_matrix, lattice_params, wrapped_cartesian
from unite_mol.structure import Structure


@dataclass
class AtomOutput:
    logits: torch.Tensor  # (B, N, T) element logits
    positions: torch.Tensor  # (B, N, 3) Å (crystals: wrapped fractional coordinates times the cell)
    fractional: torch.Tensor | None = None  # (B, N, 3) crystals: as predicted, not wrapped
    lattice: torch.Tensor | None = None  # (B, 6) crystals: lengths / N^(1/3), angles (rad)
    cells: torch.Tensor | None = None  # (B, 3, 3) Å crystals: rows a, b, c

    def types(self, allowed: torch.Tensor | None = None) -> torch.Tensor:
        """Element indices by argmax (B, N), over the `allowed` indices only where given (a joint model's dataset)."""
        if allowed is None:
            return self.logits.argmax(-1)
        return allowed.to(self.logits.device)[self.logits[..., allowed].argmax(-1)]  # (B, N)

    def structures(self, counts: list[int], vocab: ElementVocab, allowed: torch.Tensor | None = None) -> list[Structure]:
        """The first counts[b] atoms of each row, as structures (elements by argmax, over `allowed` where given; crystals
        with their cell)."""
        types, positions = self.types(allowed).cpu().numpy(), self.positions.float().cpu().numpy()
        cells = [None] * len(counts) if self.cells is None else self.cells.double().cpu().numpy()
        return [Structure(vocab.decode(t[:k]), p[:k], c) for t, p, c, k in zip(types, positions, cells, counts)]


class LatticeReadout(str, Enum):
    """Where a crystal's cell lives in the latents."""

    pooled = "pooled"  # ADiT: a head on the mean of the atoms' decoder features; one latent per atom
    token = "token"  # latent 0 is a lattice token (the tokenizer's cell features go in there); atoms follow


class AtomDecoder(nn.Module):
    """`joint`: a lattice-token model of molecules and crystals; a structure is a crystal when its lattice latent is on,
    and a molecule's positions (Å) then come from a head of their own."""

    def __init__(
        self, cfg: TrunkConfig, latent_dim: int, max_atoms: int, num_types: int, type_weight: float, position_weight: float,
        periodic: bool = False, lattice_weight: float = 1.0, lattice: LatticeReadout = LatticeReadout.pooled, joint: bool = False,
    ):
        super().__init__()
        self.lattice_slots = int(periodic and lattice is LatticeReadout.token)  # latents before the atoms'
        if joint and not self.lattice_slots:
            raise ValueError("molecules and crystals in one model need the lattice token (lattice=token)")
        self.trunk = LatentTrunk(cfg, latent_dim, max_atoms + self.lattice_slots)
        self.type_head = nn.Linear(cfg.width, num_types)
        self.position_head = nn.Linear(cfg.width, 3)  # Å, or a crystal's fractional coordinates
        self.molecule_head = nn.Linear(cfg.width, 3) if joint else None  # a joint model's molecules, Å
        self.lattice_head = nn.Linear(cfg.width, 6) if periodic else None
        self.type_weight, self.position_weight, self.lattice_weight = type_weight, position_weight, lattice_weight

    def latent_mask(self, atom_mask: torch.Tensor, periodic: bool) -> torch.Tensor:
        """The latent slots of structures with these atoms: (B, N) -> (B, lattice slots + N); a molecule's lattice
        slot (a joint model) is off."""
        return torch.cat([atom_mask.new_full((atom_mask.shape[0], self.lattice_slots), periodic), atom_mask], dim=1)

    def forward(self, z: torch.Tensor, latent_mask: torch.Tensor) -> AtomOutput:
        features = self.trunk(z, latent_mask)  # (B, L, D)
        h, mask = features[:, self.lattice_slots :], latent_mask[:, self.lattice_slots :]  # the atoms': (B, N, D), (B, N)
        logits = self.type_head(h).float()  # (B, N, T)
        if self.lattice_head is None or not self._crystals(latent_mask):
            head = self.position_head if self.molecule_head is None else self.molecule_head
            return AtomOutput(logits, head(h).float() * mask[..., None])  # (B, N, 3) Å
        position = self.position_head(h).float() * mask[..., None]  # (B, N, 3) fractional
        atoms = mask.sum(1)  # (B,)
        lattice = self.lattice_head(features[:, 0] if self.lattice_slots else _pool(h, mask)).float()  # (B, 6)
        cells = lattice_matrix(lattice, atoms)  # (B, 3, 3)
        positions = wrapped_cartesian(position, cells) * mask[..., None]  # (B, N, 3) Å
        return AtomOutput(logits, positions, position, lattice, cells)

    def _crystals(self, latent_mask: torch.Tensor) -> bool:
        """Whether this batch holds crystals: always in a crystal model; in a joint one, where the lattice slot is on."""
        if self.molecule_head is None:
            return True
        on = latent_mask[:, 0]  # (B,)
        if bool(on.any()) != bool(on.all()):
            raise ValueError("a batch mixes molecules and crystals; a joint model takes one kind per batch")
        return bool(on.all())

    def loss(self, out: AtomOutput, batch: MolBatch) -> ReconLoss:
        """Cross-entropy over elements + squared distance per atom (molecules: Å²; crystals: fractional, minimum
        image) [+ squared lattice error], masked means over real atoms."""
        ce = F.cross_entropy(out.logits.transpose(1, 2), batch.types, reduction="none")  # (B, N)
        if out.lattice is None:
            sq = (out.positions - batch.positions).pow(2).sum(-1)  # (B, N)
        else:
            sq = fractional_offset(out.fractional, batch.positions, batch.cells).pow(2).sum(-1)  # (B, N), minimum image
        type_ce, pos_mse = masked_mean(ce, batch.mask).mean(), masked_mean(sq, batch.mask).mean()
        accuracy = masked_mean((out.types() == batch.types).float(), batch.mask).mean()
        total = self.type_weight * type_ce + self.position_weight * pos_mse
        terms = {"type_ce": type_ce, "pos_mse": pos_mse, "type_acc": accuracy.detach()}
        if out.lattice is not None:
            terms["lattice_mse"] = (out.lattice - lattice_params(batch.cells, batch.mask.sum(1))).pow(2).mean()
            total = total + self.lattice_weight * terms["lattice_mse"]
        return ReconLoss(total=total, terms=terms)


def _pool(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the real atoms' features: (B, N, D) -> (B, D)."""
    return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
