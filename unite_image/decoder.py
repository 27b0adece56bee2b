"""ViT pixel decoder: latent registers + one learned query per patch -> transformer -> patch pixels."""
import torch
import torch.nn as nn

from unite_core.flow import item_mean
from unite_core.model import ReconLoss
from unite_core.nn import TrunkConfig, ViTBlock
from unite_image.data import ImageBatch
from unite_image.lpips import PerceptualLoss
from unite_image.patches import unpatchify


class PixelDecoder(nn.Module):
    """Latents (B, L, C) -> images (B, 3, H, W) in [-1, 1] (unclamped); reconstruction = mean L1 (+ weighted LPIPS)."""

    def __init__(self, cfg: TrunkConfig, latent_dim: int, num_latents: int, image_size: int, patch: int,
                 perceptual: PerceptualLoss | None = None):
        super().__init__()
        self.image_size, self.patch, self.perceptual = image_size, patch, perceptual
        patches = (image_size // patch) ** 2
        self.latent_in = nn.Linear(latent_dim, cfg.width)
        self.latent_pos = nn.Parameter(torch.randn(num_latents, cfg.width) * 0.02)
        self.queries = nn.Parameter(torch.randn(patches, cfg.width) * 0.02)
        self.blocks = nn.ModuleList(ViTBlock(cfg.width, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width, 3 * patch * patch)

    def forward(self, z: torch.Tensor, latent_mask: torch.Tensor) -> torch.Tensor:
        B, L, _ = z.shape
        x = torch.cat([self.latent_in(z) + self.latent_pos[:L], self.queries.expand(B, -1, -1)], dim=1)  # (B, L + N, D)
        for block in self.blocks:
            x = block(x, None)
        patches = self.head(self.norm(x[:, L:]))  # (B, N, p * p * 3)
        return unpatchify(patches, self.patch, self.image_size)

    def loss(self, output: torch.Tensor, batch: ImageBatch, weights: torch.Tensor | None = None) -> ReconLoss:
        l1 = item_mean((output.float() - batch.pixels).abs().flatten(1).mean(1), weights)
        if self.perceptual is None:
            return ReconLoss(total=l1, terms={"l1": l1})
        lpips = self.perceptual(output, batch.pixels, weights)
        return ReconLoss(total=l1 + self.perceptual.weight * lpips, terms={"l1": l1, "lpips": lpips})
