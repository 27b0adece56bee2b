"""Equivariant local-environment features of each atom (e3nn), the geometric half of the atom token.

Two interaction layers over the neighbours within `cutoff` Å:
  layer 1: element scalars (S x 0e) ⊗ Y(r̂_ij) (1x0e + 1x1o + 1x2e), weights from a radial MLP of |r_ij|
           -> hidden irreps, `16x0e + 8x1o + 8x2e` by default (scalars gated by SiLU);
  layer 2: hidden ⊗ Y(r̂_ij) -> `scalars x 0e`: rotation-invariant features of the environment.
Messages are summed over neighbours and scaled by 1/sqrt(avg_neighbours).
"""
from dataclasses import dataclass

import torch
import torch.nn as nn

from unite_core.config import at_least
from unite_mol.neighbours import Edges, periodic_radius_graph, radius_graph


@dataclass
class EnvConfig:
    cutoff: float = 5.0  # Å
    radial_basis: int = 8
    hidden_irreps: str = "16x0e + 8x1o + 8x2e"
    scalars: int = 32
    avg_neighbours: float = 10.0  # message normaliser; a QM9 atom has 9.8 neighbours within 5 Å on average

    def __post_init__(self):
        if not (self.cutoff > 0 and self.avg_neighbours > 0):
            raise ValueError(f"env.cutoff and env.avg_neighbours must be > 0, got {self.cutoff} and {self.avg_neighbours}")
        at_least("env", self, 1, "radial_basis", "scalars")


class Interaction(nn.Module):
    """x_i' = Σ_j TP(x_j, Y(r̂_ij); w(|r_ij|)) / sqrt(avg_neighbours) + Linear(x_i)."""

    def __init__(self, irreps_in, irreps_out, cfg: EnvConfig):
        super().__init__()
        from e3nn import o3
        from e3nn.nn import FullyConnectedNet

        self.cfg = cfg
        self.sh = o3.Irreps.spherical_harmonics(2)
        self.tp = o3.FullyConnectedTensorProduct(irreps_in, self.sh, irreps_out, shared_weights=False)
        self.radial = FullyConnectedNet([cfg.radial_basis, 32, self.tp.weight_numel], torch.nn.functional.silu)
        self.skip = o3.Linear(irreps_in, irreps_out)

    def forward(self, x: torch.Tensor, edges: Edges) -> torch.Tensor:
        from e3nn import o3
        from e3nn.math import soft_one_hot_linspace

        length = edges.vec.norm(dim=-1)  # (E,)
        basis = soft_one_hot_linspace(length, 0.0, self.cfg.cutoff, self.cfg.radial_basis, basis="smooth_finite", cutoff=True)
        sh = o3.spherical_harmonics(self.sh, edges.vec, normalize=True, normalization="component")  # (E, 9)
        messages = self.tp(x[edges.src], sh, self.radial(basis * self.cfg.radial_basis**0.5))  # (E, out)
        summed = torch.zeros(x.shape[0], messages.shape[1], dtype=messages.dtype, device=x.device)
        summed.index_add_(0, edges.dst, messages)
        return summed / self.cfg.avg_neighbours**0.5 + self.skip(x)  # (B*N, out)


class LocalEnvironment(nn.Module):
    """types (B, N), positions (B, N, 3), mask[, cells (B, 3, 3) of crystals] -> invariant scalars (B, N, S) and
    hidden irreps (B, N, H); a crystal's neighbours include periodic images."""

    def __init__(self, num_types: int, cfg: EnvConfig):
        super().__init__()
        from e3nn import o3
        from e3nn.nn import Activation

        self.cfg = cfg
        self.type_embed = nn.Embedding(num_types, 16)
        hidden = o3.Irreps(cfg.hidden_irreps)
        self.layer1 = Interaction(o3.Irreps("16x0e"), hidden, cfg)
        self.act = Activation(hidden, [torch.nn.functional.silu if ir.l == 0 else None for _, ir in hidden])
        self.layer2 = Interaction(hidden, o3.Irreps(f"{cfg.scalars}x0e"), cfg)
        self.hidden_irreps = hidden

    def forward(
        self, types: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor, cells: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        B, N = types.shape
        with torch.autocast(positions.device.type, enabled=False):  # geometry stays fp32
            if cells is None:
                edges = radius_graph(positions, mask, self.cfg.cutoff)
            else:
                edges = periodic_radius_graph(positions, cells, mask, self.cfg.cutoff)
            x = self.type_embed(types).reshape(B * N, -1)  # (B*N, 16)
            hidden = self.act(self.layer1(x, edges))  # (B*N, H)
            scalars = self.layer2(hidden, edges)  # (B*N, S)
        keep = mask.reshape(B * N, 1)
        return (scalars * keep).view(B, N, -1), (hidden * keep).view(B, N, -1)
