"""Shared by the speed benchmarks: training steps per second of a UNITE model on one fixed batch."""
import time

import torch

from unite_core.model import UNITE
from unite_core.rng import BatchRandom


def train_rate(model: UNITE, batch, rows: int, steps: int, warmup: int, bf16: bool, device: torch.device) -> float:
    """Samples per second of the full joint step (both GE passes, decoder, K flow repeats, backward, AdamW)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for step in range(warmup + steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        rng = BatchRandom.for_step(0, step, 0, slice(0, rows), rows, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model(batch, rng).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * rows / (time.perf_counter() - start)
