"""Decoder adaptation (`objective.recipe=decoder`): a trained model's decoder learned from the tokenizer's latents (clean or
noised along the path), but at sampling time it decodes latents the GE denoised. This stage trains the decoder alone,
the GE frozen, on such latents: the true latent noised to t0 and carried back to t = 1 by the GE's own ODE (Euler),
with the true data as the target."""
from dataclasses import dataclass
from typing import Callable

import torch

from unite_core.flow import linear_path, velocity

Predict = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t (B, L, C), t (B,)) -> clean latent (B, L, C)


@dataclass
class AdaptConfig:
    prob: float = 0.5  # share of each batch decoded from GE-denoised latents; the rest as in joint training
    t_min: float = 0.4  # t0 ~ U[t_min, t_max]: how far from the data the denoised latents start
    t_max: float = 0.9
    steps: int = 4  # Euler steps from t0 to 1

    def __post_init__(self):
        if not 0 <= self.prob <= 1:
            raise ValueError(f"objective.adapt.prob must be in [0, 1], got {self.prob}")
        if not 0 <= self.t_min <= self.t_max < 1:
            raise ValueError(f"objective.adapt needs 0 <= t_min <= t_max < 1, got t_min={self.t_min}, t_max={self.t_max}")
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise ValueError(f"objective.adapt.steps must be an integer >= 1, got {self.steps}")


@torch.no_grad()
def denoised(predict: Predict, z: torch.Tensor, noise: torch.Tensor, t0: torch.Tensor, mask: torch.Tensor, steps: int,
             t_clamp: float) -> torch.Tensor:
    """z noised to t0 (each row its own) on the linear path, then integrated to t = 1 by Euler in `steps` equal steps."""
    x = linear_path(z, noise, t0, mask).x_t  # (B, L, C)
    h = (1 - t0) / steps  # (B,)
    for i in range(steps):
        t = t0 + i * h  # (B,)
        x = x + h[:, None, None] * velocity(predict(x, t), x, t, t_clamp) * mask[..., None]  # (B, L, C)
    return x


def cold_start_error(tool: str) -> ValueError:
    """What a trainer that cannot start a run from a trained model (no init_from) answers objective.recipe=decoder."""
    return ValueError(f"objective.recipe=decoder adapts a trained model's decoder, and {tool} cannot start a run from one "
                      "(unite-mol's init_from can)")
