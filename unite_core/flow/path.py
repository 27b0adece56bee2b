"""The linear path z_t = t·z + (1−t)·ε (t = 0 noise, t = 1 data) and its time distributions."""
from dataclasses import dataclass
from enum import Enum

import torch

from unite_core.rng import BatchRandom


class TimeDist(str, Enum):
    uniform = "uniform"
    logit_normal = "logit_normal"


def shift_time(t: torch.Tensor, shift: float) -> torch.Tensor:
    """t' = a·t / (1 + (a−1)·t); a < 1 moves mass towards the noise end (t = 0), a = 1 is the identity."""
    return shift * t / (1 + (shift - 1) * t)


@dataclass
class TimeSampler:
    dist: TimeDist = TimeDist.logit_normal
    mean: float = 0.0
    std: float = 1.0
    shift: float = 0.5

    def sample(self, rng: BatchRandom, *shape: int) -> torch.Tensor:
        if self.dist is TimeDist.uniform:
            t = rng.rand(*shape)
        else:
            t = torch.sigmoid(self.mean + self.std * rng.randn(*shape))
        return shift_time(t, self.shift)


@dataclass
class PathSample:
    t: torch.Tensor  # (B,)
    x_t: torch.Tensor  # (B, L, C)
    x1: torch.Tensor  # (B, L, C) clean target
    noise: torch.Tensor  # (B, L, C)


def linear_path(x1: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, mask: torch.Tensor) -> PathSample:
    """Interpolate; padded latent slots stay exactly zero."""
    tt = t[:, None, None]
    x_t = (tt * x1 + (1 - tt) * noise) * mask[..., None]  # (B, L, C)
    return PathSample(t=t, x_t=x_t, x1=x1, noise=noise)
