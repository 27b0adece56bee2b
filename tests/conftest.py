"""Shared fixtures: deterministic seeds and a tiny toy-modality UNITE config."""
from pathlib import Path

import pytest
import torch

from unite_core.toy.data import ToyDataConfig
from unite_core.toy.run import ToyConfig
from unite_core.train import OptimConfig, RunConfig, TrainerConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def tiny_toy(run_dir: Path, **trainer) -> ToyConfig:
    """A toy config small enough for a few optimiser steps per second on one CPU core."""
    cfg = ToyConfig(
        data=ToyDataConfig(size=256, max_points=12),
        trainer=TrainerConfig(**{"batch_size": 16, "max_steps": 4, "log_every": 1, "eval_every": 10**6, "ckpt_every": 2, "progress": False, **trainer}),
        optim=OptimConfig(lr=1e-3, warmup_steps=2),
        run=RunConfig(dir=str(run_dir), device="cpu"),
    )
    cfg.decoder.depth, cfg.decoder.width = 1, 32
    return cfg
