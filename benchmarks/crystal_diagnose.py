"""Where crystal generation loses its local geometry: each stage from data to samples, scored by what CrystalNN reads.

    python benchmarks/crystal_diagnose.py --ckpt runs/c24 --n 200 --samples 200 --json benchmarks/results/c24_diag.json

The stages of `mol_diagnose.py` (round trip, decode z + σ·ε, one x-prediction from t beside z_t / t decoded as it is,
the ODE from t, samples from noise) on the first `--n` crystals of the run's `--split` (EMA weights). Per row: CDVAE's
structural validity (no two atoms closer than 0.5 Å), the 10 / 50 / 90 % quantiles of every atom's nearest-neighbour
distance (periodic; Carbon-24's data: 1.38 / 1.47 / 1.52 Å), and for rows with a true crystal the mean per-atom position
error (Å, at the minimum image in the true cell) and the median ratio of decoded to true cell volume.
"""
import argparse
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from unite_core.jsonio import write_json
from unite_core.rng import BatchRandom
from unite_mol.batch import ElementVocab, MolBatch, collate
from unite_mol.data import load_data
from unite_mol.decoder import AtomOutput
from unite_mol.evaluate.crystal import structurally_valid
from unite_mol.generator import MolGenerator, load
from unite_mol.lattice import fractional_offset
from unite_mol.structure import Structure

from mol_diagnose import flow_loss_by_t, latent_stages  # the script beside this one

QUANTILES = (0.1, 0.5, 0.9)
SEARCH = 4.0  # Å: the nearest neighbour is looked for this far (an atom with none is left out)
MIN_VOLUME = 0.1  # Å³ per atom: a degenerate cell (CDVAE's invalid) has no nearest neighbours to speak of


@dataclass
class Row:
    what: str
    structural_valid: float
    nearest: list[float]  # Å, QUANTILES of each atom's nearest-neighbour distance
    position_error: float | None = None  # mean per-atom distance to the true atom (true cell, minimum image), Å
    volume_ratio: float | None = None  # median decoded / true cell volume


@dataclass
class Diagnosis:
    checkpoint: str
    step: int
    split: str
    crystals: int
    rows: list[Row] = field(default_factory=list)
    flow_loss_by_t: dict[str, float] = field(default_factory=dict)


def nearest_neighbours(s: Structure) -> np.ndarray:
    """Each atom's distance to its nearest neighbour (another atom or a periodic image of any atom), Å."""
    from ase.build import niggli_reduce
    from ase.neighborlist import neighbor_list

    atoms = s.to_ase()
    if abs(atoms.cell.volume) / len(atoms) < MIN_VOLUME:
        return np.empty(0)
    niggli_reduce(atoms)  # the lattice's most compact cell: ASE's search spans cutoff / (each face's distance) cells
    i, d = neighbor_list("id", atoms, SEARCH)
    nearest = np.full(len(s.numbers), np.inf)
    np.minimum.at(nearest, i, d)
    return nearest[np.isfinite(nearest)]


def score(what: str, structures: list[Structure], truth: MolBatch | None = None, decoded: AtomOutput | None = None) -> Row:
    nearest = np.concatenate([nearest_neighbours(s) for s in structures])
    row = Row(what, float(np.mean([structurally_valid(s) for s in structures])), np.quantile(nearest, QUANTILES).tolist())
    if truth is not None and decoded is not None:
        offset = fractional_offset(decoded.fractional, truth.positions, truth.cells) @ truth.cells  # (B, N, 3) Å
        row.position_error = float((offset.norm(dim=-1) * truth.mask).sum() / truth.mask.sum())
        row.volume_ratio = float((torch.linalg.det(decoded.cells) / torch.linalg.det(truth.cells)).abs().median())
    print(f"{what:<38} valid {row.structural_valid:6.3f}  nearest " + " / ".join(f"{q:.3f}" for q in row.nearest) + " Å"
          + (f"  error {row.position_error:.4f} Å  volume x{row.volume_ratio:.3f}" if row.position_error is not None else ""),
          flush=True)
    return row


@torch.no_grad()
def diagnose(gen: MolGenerator, crystals: list[Structure], seed: int) -> tuple[list[Row], dict[str, float]]:
    rng, vocab = torch.Generator().manual_seed(seed), ElementVocab(gen.config.elements)
    batch = collate(crystals, vocab, gen.part.dataset_id)
    counts = batch.mask.sum(1).tolist()
    lat = gen.model.latents(batch, BatchRandom.whole(rng, len(batch)))  # encoded once: the stages and the loss share it
    rows = [score("data", crystals)]
    for what, latents in latent_stages(gen.model, lat, rng):
        out = gen.model.decoder(latents, lat.mask)
        rows.append(score(what, out.structures(counts, vocab), batch, out))
    return rows, flow_loss_by_t(gen.model, lat, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True, help="a crystal run folder or checkpoint")
    parser.add_argument("--split", choices=["train", "val", "test"], default="test")
    parser.add_argument("--n", type=int, default=200, help="crystals for the rows before sampling (0: samples only)")
    parser.add_argument("--samples", type=int, default=200, help="crystals from noise, the run's sampler settings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    gen = load(args.ckpt)
    if not gen.part.periodic:
        raise SystemExit(f"{args.ckpt}: a molecule model; use benchmarks/mol_diagnose.py")
    out = Diagnosis(str(args.ckpt), gen.step, args.split, 0)
    if args.n:
        data = load_data(gen.config.data)
        split = {"train": data.train, "val": data.val, "test": data.test}[args.split]
        crystals = [split[i] for i in range(min(args.n, len(split)))]
        out.crystals = len(crystals)
        out.rows, out.flow_loss_by_t = diagnose(gen, crystals, args.seed)
    if args.samples:
        out.rows.append(score(f"{args.samples} samples (the run's sampler)", gen.sample(args.samples, seed=args.seed)))
    if args.json:
        write_json(args.json, asdict(out))


if __name__ == "__main__":
    main()
