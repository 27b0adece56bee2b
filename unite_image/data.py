"""ImageFolder data (class folders of JPEG / PNG, the ImageNet layout) decoded with Pillow, no torchvision.

Images are centre-cropped the ADM way (halve with a box filter while the short side is at least twice the
target, resize bicubically so the short side is the target, crop the centre) and scaled to [-1, 1]; random
horizontal flips are an augmentation drawn from the training step's generator (exact on resume and DDP).
"""
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


@dataclass
class ImageBatch:
    pixels: torch.Tensor  # (B, 3, H, W) float in [-1, 1]
    label: torch.Tensor  # (B,) long class index

    def to(self, device: torch.device) -> "ImageBatch":
        return ImageBatch(self.pixels.to(device), self.label.to(device))

    def __len__(self) -> int:
        return self.pixels.shape[0]


def center_crop(image, size: int) -> np.ndarray:
    """ADM-style centre crop of a PIL image to (size, size, 3) uint8."""
    from PIL import Image

    image = image.convert("RGB")
    while min(image.size) >= 2 * size:
        image = image.resize(tuple(x // 2 for x in image.size), resample=Image.BOX)
    scale = size / min(image.size)
    image = image.resize(tuple(round(x * scale) for x in image.size), resample=Image.BICUBIC)
    pixels = np.asarray(image)
    top, left = (pixels.shape[0] - size) // 2, (pixels.shape[1] - size) // 2
    return pixels[top : top + size, left : left + size]


def readable(path: Path) -> bool:
    """An image suffix, and Pillow recognises the file (header only; a truncated body shows up when decoded)."""
    from PIL import Image, UnidentifiedImageError

    if path.suffix.lower() not in EXTENSIONS:
        return False
    try:
        with Image.open(path) as image:
            image.verify()
        return True
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False


class ImageFolder(Dataset):
    """root/<class>/<image>: classes are the sorted folder names; unreadable files are skipped and counted."""

    def __init__(self, root: str | Path, image_size: int):
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"data.path: {root} is not a folder (expected one sub-folder of images per class)")
        self.classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not self.classes:
            raise FileNotFoundError(f"data.path: {root} has no class sub-folders")
        found = [(p, c) for c, name in enumerate(self.classes) for p in sorted((root / name).rglob("*")) if p.is_file()]
        self.skipped = [p for p, _ in found if not readable(p)]
        bad = set(self.skipped)
        self.items = [(p, c) for p, c in found if p not in bad]
        if not self.items:
            raise FileNotFoundError(f"data.path: no readable images under {root}")
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        from PIL import Image

        for k in range(len(self.items)):  # a file that fails to decode is replaced by the next one, with a warning
            path, label = self.items[(i + k) % len(self.items)]
            try:
                with Image.open(path) as image:
                    return center_crop(image, self.image_size), label
            except OSError as err:
                warnings.warn(f"{path}: cannot decode ({err}); using the next image instead", stacklevel=2)
        raise OSError("no image in the folder can be decoded")


def collate(items: list[tuple[np.ndarray, int]]) -> ImageBatch:
    pixels = torch.from_numpy(np.stack([p for p, _ in items])).permute(0, 3, 1, 2).float() / 127.5 - 1  # (B, 3, H, W)
    return ImageBatch(pixels, torch.tensor([c for _, c in items], dtype=torch.long))
