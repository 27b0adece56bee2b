"""Latents -> atoms: a transformer trunk with an element head (logits) and a position head (Å); for crystals the
position head gives fractional coordinates (as three numbers with a minimum-image loss, or as a point on a circle
per axis) and a lattice head gives the cell (`unite_mol.lattice`), read from the mean of the atoms' features or from
a lattice latent token."""
from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn as nn
import torch.nn.functional as F

from unite_core.flow import item_mean, masked_mean
from unite_core.model import ReconLoss
from unite_core.nn import LatentTrunk, TrunkConfig
from unite_mol.batch import ElementVocab, MolBatch
from unite_mol.lattice import fractional, fractional_offset, lattice_matrix, lattice_params, minimum_image, wrapped_cartesian
from unite_mol.structure import Structure

BOND_CUTOFF = 2.0  # Å: the pairs the bond-length loss sees (QM9's bonds are 0.96-1.76 Å; carbon's 1.2-1.6 Å)


@dataclass
class AtomOutput:
    logits: torch.Tensor  # (B, N, T) element logits
    positions: torch.Tensor  # (B, N, 3) Å (crystals: wrapped fractional coordinates times the cell)
    fractional: torch.Tensor | None = None  # (B, N, 3) crystals: as predicted, not wrapped
    lattice: torch.Tensor | None = None  # (B, 6) crystals: lengths / N^(1/3), angles (rad)
    cells: torch.Tensor | None = None  # (B, 3, 3) Å crystals: rows a, b, c
    circle: torch.Tensor | None = None  # (B, N, 3, 2) crystals with FractionalHead.circle: (cos, sin) per axis as predicted

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


class FractionalHead(str, Enum):
    """How the decoder gives a crystal's fractional coordinates."""

    linear = "linear"  # three numbers, squared error at the minimum image
    circle = "circle"  # (cos, sin) of 2π f per axis, f = atan2 / 2π; squared error of the vectors / 4π²: the tokenizer's
    # own features (linear in them, where three numbers must invert them), with no seam where f wraps


