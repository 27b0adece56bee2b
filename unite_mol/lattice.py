"""Cells as six numbers and back, and fractional coordinates: the crystal half of the atom decoder.

The decoder predicts a rotation-invariant lattice (ADiT's): lengths a, b, c divided by N^(1/3) (so a cell's
size per atom is O(1)) and the angles α, β, γ in radians; the matrix is rebuilt with a along x and b in the
xy plane (a right-handed cell).
"""
import torch


def fractional(positions: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """positions (B, N, 3) Å, cells (B, 3, 3) rows a, b, c -> fractional coordinates (B, N, 3), not wrapped."""
    return torch.linalg.solve(cells.transpose(1, 2), positions.transpose(1, 2)).transpose(1, 2)


def wrapped_cartesian(frac: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Fractional coordinates (B, N, 3), wrapped into [0, 1), times the cells (B, 3, 3): positions in Å inside the cell."""
    return torch.einsum("bnk,bkc->bnc", torch.remainder(frac, 1.0), cells)


def minimum_image(d: torch.Tensor) -> torch.Tensor:
    """Fractional differences (..., 3) moved to the nearest image: each component in [-0.5, 0.5]."""
    return d - torch.round(d)


def fractional_offset(predicted: torch.Tensor, positions: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Predicted fractional coordinates minus the true ones, at the minimum image: (B, N, 3), each in [-0.5, 0.5]."""
    return minimum_image(predicted - fractional(positions, cells))


def lattice_params(cells: torch.Tensor, atoms: torch.Tensor) -> torch.Tensor:
    """cells (B, 3, 3), atoms (B,) -> (B, 6): lengths / atoms^(1/3), then angles α (b, c), β (a, c), γ (a, b) in radians."""
    lengths = cells.norm(dim=-1)  # (B, 3)
    unit = cells / lengths[..., None]
    cos = torch.stack([(unit[:, 1] * unit[:, 2]).sum(-1), (unit[:, 0] * unit[:, 2]).sum(-1), (unit[:, 0] * unit[:, 1]).sum(-1)], dim=-1)
    return torch.cat([lengths / atoms[:, None].float() ** (1 / 3), torch.arccos(cos.clamp(-1, 1))], dim=-1)


def lattice_matrix(params: torch.Tensor, atoms: torch.Tensor) -> torch.Tensor:
    """(B, 6) as `lattice_params` writes them -> cells (B, 3, 3)."""
    lengths = params[:, :3].abs() * atoms[:, None].float() ** (1 / 3)  # (B, 3)
    alpha, beta, gamma = params[:, 3:].unbind(-1)
    ca, cb, cg, sg = torch.cos(alpha), torch.cos(beta), torch.cos(gamma), torch.sin(gamma).clamp(min=1e-3)
    cy = (ca - cb * cg) / sg
    cz = (1 - cb**2 - cy**2).clamp(min=1e-6).sqrt()
    zero = torch.zeros_like(ca)
    unit = torch.stack([torch.stack([torch.ones_like(ca), zero, zero], -1), torch.stack([cg, sg, zero], -1),
                        torch.stack([cb, cy, cz], -1)], dim=1)  # (B, 3, 3)
    return unit * lengths[..., None]
