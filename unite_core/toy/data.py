"""Synthetic 2-D point clouds on three outlines (circle, square, triangle), 8–16 points each.

A real variable-length, class-conditional modality small enough to train in a minute on a CPU. Points are
in canonical order (by polar angle), so latent i is tied to point i.
"""
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.utils.data import Dataset

CLASSES = ("circle", "square", "triangle")


@dataclass
class ToyDataConfig:
    size: int = 20000
    min_points: int = 8
    max_points: int = 16
    noise: float = 0.01
    seed: int = 0


@dataclass
class PointBatch:
    points: torch.Tensor  # (B, N, 2)
    mask: torch.Tensor  # (B, N) bool
    label: torch.Tensor  # (B,) long

    def to(self, device: torch.device) -> "PointBatch":
        return PointBatch(self.points.to(device), self.mask.to(device), self.label.to(device))

    def __len__(self) -> int:
        return self.points.shape[0]


def outline(label: int, s: np.ndarray) -> np.ndarray:
    """Points at arc-length fractions s in [0, 1) along the unit outline of a class -> (n, 2)."""
    if CLASSES[label] == "circle":
        angle = 2 * np.pi * s
        return np.stack([np.cos(angle), np.sin(angle)], axis=1)
    corners = 4 if CLASSES[label] == "square" else 3
    angles = 2 * np.pi * np.arange(corners + 1) / corners
    vertices = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (corners + 1, 2)
    edge, frac = np.divmod(s * corners, 1.0)
    edge = edge.astype(int)
    return vertices[edge] + frac[:, None] * (vertices[edge + 1] - vertices[edge])


def canonical_order(points: np.ndarray) -> np.ndarray:
    return points[np.argsort(np.arctan2(points[:, 1], points[:, 0]))]


class ToyShapes(Dataset):
    def __init__(self, cfg: ToyDataConfig):
        rng = np.random.default_rng(cfg.seed)
        self.labels = rng.integers(0, len(CLASSES), cfg.size)
        self.clouds = []
        for label in self.labels:
            n = rng.integers(cfg.min_points, cfg.max_points + 1)
            pts = outline(label, np.sort(rng.random(n)))
            c, s = np.cos(theta := rng.uniform(0, 2 * np.pi)), np.sin(theta)
            pts = pts @ np.array([[c, -s], [s, c]]) * rng.uniform(0.7, 1.3) + rng.normal(0, cfg.noise, pts.shape)
            self.clouds.append(canonical_order(pts).astype(np.float32))

    def __len__(self) -> int:
        return len(self.clouds)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.clouds[i], int(self.labels[i])

    def size_histogram(self) -> torch.Tensor:
        """Counts of clouds by number of points (index = points), for sampling sizes."""
        return torch.bincount(torch.tensor([len(c) for c in self.clouds]))


def heldout_shapes(cfg: ToyDataConfig, size: int) -> ToyShapes:
    """`size` fresh clouds from the training distribution (seed + 1), for evaluation."""
    return ToyShapes(replace(cfg, size=size, seed=cfg.seed + 1))


def collate(items: list[tuple[np.ndarray, int]]) -> PointBatch:
    n = max(len(pts) for pts, _ in items)
    points = torch.zeros(len(items), n, 2)
    mask = torch.zeros(len(items), n, dtype=torch.bool)
    for i, (pts, _) in enumerate(items):
        points[i, : len(pts)] = torch.from_numpy(pts)
        mask[i, : len(pts)] = True
    return PointBatch(points, mask, torch.tensor([label for _, label in items]))
