"""Random horizontal flips of training images, drawn from the step's BatchRandom (exact on resume / DDP)."""
import torch

from unite_core.rng import BatchRandom
from unite_image.data import ImageBatch


class RandomFlip:
    def __call__(self, batch: ImageBatch, rng: BatchRandom) -> ImageBatch:
        flip = rng.rand(1)[:, 0] < 0.5  # (B,)
        pixels = torch.where(flip[:, None, None, None], batch.pixels.flip(-1), batch.pixels)  # (B, 3, H, W)
        return ImageBatch(pixels, batch.label)
