"""Seconds per optimiser step for the molecule preset's weights: AdamW, torch.optim.Muon (Newton–Schulz in bf16) and
unite's Muon (fp32 on a CPU), each on the same gradients, alternating so a busy machine slows all alike.

    OMP_NUM_THREADS=1 python benchmarks/muon_speed.py --rounds 3 --steps 5 [overrides]
"""
import argparse
import time

import torch

from unite_core.config import compose, validate
from unite_core.train.muon import Muon
from unite_core.train.optim import build_optimizers
from unite_mol.run import MolConfig, build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="optimiser steps per round and optimiser")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    cfg: MolConfig = validate(compose("mol", args.overrides, MolConfig), MolConfig)
    torch.manual_seed(0)
    model = build_model(cfg)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    cfg.optim.muon = True
    muon, _ = build_optimizers(model, cfg.optim)
    matrices = [p for g in muon.param_groups for p in g["params"]]
    kinds = {"AdamW": torch.optim.AdamW(matrices, lr=1e-4), "unite Muon": Muon(matrices, lr=1e-4)}
    if hasattr(torch.optim, "Muon"):
        kinds["torch.optim.Muon"] = torch.optim.Muon(matrices, lr=1e-4, adjust_lr_fn="match_rms_adamw")
    seconds = dict.fromkeys(kinds, 0.0)
    for _ in range(args.rounds):
        for name, opt in kinds.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                opt.step()
            seconds[name] += time.perf_counter() - start
    n = args.rounds * args.steps
    print(f"{torch.get_num_threads()} threads, {len(matrices)} block matrices, {sum(p.numel() for p in matrices):,} weights:")
    for name, s in seconds.items():
        print(f"  {name:<18} {1000 * s / n:8.1f} ms a step  ({s / seconds['AdamW']:.1f}x AdamW)")


if __name__ == "__main__":
    main()
