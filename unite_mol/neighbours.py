"""Neighbour lists (the edges the e3nn environment sums over), dense in torch: molecules, and periodic crystals.

A crystal atom's neighbours are every atom image j + n·(a, b, c) within the cut-off, itself in other cells
included. Along lattice vector k the images needed reach ceil(cutoff / d_k), d_k the spacing of the lattice
planes spanned by the other two vectors; the batch shares the largest such grid of shifts.
"""
from dataclasses import dataclass

import torch

from unite_mol.lattice import fractional, wrapped_cartesian


@dataclass
class Edges:
    src: torch.Tensor  # (E,) flat atom index (b * N + i) of the neighbour
    dst: torch.Tensor  # (E,) flat atom index receiving the message
    vec: torch.Tensor  # (E, 3) r_dst - r_src, Å


def radius_graph(positions: torch.Tensor, mask: torch.Tensor, cutoff: float) -> Edges:
    """All ordered pairs of real atoms of the same structure closer than `cutoff` (dense: N ≤ a few hundred)."""
    B, N, _ = positions.shape
    diff = positions[:, :, None] - positions[:, None, :]  # (B, N, N, 3): r_i - r_j
    pair = mask[:, :, None] & mask[:, None, :] & ~torch.eye(N, dtype=torch.bool, device=mask.device)
    pair &= diff.norm(dim=-1) < cutoff  # (B, N, N)
    b, i, j = pair.nonzero(as_tuple=True)
    return Edges(src=b * N + j, dst=b * N + i, vec=diff[b, i, j])


def image_reach(cells: torch.Tensor, cutoff: float) -> torch.Tensor:
    """(B, 3) long: cells to search along a, b, c so that no neighbour within `cutoff` is missed."""
    volume = torch.linalg.det(cells).abs()  # (B,)
    cross = torch.stack([torch.linalg.cross(cells[:, (k + 1) % 3], cells[:, (k + 2) % 3]) for k in range(3)], dim=1)  # (B, 3, 3)
    spacing = volume[:, None] / cross.norm(dim=-1)  # (B, 3) plane spacings
    return torch.ceil(cutoff / spacing).long()


def periodic_radius_graph(positions: torch.Tensor, cells: torch.Tensor, mask: torch.Tensor, cutoff: float) -> Edges:
    """All (atom, neighbour image) pairs of real atoms of one crystal closer than `cutoff`; vec = r_i − (r_j + T).
    Atoms are first wrapped into the cell (which image an atom is given as does not matter)."""
    B, N, _ = positions.shape
    positions = wrapped_cartesian(fractional(positions, cells), cells)  # (B, N, 3), inside the cell
    reach = [int(r) for r in image_reach(cells, cutoff).max(0).values]
    ranges = [torch.arange(-r, r + 1, device=positions.device, dtype=positions.dtype) for r in reach]
    shifts = torch.cartesian_prod(*ranges)  # (S, 3) integer multiples of a, b, c
    translations = torch.einsum("sk,bkc->bsc", shifts, cells)  # (B, S, 3) Å
    diff = positions[:, :, None, None] - positions[:, None, :, None] - translations[:, None, None]  # (B, N, N, S, 3)
    zero = (shifts == 0).all(-1)  # (S,)
    itself = torch.eye(N, dtype=torch.bool, device=mask.device)[:, :, None] & zero  # (N, N, S)
    pair = (mask[:, :, None] & mask[:, None, :])[..., None] & ~itself  # (B, N, N, S)
    pair &= diff.norm(dim=-1) < cutoff
    b, i, j, s = pair.nonzero(as_tuple=True)
    return Edges(src=b * N + j, dst=b * N + i, vec=diff[b, i, j, s])

