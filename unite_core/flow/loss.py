"""x-prediction trained in velocity space, with masked per-sample means."""
import torch

from unite_core.flow.path import PathSample


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over every non-batch dim of `values` (B, L, ...) at the valid slots of `mask` (B, L) -> (B,)."""
    m = mask.reshape(*mask.shape, *([1] * (values.dim() - mask.dim()))).to(values.dtype)
    per_slot = values[0, 0].numel()
    return (values * m).flatten(1).sum(1) / (mask.sum(1).clamp(min=1) * per_slot)


def item_mean(values: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The batch mean of per-item values (B,), each times its weight (B,) when weights are given."""
    return values.mean() if weights is None else (values * weights).mean()


def velocity(x_pred: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, t_clamp: float) -> torch.Tensor:
    """v = (x̂ − x_t) / max(1 − t, t_clamp): the drift of the linear path implied by a clean prediction."""
    return (x_pred - x_t) / (1 - t).clamp(min=t_clamp)[:, None, None]


def velocity_loss(x_pred: torch.Tensor, path: PathSample, mask: torch.Tensor, t_clamp: float = 0.05) -> torch.Tensor:
    """Per-sample masked mean of (v̂ − v)² -> (B,)."""
    v_target = velocity(path.x1, path.x_t, path.t, t_clamp)
    v_pred = velocity(x_pred, path.x_t, path.t, t_clamp)
    return masked_mean((v_pred - v_target).pow(2), mask)
