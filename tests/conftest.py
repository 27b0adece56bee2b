"""Shared fixtures: deterministic seeds, a tiny toy-modality UNITE config, the unite-mol command run in-process, and
subprocess launchers (python, torchrun with two CPU processes)."""
import io
import os
import subprocess
import sys
from contextlib import chdir, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from unite_core.toy.data import ToyDataConfig
from unite_core.toy.run import ToyConfig
from unite_core.train import OptimConfig, RunConfig, TrainerConfig

REPO = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
# one thread per process; the workers import the package and this folder's helpers
TORCHRUN_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO), str(Path(__file__).parent)])}


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


@dataclass
class Ran:
    """A command's exit status and what it printed, named as subprocess.CompletedProcess names them."""
    returncode: int
    stdout: str
    stderr: str


def mol(*argv: str, cwd: Path = REPO) -> Ran:
    """`unite-mol ARGV` run from `cwd` in this process, as its console script runs it (one-line errors, exit statuses)
    without the ~3 s of imports a subprocess pays; test_cli runs the real entry points in subprocesses."""
    from unite_core.cli import run_cli
    from unite_mol.cli import main

    out, err = io.StringIO(), io.StringIO()
    with chdir(cwd), redirect_stdout(out), redirect_stderr(err):
        try:
            code = run_cli("unite-mol", main, list(argv))
        except SystemExit as stop:  # argparse's usage errors and --help
            code = int(stop.code or 0)
    return Ran(code, out.getvalue(), err.getvalue())


def run_python(*args: str, cwd: Path = REPO, python: str = sys.executable) -> subprocess.CompletedProcess:
    """`python ARGS` in a subprocess: the real entry points, imports and all."""
    return subprocess.run([python, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
