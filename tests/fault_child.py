"""`unite-toy` in a child process, for the fault tests and benchmarks/soak.py. With FAULT_KILL_AT_SAVE=k the
process kills itself (SIGKILL) half-way through writing its k-th checkpoint: a crash inside the write."""
import io
import os
import signal
import sys

import torch

from unite_core.cli import run_cli
from unite_core.toy.cli import main

# a toy run small enough for dozens of optimiser steps per second on one core
TINY = ["data.size=256", "data.max_points=12", "trainer.batch_size=16", "trainer.log_every=1", "trainer.eval_every=1000000",
        "trainer.progress=false", "decoder.depth=1", "decoder.width=32", "optim.warmup_steps=2", "run.device=cpu"]


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
