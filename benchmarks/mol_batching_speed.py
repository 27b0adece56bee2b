"""Training molecules/s with size-sorted micro-batches (`trainer.size_window`) against a plain shuffle, in one
process on the same model, alternating the two so a busy machine slows both alike.

    OMP_NUM_THREADS=2 python benchmarks/mol_batching_speed.py --window 32 --rounds 4 --steps 5

Also prints how many padded atom slots each kind of batch computes (QM9 training split, batch 64).
"""
import argparse
import time

import torch

from unite_core.config import compose, validate
from unite_core.rng import BatchRandom
from unite_core.train.batches import StepBatches
from unite_mol.batch import ElementVocab, collate
from unite_mol.data import load_data
from unite_mol.run import MolConfig, build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5, help="steps per round and kind")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    cfg: MolConfig = validate(compose("mol", args.overrides, MolConfig), MolConfig)
    data = load_data(cfg.data)
    vocab = ElementVocab(cfg.data.elements)
    sizes = torch.as_tensor(data.train.sizes)
    B = cfg.trainer.batch_size
    kinds = {"plain shuffle": StepBatches(len(data.train), B, 0, 1, 0, 0),
             f"size window {args.window}": StepBatches(len(data.train), B, 0, 1, 0, 0, sizes, args.window)}
    streams = {k: iter(v) for k, v in kinds.items()}
    for name, sampler in kinds.items():
        order = sampler.epoch_order(0)
        batch_sizes = sizes[order]  # (batches, B)
        print(f"{name}: real atoms / computed slots {batch_sizes.sum() / (batch_sizes.max(1).values.sum() * B):.3f}")
    torch.manual_seed(0)
    model = build_model(cfg).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    seconds = dict.fromkeys(kinds, 0.0)
    step = 0
    for _ in range(args.rounds):
        for name, stream in streams.items():
            for _ in range(args.steps):
                batch = collate([data.train[i] for i in next(stream)], vocab, cfg.data.dataset_id)
                start = time.perf_counter()
                loss = model(batch, BatchRandom.for_step(0, step, 0, slice(0, B), B, torch.device("cpu"))).total
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                seconds[name] += time.perf_counter() - start
                step += 1
    base = args.rounds * args.steps * B / seconds["plain shuffle"]
    print(f"{torch.get_num_threads()} threads, batch {B}, {args.rounds} x {args.steps} steps each:")
    for name, s in seconds.items():
        rate = args.rounds * args.steps * B / s
        print(f"  {name:<20} {rate:6.1f} molecules/s  ({rate / base:.2f}x)")


if __name__ == "__main__":
    main()
