"""A PNG grid of images in [-1, 1]."""
from pathlib import Path

import numpy as np
import torch

from unite_core.io import atomic_path


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def save_grid(images: torch.Tensor, path: Path, rows: int) -> None:
    from PIL import Image

    pixels = to_uint8(images)
    B, H, W, _ = pixels.shape
    cols = -(-B // rows)
    canvas = np.full((rows * (H + 2), cols * (W + 2), 3), 255, np.uint8)
    for i, image in enumerate(pixels):
        r, c = divmod(i, cols)
        canvas[r * (H + 2) + 1 : r * (H + 2) + 1 + H, c * (W + 2) + 1 : c * (W + 2) + 1 + W] = image
    with atomic_path(path) as tmp:
        Image.fromarray(canvas).save(tmp, format="PNG")
