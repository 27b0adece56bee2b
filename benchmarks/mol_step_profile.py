"""Where one molecule training step's time goes on this machine: a table per part of the step.

    OMP_NUM_THREADS=2 python benchmarks/mol_step_profile.py --repeats 20

Parts, each timed alone on the same QM9 training batches (median over `--repeats`): collating the batch
(data), the random rotation, the e3nn local environment, the rest of the tokenizer, the GE's tokenize pass,
the decoder with its loss, the K flow repeats (GE denoise passes), the backward pass of each loss term, and
AdamW + EMA. The last row is one whole step as the trainer runs it; its gap to the sum is overhead.
"""
import argparse
import statistics
import time
from collections.abc import Callable

import torch

from unite_core.rng import BatchRandom
from unite_core.train.ema import EMA
from unite_mol.batch import ElementVocab, collate
from unite_mol.data import load_data
from unite_mol.run import MolConfig, build_model
from unite_core.config import compose, validate


def median_ms(fn: Callable[[int], object], repeats: int) -> float:
    fn(0)  # warm-up
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i + 1)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the molecule config, e.g. model.depth=6")
    args = parser.parse_args()
    cfg: MolConfig = validate(compose("mol", args.overrides, MolConfig), MolConfig)
    data = load_data(cfg.data)
    vocab = ElementVocab(cfg.data.elements)
    B = cfg.trainer.batch_size
    rows = [[data.train[(i * B + j) % len(data.train)] for j in range(B)] for i in range(args.repeats + 1)]
    batches = [collate(r, vocab, cfg.data.dataset_id) for r in rows]
    torch.manual_seed(0)
    model = build_model(cfg).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ema = EMA(model, 0.999)
    rng = lambda i: BatchRandom.for_step(0, i, 0, slice(0, B), B, torch.device("cpu"))  # noqa: E731

    def parts(i: int):
        batch = model.augment(batches[i], rng(i))
        obs = model.tokenizer(batch)
        z = model.encode(obs, rng(i))
        return batch, obs, z

    def step(i: int) -> None:
        loss = model(batches[i], rng(i)).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update(model, 1)

    def backward_ms(term: str) -> float:
        """Median time of the backward pass of one loss term alone (its forward is not timed)."""
        ms = []
        for i in range(args.repeats + 1):
            loss = getattr(model(batches[i], rng(i)), term)
            start = time.perf_counter()
            loss.backward()
            ms.append(1000 * (time.perf_counter() - start))
            model.zero_grad(set_to_none=True)
        return statistics.median(ms[1:])

    def optimiser(i: int) -> None:
        for p in model.parameters():
            if p.requires_grad:
                p.grad = torch.zeros_like(p)
        opt.step()
        ema.update(model, 1)

    cached = [parts(i) for i in range(args.repeats + 1)]
    with torch.no_grad():
        table = {
            "data: collate 64 molecules": median_ms(lambda i: collate(rows[i], vocab, cfg.data.dataset_id), args.repeats),
            "random rotation": median_ms(lambda i: model.augment(batches[i], rng(i)), args.repeats),
            "e3nn local environment": median_ms(lambda i: model.tokenizer.env(cached[i][0].types, cached[i][0].positions, cached[i][0].mask), args.repeats),
            "tokenizer (all, e3nn included)": median_ms(lambda i: model.tokenizer(cached[i][0]), args.repeats),
            "GE tokenize pass": median_ms(lambda i: model.encode(cached[i][1], rng(i)), args.repeats),
            "decoder + loss": median_ms(lambda i: model.decoder.loss(model.decoder(cached[i][2], cached[i][1].latent_mask), cached[i][0]), args.repeats),
            f"flow: K={cfg.flow.k} GE denoise passes + loss": median_ms(
                lambda i: model.flow_loss(cached[i][2], cached[i][1].latent_mask, cached[i][1].cond, rng(i)), args.repeats),
        }
    table["backward: reconstruction term (decoder, GE tokenize pass, tokenizer, e3nn)"] = backward_ms("recon")
    table["backward: flow term (K GE denoise passes)"] = backward_ms("flow")
    table["AdamW + EMA"] = median_ms(optimiser, args.repeats)
    whole = median_ms(step, args.repeats)
    print(f"{torch.get_num_threads()} threads, batch {B}, GE depth {cfg.model.resolve().depth} width {cfg.model.resolve().width}, "
          f"K={cfg.flow.k}; median of {args.repeats}")
    print("| part | ms | % of the step |\n|---|---|---|")
    counted = {k: v for k, v in table.items() if k != "e3nn local environment"}  # inside the tokenizer row
    for name, ms in table.items():
        print(f"| {name} | {ms:.1f} | {100 * ms / whole:.0f} % |")
    print(f"| sum of the parts (e3nn counted once) | {sum(counted.values()):.1f} | {100 * sum(counted.values()) / whole:.0f} % |")
    print(f"| **one whole step** | **{whole:.1f}** | 100 % ({B / whole * 1000:.0f} molecules/s) |")


if __name__ == "__main__":
    main()
