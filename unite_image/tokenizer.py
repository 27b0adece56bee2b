"""Patch tokens as the observation, appended after the latent registers in the tokenize pass; optionally each
register also receives the mean of its own square block of patches (`tie=true`, like `sum` pairing for atoms)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from unite_core.model import Observation
from unite_image.data import ImageBatch
from unite_image.patches import patchify


class PatchTokenizer(nn.Module):
    """Each p x p patch -> Linear -> + learned position embedding; all latent registers are in use."""

    def __init__(self, width: int, image_size: int, patch: int, num_latents: int, tie: bool):
        super().__init__()
        self.observation_dim, self.patch, self.num_latents, self.tie = width, patch, num_latents, tie
        self.side = image_size // patch
        if tie and (math.isqrt(num_latents) ** 2 != num_latents or self.side % math.isqrt(num_latents)):
            raise ValueError(f"tokens.tie needs a square number of latents whose side divides the {self.side} x {self.side} patch grid")
        self.embed = nn.Linear(3 * patch * patch, width)
        self.pos = nn.Parameter(torch.randn(self.side**2, width) * 0.02)

    def forward(self, batch: ImageBatch) -> Observation:
        tokens = self.embed(patchify(batch.pixels, self.patch)) + self.pos  # (B, N, D)
        B, N, D = tokens.shape
        mask = torch.ones(B, N, dtype=torch.bool, device=tokens.device)
        latent_mask = torch.ones(B, self.num_latents, dtype=torch.bool, device=tokens.device)
        tied = None
        if self.tie:
            grid = tokens.transpose(1, 2).reshape(B, D, self.side, self.side)  # (B, D, s, s)
            block = self.side // math.isqrt(self.num_latents)
            tied = F.avg_pool2d(grid, block).flatten(2).transpose(1, 2)  # (B, L, D), register i <- block i (row-major)
        return Observation(tokens=tokens, mask=mask, latent_mask=latent_mask, cond=batch.label, latent_inputs=tied)
