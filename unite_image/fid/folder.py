"""The images of a folder (recursively, any class layout) as uint8 batches for FID features."""
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from unite_image.data import center_crop, readable


def image_files(root: Path) -> tuple[list[Path], list[Path]]:
    """(readable images, skipped files) under `root`, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder of images")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    good = [p for p in files if readable(p)]
    if not good:
        raise FileNotFoundError(f"{root}: no readable images")
    return good, sorted(set(files) - set(good))


def image_batches(files: list[Path], crop: int | None, batch: int) -> Iterator[torch.Tensor]:
    """(B, 3, H, W) uint8: ADM centre crops to `crop` px, or whole images (then one image per batch, any size)."""
    from PIL import Image

    size = batch if crop else 1
    for lo in range(0, len(files), size):
        pixels = []
        for path in files[lo : lo + size]:
            with Image.open(path) as image:
                pixels.append(center_crop(image, crop) if crop else np.asarray(image.convert("RGB")))
        yield torch.from_numpy(np.stack(pixels)).permute(0, 3, 1, 2)
