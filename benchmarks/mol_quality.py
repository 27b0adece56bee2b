"""What a trained molecule run is worth, measured: reconstruction of the QM9 test split, generation
quality and sampling speed of N molecules, and the run's training throughput.

    python benchmarks/mol_quality.py --ckpt runs/qm9 --n 10000 --steps 50 --out runs/qm9/samples_10k.sdf

Reconstruction: encode (t ≈ 0) then decode without decoder noise, EMA weights; element accuracy, per-molecule
coordinate RMSD in Å without realignment, fraction of molecules with every atom right and within 0.1 Å.
Generation: RDKit rdDetermineBonds (charge 0) + sanitisation; uniqueness over sanitised canonical SMILES.
Latents: per-channel mean and spread of encoded test molecules against ODE samples with the same atom
counts — where generation is poor and reconstruction good, this shows whether the flow misses the latents.
"""
import argparse
import csv
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from unite_core.flow import Solver
from unite_core.jsonio import figure
from unite_core.rng import BatchRandom
from unite_core.train import run_dir_of
from unite_mol.chem import perceive
from unite_mol.data import load_data
from unite_mol.formats import write_structures
from unite_mol.generator import load
from unite_mol.metrics import reconstruct, score_samples
from unite_mol.batch import collate
from unite_mol.structure import Structure


def ceilings(structures: list[Structure], recon: list[Structure]) -> None:
    """RDKit-sanitisable fraction of real test molecules and of their reconstructions: what generation can reach."""
    for name, mols in (("real test molecules", structures), ("their reconstructions", recon)):
        score = score_samples([perceive(s) for s in mols])
        print(f"{len(mols)} {name}: RDKit-sanitisable {score.sanitized:.4f}, one fragment {score.connected:.4f}, no charge/radical {score.clean:.4f}")


def latent_stats(gen, structures: list, vocab, steps: int) -> None:
    batch = collate(structures, vocab, gen.config.data.dataset_id)
    g = torch.Generator().manual_seed(1)
    z = gen.model.latents(batch, BatchRandom.whole(g, len(batch))).z[batch.mask]  # (atoms, C)
    sampler = replace(gen.config.sampler, steps=steps)
    x = gen.model.generate(batch.mask, batch.cond, sampler, g).x[batch.mask]  # (atoms, C)
    for name, v in (("encoded", z), ("generated", x)):
        print(f"latents {name:>9}: channel means {v.mean(0).abs().mean():.3f} (mean |.|), channel std {v.std(0).mean():.3f}, "
              f"token norm {v.norm(dim=-1).mean():.3f}")
    gap = (z.mean(0) - x.mean(0)).norm() / z.std(0).norm()
    print(f"latent mean gap / spread: {gap:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", default="runs/qm9")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--solver", choices=[s.name for s in Solver], default="heun")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--test-molecules", type=int, default=None, help="reconstruct only the first N test molecules")
    parser.add_argument("--out", default=None, help="also write the samples here (.sdf / .xyz / .extxyz)")
    parser.add_argument("--recon-out", type=Path, default=None,
                        help="write reconstructed.xyz and originals.xyz (test order) here, for `unite-mol evaluate --reference`")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    gen = load(args.ckpt)
    print(f"checkpoint step {gen.step} ({sum(p.numel() for p in gen.model.parameters()) / 1e6:.2f} M parameters)")
    run_dir = run_dir_of(args.ckpt)
    if (run_dir / "train.csv").is_file():
        rates = [float(r["samples_per_s"]) for r in csv.DictReader((run_dir / "train.csv").open())]
        print(f"training throughput (median of logged intervals): {statistics.median(rates):.1f} molecules/s")

    data = load_data(gen.config.data)
    test = [data.test[i] for i in range(min(len(data.test), args.test_molecules or len(data.test)))]
    start = time.perf_counter()
    r, rebuilt = reconstruct(gen.model, test, data.vocab, gen.config.data.dataset_id, torch.Generator().manual_seed(0), chunk=500)
    print(f"reconstruction, {r.molecules} test molecules ({time.perf_counter() - start:.0f} s): element accuracy {r.type_accuracy:.4f}, "
          f"RMSD {r.rmsd:.3f} Å, all atoms within 0.1 Å {r.within_0_1:.4f}")
    if args.recon_out:
        write_structures(args.recon_out / "reconstructed.xyz", rebuilt)
        print(f"wrote {write_structures(args.recon_out / 'originals.xyz', test)} and reconstructed.xyz")
    ceilings(test[:1000], rebuilt[:1000])
    latent_stats(gen, test[:1000], data.vocab, args.steps)

    if args.n == 0:
        return
    start = time.perf_counter()
    structures = gen.sample(args.n, args.steps, Solver[args.solver], seed=0, batch_size=args.batch_size, progress=True)
    seconds = time.perf_counter() - start
    print(f"sampling: {args.n} molecules, {args.solver} {args.steps} steps, {seconds:.1f} s ({args.n / seconds:.1f} molecules/s)")
    start = time.perf_counter()
    perceived = [perceive(s) for s in structures]
    s = score_samples(perceived)
    print(f"generation ({time.perf_counter() - start:.0f} s to perceive): RDKit-sanitisable {s.sanitized:.4f}, "
          f"unique among those {figure(s.unique)}, sanitisable and one fragment {s.connected:.4f}, "
          f"and no charged or radical atom {s.clean:.4f}")
    if args.out:
        print(f"wrote {write_structures(args.out, structures, perceived)}")


if __name__ == "__main__":
    main()
