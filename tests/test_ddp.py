"""Two CPU processes (torchrun, gloo) train exactly as one process on the combined batch, and stop together."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import torch

from unite_core.toy.run import build_model, train
from unite_core.train import load_checkpoint
from unite_core.train.logger import CsvLog

from conftest import TORCHRUN, TORCHRUN_ENV, tiny_toy
from fault_child import logged_step

STEPS = 3  # zero-init (final layer, then adaLN gates) reaches the attention weights from the third step


def test_two_process_ddp_equals_one_process(tmp_path):
    cmd = [*TORCHRUN, str(Path(__file__).parent / "ddp_worker.py"), str(tmp_path / "ddp"), str(STEPS)]
    done = subprocess.run(cmd, env=TORCHRUN_ENV, capture_output=True, text=True, timeout=300)
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


def _rank_pid(launcher: subprocess.Popen, rank: int) -> int:
    """The pid of one rank torchrun started (Linux: its children, told apart by the RANK they were given)."""
    for pid in Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read_text().split():
        if f"RANK={rank}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            return int(pid)
    raise AssertionError(f"no rank {rank} among torchrun's children")


def test_sigterm_to_one_rank_stops_both_at_one_step_and_a_rerun_resumes_there(tmp_path):
    """SIGTERM reaching one rank (torchrun passes a preempted job's to each, not always at once) stops every rank
    after the same step: the ranks agree on it, rank 0 checkpoints it, and the same command continues from there."""
    run_dir = tmp_path / "run"
    toy = [*TORCHRUN, str(Path(__file__).parent / "fault_child.py"), f"run.dir={run_dir}", "trainer.ckpt_every=100000"]
    proc = subprocess.Popen([*toy, "trainer.max_steps=100000"], env=TORCHRUN_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while logged_step(run_dir) < 5:
        assert proc.poll() is None and time.monotonic() < deadline, "the two-process run ended early or made no progress"
        time.sleep(0.05)
    os.kill(_rank_pid(proc, 1), signal.SIGTERM)
    err = proc.communicate(timeout=120)[1]
    stops = re.findall(r"stopped by (?:SIGTERM|a signal to another rank) at step (\d+)", err)
    assert len(stops) == 2 and stops[0] == stops[1] and "checkpoint None" not in err, err[-3000:]
    step = int(stops[0])
    assert load_checkpoint(run_dir).step == step and not (run_dir / "run.lock").exists()
    done = subprocess.run([*toy, f"trainer.max_steps={step + 2}"], env=TORCHRUN_ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and f"resuming {run_dir} at step {step}" in done.stderr, done.stderr[-3000:]
    assert load_checkpoint(run_dir).step == step + 2
