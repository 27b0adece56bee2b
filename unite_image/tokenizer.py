"""Patch tokens as the observation: appended after the latent registers in the tokenize pass."""
import torch
import torch.nn as nn

from unite_core.model import Observation
from unite_image.data import ImageBatch
from unite_image.patches import patchify


class PatchTokenizer(nn.Module):
    """Each p x p patch -> Linear -> + learned position embedding; all latent registers are in use."""

    def __init__(self, width: int, image_size: int, patch: int, num_latents: int):
        super().__init__()
        self.observation_dim, self.patch, self.num_latents = width, patch, num_latents
        self.embed = nn.Linear(3 * patch * patch, width)
        self.pos = nn.Parameter(torch.randn((image_size // patch) ** 2, width) * 0.02)

    def forward(self, batch: ImageBatch) -> Observation:
        tokens = self.embed(patchify(batch.pixels, self.patch)) + self.pos  # (B, N, D)
        B, N, _ = tokens.shape
        mask = torch.ones(B, N, dtype=torch.bool, device=tokens.device)
        latent_mask = torch.ones(B, self.num_latents, dtype=torch.bool, device=tokens.device)
        return Observation(tokens=tokens, mask=mask, latent_mask=latent_mask, cond=batch.label)
