"""Does `trainer.compile=true` pay on this CPU? One molecule model eager and one with its transformer blocks compiled
(`unite_core.nn.compile_blocks`, what the trainer does), alternating rounds of the same training steps in one process.

    OMP_NUM_THREADS=1 python benchmarks/mol_compile_speed.py --rounds 3 --steps 12 dataset=files data.path=qm9_train1k.xyz

Prints the compilation time (the first `--steps` steps of the compiled model, every batch shape it meets) and the
seconds per step of each model per round.
"""
import argparse
import copy
import time

import torch

from unite_core.config import compose, validate
from unite_core.nn import compile_blocks
from unite_core.rng import BatchRandom
from unite_mol.batch import ElementVocab, collate
from unite_mol.data import load_data
from unite_mol.run import MolConfig, build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=12, help="training steps per round, each on its own batch")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the molecule config")
    args = parser.parse_args()
    cfg: MolConfig = validate(compose("mol", args.overrides, MolConfig), MolConfig)
    data, vocab, B = load_data(cfg.data), ElementVocab(cfg.data.elements), cfg.trainer.batch_size
    batches = [collate([data.train[(i * B + j) % len(data.train)] for j in range(B)], vocab, cfg.data.dataset_id)
               for i in range(args.steps)]
    torch.manual_seed(0)
    eager = build_model(cfg).train()
    compiled = copy.deepcopy(eager)
    compile_blocks(compiled)
    optims = {id(m): torch.optim.AdamW(m.parameters(), lr=1e-4) for m in (eager, compiled)}

    def round_s(model: torch.nn.Module) -> float:
        start = time.perf_counter()
        for i, batch in enumerate(batches):
            loss = model(batch, BatchRandom.for_step(0, i, 0, slice(0, B), B, torch.device("cpu"))).total
            optims[id(model)].zero_grad(set_to_none=True)
            loss.backward()
            optims[id(model)].step()
        return (time.perf_counter() - start) / len(batches)

    print(f"compilation (first {args.steps} steps of the compiled model): {round_s(compiled) * args.steps:.1f} s")
    for r in range(args.rounds):
        e, c = round_s(eager), round_s(compiled)
        print(f"round {r}: eager {e:.3f} s/step, compiled {c:.3f} s/step ({e / c:.2f}x)")


if __name__ == "__main__":
    main()
