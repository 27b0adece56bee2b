"""Schemas of the trainer's and optimiser's settings (Hydra YAML is validated against these once)."""
from dataclasses import dataclass
from enum import Enum

from unite_core.config import at_least


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"  # autocast; weights, optimiser and EMA stay fp32


class NonFinite(str, Enum):
    """What a step whose loss is NaN or infinite does; the weights are never updated from it."""

    stop = "stop"  # end the run with an error (a checkpoint of the last good weights is written)
    skip = "skip"  # skip the update, count it in train.csv; stop after trainer.nonfinite_max in a row


class WandbMode(str, Enum):
    disabled = "disabled"
    offline = "offline"
    online = "online"


@dataclass
class OptimConfig:
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    muon: bool = False  # Muon for the 2-D weights inside transformer blocks, AdamW for the rest
    cond_lr_scale: float = 1.0  # the condition embedding table learns at lr x this (a warm start that adds conditions:
    # their rows start equal, and part faster); 1 keeps one parameter group, as checkpoints written before it hold
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio at max_steps
    grad_clip: float = 3.0

    def __post_init__(self):
        if not self.cond_lr_scale > 0:
            raise ValueError(f"optim.cond_lr_scale must be > 0, got {self.cond_lr_scale}")
        if not (self.lr > 0 and self.grad_clip > 0):
            raise ValueError(f"optim.lr and optim.grad_clip must be > 0, got {self.lr} and {self.grad_clip}")
        at_least("optim", self, 0, "warmup_steps", "weight_decay", "min_lr_ratio")
        if not (all(0 <= b < 1 for b in self.betas) and self.min_lr_ratio <= 1):
            raise ValueError(f"optim.betas must lie in [0, 1) and optim.min_lr_ratio in [0, 1], got {list(self.betas)} and "
                             f"{self.min_lr_ratio}")


@dataclass
class TrainerConfig:
    batch_size: int = 64  # global: samples per optimiser step, over all ranks and accumulation steps
    accum_steps: int = 1
    max_steps: int = 1000
    minutes: float | None = None  # wall-clock budget; stops early (with a checkpoint) when spent
    precision: Precision = Precision.fp32
    compile: bool = False  # torch.compile each transformer block in place (GPUs; checkpoints unchanged)
    ema_decay: float = 0.9978
    ema_warmup: bool = False  # decay min(ema_decay, (1 + n) / (10 + n)) at step n; the trainer presets turn it on (runs
    # written before it existed lack the key, so they resume as they were)
    seed: int = 0
    nonfinite: NonFinite = NonFinite.stop
    nonfinite_max: int = 10  # with nonfinite=skip: this many non-finite steps in a row stop the run
    log_every: int = 10
    eval_every: int = 500
    eval_at_start: bool = False  # also evaluate the starting weights (step 0): the baseline of a warm start's curve
    ckpt_every: int = 500
    keep_ckpts: int = 3
    num_workers: int = 0
    size_window: int = 0  # > 0: sort each run of this many micro-batches by sample size (less padding); 0: plain shuffle
    progress: bool = True
    wandb: WandbMode = WandbMode.disabled
    wandb_project: str = "unite"

    def __post_init__(self):
        at_least("trainer", self, 1, "batch_size", "accum_steps", "max_steps", "log_every", "eval_every", "ckpt_every",
                 "keep_ckpts", "nonfinite_max")
        at_least("trainer", self, 0, "num_workers", "size_window")
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"trainer.minutes must be > 0 (or null: no time budget), got {self.minutes}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"trainer.ema_decay must lie in [0, 1), got {self.ema_decay}")


@dataclass
class RunConfig:
    dir: str = "runs/default"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    resume: bool = True  # continue from the newest checkpoint in dir, if any
