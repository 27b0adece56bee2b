"""Feature statistics of a folder, of a model's samples, and of its reconstructions (rFID)."""
from pathlib import Path

import numpy as np
import torch

from unite_core.flow import SamplerConfig
from unite_core.model import UNITE
from unite_image.data import ImageFolder, collate
from unite_image.fid.folder import image_batches, image_files
from unite_image.fid.stats import FeatureStats, extract_features
from unite_image.grid import to_uint8
from unite_image.run import generate_images


def _uint8(images: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(to_uint8(images)).permute(0, 3, 1, 2)  # (B, 3, H, W) uint8


def folder_stats(net: torch.nn.Module, folder: Path, crop: int | None, batch: int, device: str) -> tuple[FeatureStats, list[Path]]:
    """Statistics of every readable image under `folder`, and the files skipped as unreadable."""
    files, skipped = image_files(folder)
    return FeatureStats.of(extract_features(net, image_batches(files, crop, batch), len(files), device)), skipped


def sample_stats(net: torch.nn.Module, model: UNITE, labels: torch.Tensor, sampler: SamplerConfig, batch: int,
                 generator: torch.Generator, device: str) -> FeatureStats:
    chunks = (_uint8(generate_images(model, labels[lo : lo + batch], sampler, generator)) for lo in range(0, len(labels), batch))
    return FeatureStats.of(extract_features(net, chunks, len(labels), device))


@torch.no_grad()
def recon_stats(net: torch.nn.Module, model: UNITE, data: ImageFolder, n: int, batch: int, device: str) -> tuple[FeatureStats, FeatureStats]:
    """(originals, reconstructions) of `n` images spread evenly over `data`, both at the model's resolution."""
    picks = np.linspace(0, len(data) - 1, min(n, len(data))).astype(int)
    gen = torch.Generator(device=device).manual_seed(0)
    real, recon = [], []
    for lo in range(0, len(picks), batch):
        images = collate([data[int(i)] for i in picks[lo : lo + batch]])
        real.append(_uint8(images.pixels))
        recon.append(_uint8(model.reconstruct(images.to(device), gen).float().cpu()))
    return (FeatureStats.of(extract_features(net, real, len(picks), device)),
            FeatureStats.of(extract_features(net, recon, len(picks), device)))
