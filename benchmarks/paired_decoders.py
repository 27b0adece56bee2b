"""Decoders compared on the same sampled latents: models sharing one GE (a model and its decoder-adapted copy,
`objective.recipe=decoder`) decode one set of latents sampled by the first model's GE with its sampler settings, so
the figures differ by the decoder alone (a paired comparison: no sampling noise between the rows).

    python benchmarks/paired_decoders.py qm9 runs/qm9_decoder --n 2000 --json benchmarks/results/paired_decoders.json

Each row: EDM atom / molecule stable / valid, RDKit-native valid, odd compositions, the C–C median (see mol_diagnose.py).
"""
import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from unite_core.jsonio import write_json
from unite_mol.batch import ElementVocab
from unite_mol.generator import MolGenerator, load
from unite_mol.sampling import Kind, decode_structures, draw_counts, sample_latents

from mol_diagnose import Row, score  # the script beside this one

BATCH = 100


@dataclass
class Paired:
    models: list[str]
    samples: int
    seed: int
    sampler: str
    rows: list[Row]


def same_ge(first: MolGenerator, other: MolGenerator, name: str) -> None:
    """`other` must hold `first`'s GE, tokenizer and latent norm, or its latents would mean something else."""
    mine, theirs = first.model.state_dict(), other.model.state_dict()
    differ = [k for k in mine if not k.startswith("decoder.") and not torch.equal(mine[k], theirs[k])]
    if differ:
        raise SystemExit(f"{name}: not the first model's GE ({len(differ)} tensors differ, e.g. {differ[0]})")


@torch.no_grad()
def sampled_latents(gen: MolGenerator, n: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """n latents from gen's GE and sampler, in batches of similar atom counts: (z (b, L, C), mask (b, L), counts (b,))."""
    g = torch.Generator().manual_seed(seed)
    counts = draw_counts(gen.atom_counts, n, g).sort().values  # (n,): batches of similar size pad less
    kind = Kind.of(gen.part, ElementVocab(gen.config.elements))
    out = []
    for lo in tqdm(range(0, n, BATCH), desc="sampling latents", unit="batch"):
        c = counts[lo : lo + BATCH]  # (b,)
        out.append((*sample_latents(gen.model, c, kind, gen.config.sampler, g, gen.guide), c))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="models sharing one GE (runs, checkpoints, packed files, qm9); the first samples")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    gens = [load(m) for m in args.models]
    for name, gen in zip(args.models[1:], gens[1:]):
        same_ge(gens[0], gen, name)
    latents = sampled_latents(gens[0], args.n, args.seed)
    vocab = ElementVocab(gens[0].config.elements)
    kind = Kind.of(gens[0].part, vocab)
    rows = []
    for name, gen in zip(args.models, gens):
        structures = [s for z, mask, c in latents for s in decode_structures(gen.model, z, mask, c, kind, vocab)]
        rows.append(score(f"{name} (step {gen.step})", structures))
    if args.json:
        write_json(args.json, asdict(Paired(args.models, args.n, args.seed, str(gens[0].config.sampler), rows)))


if __name__ == "__main__":
    main()
