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


def qm9_rows(n: int) -> list:
    """The first n QM9 molecules straight from the qm9pack CSV (parsed by our row parser, no cache)."""
    import pandas as pd

    from unite_mol.data.qm9 import _parse_row, qm9_csv_files

    table = pd.read_csv(qm9_csv_files()[0], usecols=["Index", "SMILES", "Elements", "XYZ_Ang"], nrows=n)
    return [_parse_row(e, x) for e, x in zip(table["Elements"], table["XYZ_Ang"])]
