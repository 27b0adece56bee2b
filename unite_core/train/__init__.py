"""Training: the fit loop, EMA, checkpoints, optimisers, DDP helpers, run lock, graceful stop and logging."""
from unite_core.train.batches import StepBatches
from unite_core.train.checkpoint import (
    TrainState, UnreadableCheckpoint, list_checkpoints, load_checkpoint, load_run, resume_checkpoint, run_dir_of, save_checkpoint,
)
from unite_core.train.config import NonFinite, OptimConfig, Precision, RunConfig, TrainerConfig, WandbMode
from unite_core.train.dist import DistEnv, distributed
from unite_core.train.ema import EMA
from unite_core.train.fit import Evaluator, FitResult, NonFiniteLoss, Trainer, fit
from unite_core.train.lock import RunLock, RunLocked
from unite_core.train.optim import build_optimizers, build_schedulers, is_condition_table, warmup_cosine
from unite_core.train.stop import STOPPED_EXIT, StopRequest

__all__ = [
    "EMA", "STOPPED_EXIT", "DistEnv", "Evaluator", "FitResult", "NonFinite", "NonFiniteLoss", "OptimConfig", "Precision",
    "RunConfig", "RunLock", "RunLocked", "StepBatches", "StopRequest", "TrainState", "Trainer", "TrainerConfig",
    "UnreadableCheckpoint", "WandbMode", "build_optimizers", "build_schedulers", "distributed", "fit", "is_condition_table",
    "list_checkpoints", "load_checkpoint", "load_run", "resume_checkpoint", "run_dir_of", "save_checkpoint", "warmup_cosine",
]
