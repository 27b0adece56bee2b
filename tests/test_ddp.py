"""Two CPU processes (torchrun, gloo) train exactly as one process on the combined batch."""
import os
import subprocess
import sys
from pathlib import Path

import torch

from unite_core.toy.run import build_model, train
from unite_core.train import load_checkpoint
from unite_core.train.logger import CsvLog

from conftest import REPO, tiny_toy

STEPS = 3  # zero-init (final layer, then adaLN gates) reaches the attention weights from the third step


def test_two_process_ddp_equals_one_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO), str(Path(__file__).parent)])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(Path(__file__).parent / "ddp_worker.py"), str(tmp_path / "ddp"), str(STEPS)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    train(tiny_toy(tmp_path / "single", max_steps=STEPS, ckpt_every=1000, batch_size=16, accum_steps=2))
    ddp, single = load_checkpoint(tmp_path / "ddp"), load_checkpoint(tmp_path / "single")
    assert ddp.step == single.step == STEPS
    for name, value in single.model.items():
        other = ddp.model[name]
        if name.endswith("attn.qkv.bias"):  # softmax ignores the key bias: its true gradient is 0, and
            D = value.numel() // 3  # Adam turns the round-off left in it into lr-sized steps of any sign
            value, other = torch.cat([value[:D], value[2 * D :]]), torch.cat([other[:D], other[2 * D :]])
        torch.testing.assert_close(other, value, rtol=1e-5, atol=1e-6, msg=name)
    torch.manual_seed(0)
    init = build_model(tiny_toy(tmp_path)).state_dict()
    assert not torch.allclose(single.model["ge.blocks.0.attn.qkv.weight"], init["ge.blocks.0.attn.qkv.weight"])
    logged = [CsvLog(tmp_path / run / "train.csv", resume_step=STEPS).rows for run in ("ddp", "single")]
    assert len(logged[0]) == len(logged[1]) == STEPS
    for ddp_row, single_row in zip(*logged):
        for key in ("loss", "recon", "flow"):
            assert abs(ddp_row[key] - single_row[key]) < 1e-5 * max(1.0, abs(single_row[key])), key
