"""Tokenizer and decoder of the toy point-cloud modality: the smallest complete UNITE adapter."""
import torch
import torch.nn as nn

from unite_core.flow import item_mean, masked_mean
from unite_core.model import Observation, ReconLoss
from unite_core.nn import LatentTrunk, TrunkConfig
from unite_core.toy.data import PointBatch


class PointTokenizer(nn.Module):
    """Each point -> one observation token; token i shares RoPE position i with latent i."""

    def __init__(self, width: int):
        super().__init__()
        self.observation_dim = width
        self.mlp = nn.Sequential(nn.Linear(2, width), nn.GELU(), nn.Linear(width, width))

    def forward(self, batch: PointBatch) -> Observation:
        B, N, _ = batch.points.shape
        positions = torch.arange(N, device=batch.points.device).expand(B, N)  # (B, N)
        return Observation(tokens=self.mlp(batch.points), mask=batch.mask, latent_mask=batch.mask, cond=batch.label, positions=positions)


class PointDecoder(nn.Module):
    """Latents (B, N, C) -> points (B, N, 2); reconstruction = masked MSE."""

    def __init__(self, cfg: TrunkConfig, latent_dim: int, max_points: int):
        super().__init__()
        self.trunk = LatentTrunk(cfg, latent_dim, max_points)
        self.head = nn.Linear(cfg.width, 2)

    def forward(self, z: torch.Tensor, latent_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(z, latent_mask)) * latent_mask[..., None]  # (B, N, 2)

    def loss(self, output: torch.Tensor, batch: PointBatch, weights: torch.Tensor | None = None) -> ReconLoss:
        mse = item_mean(masked_mean((output.float() - batch.points).pow(2), batch.mask), weights)
        return ReconLoss(total=mse, terms={"mse": mse})
