"""Training: the fit loop, EMA, checkpoints, optimisers, DDP helpers and logging."""
from unite_core.train.batches import StepBatches
from unite_core.train.checkpoint import TrainState, list_checkpoints, load_checkpoint, run_dir_of, save_checkpoint
from unite_core.train.config import OptimConfig, Precision, RunConfig, TrainerConfig, WandbMode
from unite_core.train.dist import DistEnv, init_distributed
from unite_core.train.ema import EMA
from unite_core.train.fit import Evaluator, FitResult, NonFiniteLoss, Trainer, fit
from unite_core.train.optim import build_optimizers, build_schedulers, warmup_cosine

__all__ = [
    "EMA", "DistEnv", "Evaluator", "FitResult", "NonFiniteLoss", "OptimConfig", "Precision", "RunConfig",
    "StepBatches", "TrainState", "Trainer", "TrainerConfig", "WandbMode", "build_optimizers", "build_schedulers",
    "fit", "init_distributed", "list_checkpoints", "load_checkpoint", "run_dir_of", "save_checkpoint", "warmup_cosine",
]
