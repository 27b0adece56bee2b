"""`unite-toy` in a child process, for the fault tests and benchmarks/soak.py. With FAULT_KILL_AT_SAVE=k the
process kills itself (SIGKILL) half-way through writing its k-th checkpoint: a crash inside the write.
Also what both read of such a run: the last step it logged, and whether two states are the same."""
import io
import os
import signal
import sys
from pathlib import Path

import torch

from unite_core.cli import run_cli
from unite_core.toy.cli import main

# a toy run small enough for dozens of optimiser steps per second on one core
TINY = ["data.size=256", "data.max_points=12", "trainer.batch_size=16", "trainer.log_every=1", "trainer.eval_every=1000000",
        "trainer.progress=false", "decoder.depth=1", "decoder.width=32", "optim.warmup_steps=2", "run.device=cpu"]


def logged_step(run_dir: Path) -> int:
    """The last step in the run's train.csv (every step is logged), 0 before the first."""
    try:
        return int(float((run_dir / "train.csv").read_text().splitlines()[-1].split(",")[0]))
    except (OSError, IndexError, ValueError):
        return 0


def same_state(a, b) -> bool:
    """Same step, weights, EMA weights and optimiser tensors, bit for bit."""
    tensors = lambda s: [*s.model.values(), *s.ema.values()]  # noqa: E731
    flat = lambda o: [v for g in o for st in g["state"].values() for v in st.values() if torch.is_tensor(v)]  # noqa: E731
    return (a.step == b.step and all(torch.equal(x, y) for x, y in zip(tensors(a), tensors(b)))
            and all(torch.equal(x, y) for x, y in zip(flat(a.optimizers), flat(b.optimizers))))


def _kill_in_save(at: int) -> None:
    real_save, calls = torch.save, [0]

    def torn_save(obj, path):
        calls[0] += 1
        if calls[0] < at:
            return real_save(obj, path)
        buffer = io.BytesIO()
        real_save(obj, buffer)
        with open(path, "wb") as f:
            f.write(buffer.getvalue()[: buffer.tell() // 2])
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = torn_save


if __name__ == "__main__":
    if os.environ.get("FAULT_KILL_AT_SAVE"):
        _kill_in_save(int(os.environ["FAULT_KILL_AT_SAVE"]))
    sys.exit(run_cli("unite-toy", main, ["train", *TINY, *sys.argv[1:]]))