class AtomDecoder(nn.Module):
    """`joint`: a lattice-token model of molecules and crystals; a structure is a crystal when its lattice latent is on,
    and a molecule's positions (Å) then come from a head of their own."""

    def __init__(
        self, cfg: TrunkConfig, latent_dim: int, max_atoms: int, num_types: int, type_weight: float, position_weight: float,
        periodic: bool = False, lattice_weight: float = 1.0, lattice: LatticeReadout = LatticeReadout.pooled, joint: bool = False,
        bond_weight: float = 0.0, fractional_head: FractionalHead = FractionalHead.linear,
    ):
        super().__init__()
        self.lattice_slots = int(periodic and lattice is LatticeReadout.token)  # latents before the atoms'
        if joint and not self.lattice_slots:
            raise ValueError("molecules and crystals in one model need the lattice token (lattice=token)")
        self.trunk = LatentTrunk(cfg, latent_dim, max_atoms + self.lattice_slots)
        self.type_head = nn.Linear(cfg.width, num_types)
        self.circle = periodic and fractional_head is FractionalHead.circle
        self.position_head = nn.Linear(cfg.width, 6 if self.circle else 3)  # Å, or a crystal's fractional coordinates
        self.molecule_head = nn.Linear(cfg.width, 3) if joint else None  # a joint model's molecules, Å
        self.lattice_head = nn.Linear(cfg.width, 6) if periodic else None
        self.type_weight, self.position_weight, self.lattice_weight = type_weight, position_weight, lattice_weight
        self.bond_weight = bond_weight

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
        position, circle = self._fractional(self.position_head(h).float(), mask)  # (B, N, 3) fractional
        atoms = mask.sum(1)  # (B,)
        lattice = self.lattice_head(features[:, 0] if self.lattice_slots else _pool(h, mask)).float()  # (B, 6)
        cells = lattice_matrix(lattice, atoms)  # (B, 3, 3)
        positions = wrapped_cartesian(position, cells) * mask[..., None]  # (B, N, 3) Å
        return AtomOutput(logits, positions, position, lattice, cells, circle)

    def _fractional(self, head: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The position head's output -> fractional coordinates (B, N, 3) [and the (cos, sin) vectors (B, N, 3, 2)],
        zero at padding."""
        if not self.circle:
            return head * mask[..., None], None
        circle = head.unflatten(-1, (3, 2))  # (B, N, 3, 2)
        f = torch.atan2(circle[..., 1], circle[..., 0]) / (2 * torch.pi)  # (B, N, 3) in (-0.5, 0.5]
        return f * mask[..., None], circle * mask[..., None, None]

    def _crystals(self, latent_mask: torch.Tensor) -> bool:
        """Whether this batch holds crystals: always in a crystal model; in a joint one, where the lattice slot is on."""
        if self.molecule_head is None:
            return True
        on = latent_mask[:, 0]  # (B,)
        if bool(on.any()) != bool(on.all()):
            raise ValueError("a batch mixes molecules and crystals; a joint model takes one kind per batch")
        return bool(on.all())

    def loss(self, out: AtomOutput, batch: MolBatch, weights: torch.Tensor | None = None) -> ReconLoss:
        """Cross-entropy over elements + squared distance per atom (molecules: Å²; crystals: fractional, minimum
        image; on the circle, the squared error of the (cos, sin) vectors over 4π², Δf² when small) [+ squared lattice
        error] [+ squared bond-length error], masked means over real atoms; `weights` (B,) multiply each structure's."""
        ce = F.cross_entropy(out.logits.transpose(1, 2), batch.types, reduction="none")  # (B, N)
        if out.lattice is None:
            sq = (out.positions - batch.positions).pow(2).sum(-1)  # (B, N)
        elif out.circle is None:
            sq = fractional_offset(out.fractional, batch.positions, batch.cells).pow(2).sum(-1)  # (B, N), minimum image
        else:
            angle = 2 * torch.pi * fractional(batch.positions, batch.cells)  # (B, N, 3)
            target = torch.stack([angle.cos(), angle.sin()], dim=-1)  # (B, N, 3, 2)
            sq = (out.circle - target).pow(2).sum((-1, -2)) / (2 * torch.pi) ** 2  # (B, N): the squared offset when small
        type_ce, pos_mse = item_mean(masked_mean(ce, batch.mask), weights), item_mean(masked_mean(sq, batch.mask), weights)
        accuracy = masked_mean((out.types() == batch.types).float(), batch.mask).mean()
        bond_mse = bond_length_error(out, batch, weights)
        total = self.type_weight * type_ce + self.position_weight * pos_mse + self.bond_weight * bond_mse
        terms = {"type_ce": type_ce, "pos_mse": pos_mse, "bond_mse": bond_mse, "type_acc": accuracy.detach()}
        if out.lattice is not None:
            terms["lattice_mse"] = item_mean((out.lattice - lattice_params(batch.cells, batch.mask.sum(1))).pow(2).mean(1), weights)
            total = total + self.lattice_weight * terms["lattice_mse"]
        return ReconLoss(total=total, terms=terms)


def bond_length_error(out: AtomOutput, batch: MolBatch, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error (Å²) of the distances between atoms closer than BOND_CUTOFF in the true structure: the local
    geometry bond perception reads, which a per-atom position error spreads over the whole frame (crystals: at the
    fractional minimum image, each structure with its own cell); `weights` (B,) multiply each structure's pairs."""
    if out.lattice is None:
        true, predicted = _pair_vectors(batch.positions), _pair_vectors(out.positions)  # (B, N, N, 3) Å
    else:
        true = _pair_vectors(fractional(batch.positions, batch.cells), batch.cells)
        predicted = _pair_vectors(out.fractional, out.cells)
    d_true, d_predicted = true.norm(dim=-1), (predicted.pow(2).sum(-1) + 1e-12).sqrt()  # (B, N, N)
    pair = batch.mask[:, :, None] & batch.mask[:, None, :] & (d_true < BOND_CUTOFF)  # (B, N, N)
    pair &= ~torch.eye(pair.shape[1], dtype=torch.bool, device=pair.device)
    err = (d_predicted - d_true).pow(2) * pair  # (B, N, N)
    if weights is not None:
        err = err * weights[:, None, None]
    return err.sum() / pair.sum().clamp(min=1)


def _pair_vectors(x: torch.Tensor, cells: torch.Tensor | None = None) -> torch.Tensor:
    """x_j - x_i for every pair: (B, N, 3) -> (B, N, N, 3); with cells, x is fractional and the difference is taken at
    the minimum image, then turned into Å."""
    d = x[:, None, :, :] - x[:, :, None, :]  # (B, N, N, 3)
    if cells is None:
        return d
    return minimum_image(d) @ cells[:, None]  # (B, N, N, 3) Å


def _pool(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the real atoms' features: (B, N, D) -> (B, D)."""
    return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
