"""Feature statistics (mean, covariance) in the common `.npz` layout (`mu`, `sigma`) and the Fréchet distance."""
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from tqdm import tqdm

from unite_core.io import atomic_path


@dataclass
class FeatureStats:
    mu: np.ndarray  # (D,) float64
    sigma: np.ndarray  # (D, D) float64
    count: int  # images behind the statistics (0 when loaded from a file that does not say)

    @classmethod
    def of(cls, features: np.ndarray) -> "FeatureStats":
        if len(features) < 2:
            raise ValueError(f"FID statistics need at least 2 images, got {len(features)}")
        features = features.astype(np.float64)
        return cls(features.mean(0), np.cov(features, rowvar=False), len(features))

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp, tmp.open("wb") as f:
            np.savez(f, mu=self.mu, sigma=self.sigma, count=self.count)

    @classmethod
    def load(cls, path: Path) -> "FeatureStats":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such statistics file")
        with np.load(path) as f:
            if "mu" not in f or "sigma" not in f:
                raise ValueError(f"{path}: no 'mu' / 'sigma' arrays (keys: {', '.join(f.files)})")
            return cls(f["mu"].astype(np.float64), f["sigma"].astype(np.float64), int(f["count"]) if "count" in f else 0)


def frechet_distance(a: FeatureStats, b: FeatureStats, eps: float = 1e-6) -> float:
    """|mu_a - mu_b|² + tr(S_a + S_b - 2 (S_a S_b)^½), offsetting the diagonals by eps if the product is singular."""
    from scipy import linalg

    if a.mu.shape != b.mu.shape:
        raise ValueError(f"statistics of {a.mu.shape[0]}- and {b.mu.shape[0]}-dimensional features cannot be compared")
    with warnings.catch_warnings():  # a singular product warns; the offset below handles it
        warnings.simplefilter("ignore")
        root = linalg.sqrtm(a.sigma @ b.sigma)
    if not np.isfinite(root).all():
        offset = np.eye(len(a.mu)) * eps
        root = linalg.sqrtm((a.sigma + offset) @ (b.sigma + offset))
    return float(np.sum((a.mu - b.mu) ** 2) + np.trace(a.sigma) + np.trace(b.sigma) - 2 * np.trace(root.real))


@torch.no_grad()
def extract_features(net: torch.nn.Module, batches: Iterable[torch.Tensor], total: int, device: str = "cpu") -> np.ndarray:
    """Pool3 features (N, 2048) of uint8 image batches (B, 3, H, W), with a progress bar."""
    out = []
    with tqdm(total=total, desc="FID features", unit="img", leave=False) as bar:
        for images in batches:
            out.append(net(images.to(device)).cpu().numpy())
            bar.update(len(images))
    return np.concatenate(out)
