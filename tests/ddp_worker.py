"""Run by test_ddp.py under `torchrun --nproc_per_node 2`: a few toy steps into the run folder argv[1]; fit must
leave the process group it joined (a gloo group left for the interpreter's exit can abort a run that went well)."""
import sys
from pathlib import Path

import torch.distributed as dist

from conftest import tiny_toy
from unite_core.toy.run import train

if __name__ == "__main__":
    train(tiny_toy(Path(sys.argv[1]), max_steps=int(sys.argv[2]), ckpt_every=1000, batch_size=16, accum_steps=2))
    assert not dist.is_initialized(), "fit returned with the process group still open"
