"""Optimisers (AdamW, optionally Muon for block matrices) and the warm-up + cosine schedule."""
import math

import torch
import torch.nn as nn

from unite_core.train.config import OptimConfig
from unite_core.train.muon import Muon


def _is_block_matrix(name: str, p: torch.Tensor) -> bool:
    return p.dim() == 2 and ".blocks." in f".{name}"


def is_condition_table(name: str) -> bool:
    """Whether parameter `name` is a GE's condition embedding table (one row per condition, then the null row)."""
    return name.endswith("c_embed.table.weight")


def build_optimizers(model: nn.Module, cfg: OptimConfig) -> list[torch.optim.Optimizer]:
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]

    def adamw(named: list[tuple[str, torch.Tensor]]) -> torch.optim.AdamW:
        groups = [{"params": [p for _, p in named]}]  # one group unless cond_lr_scale: the layout older checkpoints hold
        if cfg.cond_lr_scale != 1.0:
            groups = [{"params": [p for n, p in named if not is_condition_table(n)]},
                      {"params": [p for n, p in named if is_condition_table(n)], "lr": cfg.lr * cfg.cond_lr_scale}]
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)

    if not cfg.muon:
        return [adamw(params)]
    matrices = [p for n, p in params if _is_block_matrix(n, p)]
    rest = [(n, p) for n, p in params if not _is_block_matrix(n, p)]
    return [Muon(matrices, lr=cfg.lr, weight_decay=cfg.weight_decay), adamw(rest)]


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier: linear warm-up to 1, then cosine to min_ratio at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_schedulers(optimizers: list[torch.optim.Optimizer], cfg: OptimConfig, total_steps: int) -> list[torch.optim.lr_scheduler.LambdaLR]:
    fn = lambda step: warmup_cosine(step, cfg.warmup_steps, total_steps, cfg.min_lr_ratio)
    return [torch.optim.lr_scheduler.LambdaLR(opt, fn) for opt in optimizers]
