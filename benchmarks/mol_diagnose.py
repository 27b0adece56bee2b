"""Where molecule generation loses molecules: each stage from data to samples, scored by the EDM protocol.

    python benchmarks/mol_diagnose.py --ckpt runs/qm9 --n 500 --samples 1000 --json benchmarks/results/diag.json

Rows, on the first `--n` molecules of the run's `--split` (EMA weights):
- data: the molecules themselves (the ceiling of every row below);
- round trip: encode -> decode (t = 1), with the mean per-atom position error (Å);
- latent robustness: decode z + σ·ε (σ = 0.02 ... 0.5) and the decoder-noise path t·z + (1−t)·ε, t = 0.85 / 0.7:
  how precise the flow must be, and whether the decoder-noise augmentation makes the decoder tolerate it;
- denoiser: one x-prediction of the GE from the true latent noised to t (0.95 ... 0.5), then decode, beside z_t / t
  decoded as it is (no denoiser: the GE's prediction must decode closer to the truth than that);
- ODE from t = 0.95 ... 0.1: the true latent noised to t, integrated to 1 (Heun, 10 uniform steps), then decode:
  where on the path the samples' molecules are lost;
- samples: `--samples` molecules from noise (`--solver`, default Heun, `--steps`; the checkpoint's other sampler settings).
Each row also gives the share of molecules whose elements alone allow no EDM-stable molecule (their valences sum
to an odd number), the median distance from each C to its nearest C (bond lengths: the data's is 1.51 Å), and rows
with a true molecule the share of atoms decoded as their true element.
Also the flow loss (velocity space, as trained) per t bin on these molecules, and with `--sweep` the samples'
figures and speed for each solver × step count.
"""
import argparse
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from unite_core.flow import SamplerConfig, Solver, integrate, linear_path, velocity, velocity_loss
from unite_core.jsonio import write_json
from unite_core.model import UNITE, Latents
from unite_core.rng import BatchRandom
from unite_mol.batch import ElementVocab, MolBatch, collate
from unite_mol.data import MolDataConfig, load_data
from unite_mol.decoder import AtomOutput
from unite_mol.evaluate.checks import check_native
from unite_mol.evaluate.edm import check_edm
from unite_mol.evaluate.scores import score_edm, score_native
from unite_mol.generator import MolGenerator, load
from unite_mol.structure import Structure

from mol_failure_modes import nearest_c_of_each_c  # the script beside this one

SIGMAS = (0.02, 0.05, 0.1, 0.2, 0.5)
DECODER_TS = (0.85, 0.7)
DENOISE_TS = (0.95, 0.9, 0.8, 0.5)
ODE_TS = (0.95, 0.8, 0.5, 0.3, 0.1)
T_BINS = np.linspace(0, 1, 11)
SWEEP_STEPS = (10, 20, 50, 100)


@dataclass
class Row:
    what: str
    atom_stable: float
    molecule_stable: float
    valid: float  # EDM protocol: RDKit sanitises the molecule built from the table bonds
    rdkit_valid: float  # RDKit-native: rdDetermineBonds + sanitise
    position_error: float | None = None  # mean per-atom distance to the true atom, Å (rows with a true molecule)
    unique: float | None = None  # EDM protocol: unique SMILES / valid (sample rows)
    novel: float | None = None  # EDM protocol: valid SMILES absent from the training molecules / valid (with --novelty)
    odd_composition: float = 0.0  # molecules whose elements alone allow no stable molecule (odd valence sum)
    element_accuracy: float | None = None  # atoms decoded as their true element (rows with a true molecule)
    c_c_median: float | None = None  # median over all C of the distance to the nearest other C, Å (bond lengths)


@dataclass
class Diagnosis:
    checkpoint: str
    step: int
    split: str
    molecules: int
    rows: list[Row] = field(default_factory=list)
    flow_loss_by_t: dict[str, float] = field(default_factory=dict)


def score(
    what: str, structures: list[Structure], truth: MolBatch | None = None, decoded: AtomOutput | None = None,
    train_smiles: set[str] | None = None,
) -> Row:
    edm = score_edm([check_edm(s) for s in structures], train_smiles)
    native = score_native([check_native(s) for s in structures], None)
    row = Row(what, edm.atom_stability, edm.molecule_stability, edm.validity, native.validity)
    row.odd_composition = 1 - edm.stable_composition
    c_c = [d for s in structures for d in nearest_c_of_each_c(s)]
    row.c_c_median = float(np.median(c_c)) if c_c else None
    if truth is not None and decoded is not None:
        atoms = truth.mask.sum()
        row.position_error = float(((decoded.positions - truth.positions).norm(dim=-1) * truth.mask).sum() / atoms)
        row.element_accuracy = float(((decoded.types() == truth.types) & truth.mask).sum() / atoms)
    if truth is None and decoded is None:
        row.unique, row.novel = edm.uniqueness, edm.novelty if train_smiles is not None else None
    print(f"{what:<34} atom {row.atom_stable:6.3f}  molecule {row.molecule_stable:6.3f}  valid {row.valid:6.3f}  "
          f"rdkit {row.rdkit_valid:6.3f}  odd composition {row.odd_composition:6.3f}  C-C {row.c_c_median or float('nan'):.3f} Å"
          + (f"  error {row.position_error:.4f} Å  elements {row.element_accuracy:.4f}" if row.position_error is not None else "")
          + (f"  unique {row.unique:.3f}" if row.unique is not None else "") + (f"  novel {row.novel:.3f}" if row.novel is not None else ""),
          flush=True)
    return row


@torch.no_grad()
def latent_stages(model: UNITE, lat: Latents, gen: torch.Generator) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, latents (B, L, C)) of each stage from the true latents `lat` to the ODE from noise levels t: what the
    rows decode (molecules and crystals alike; `lat.mask` holds a crystal's lattice slot)."""
    z, mask, B = lat.z, lat.mask, lat.z.shape[0]  # (B, L, C), (B, L)
    noise = torch.randn(z.shape, generator=gen) * mask[..., None]  # (B, L, C)
    keep = torch.zeros_like(lat.cond, dtype=torch.bool)

    def predict(x_t: torch.Tensor, t: float) -> torch.Tensor:
        return model.predict(x_t, torch.full((B,), t), lat.cond, keep, mask)

    def drift(x: torch.Tensor, t: float) -> torch.Tensor:
        return velocity(predict(x, t), x, torch.full((B,), t), model.flow.t_clamp) * mask[..., None]  # (B, L, C)

    yield "round trip (t = 1)", z
    for s in SIGMAS:
        yield f"decode z + {s}·ε", z + s * noise
    for t in DECODER_TS:
        yield f"decode {t}·z + {1 - t:.2f}·ε", t * z + (1 - t) * noise
    for t in DENOISE_TS:
        x_t = t * z + (1 - t) * noise  # (B, L, C)
        yield f"z_t / t, no denoiser, t = {t}", x_t / t
        yield f"one x-prediction from t = {t}", predict(x_t, t)
    heun = SamplerConfig(solver=Solver.heun, steps=10)
    for start in ODE_TS:
        yield f"ODE from t = {start} (Heun, 10 steps)", integrate(drift, start * z + (1 - start) * noise, heun, start=start).x


@torch.no_grad()
def flow_loss_by_t(model: UNITE, lat: Latents, gen: torch.Generator) -> dict[str, float]:
    """The flow loss (velocity space, as trained) of the true latents `lat` per t bin."""
    z, mask = lat.z, lat.mask  # (B, L, C), (B, L)
    keep = torch.zeros_like(lat.cond, dtype=torch.bool)
    losses = {}
    for lo, hi in zip(T_BINS[:-1], T_BINS[1:]):
        t = lo + (hi - lo) * torch.rand(z.shape[0], generator=gen)
        path = linear_path(z, torch.randn(z.shape, generator=gen) * mask[..., None], t, mask)
        pred = model.predict(path.x_t, path.t, lat.cond, keep, mask)
        losses[f"{lo:.1f}-{hi:.1f}"] = float(velocity_loss(pred, path, mask, model.flow.t_clamp).mean())
    print("flow loss by t: " + ", ".join(f"{k} {v:.3f}" for k, v in losses.items()))
    return losses


@torch.no_grad()
def diagnose(model: UNITE, molecules: list[Structure], vocab: ElementVocab, cond: int, seed: int) -> tuple[list[Row], dict[str, float]]:
    gen = torch.Generator().manual_seed(seed)
    batch = collate(molecules, vocab, cond)
    counts = batch.mask.sum(1).tolist()
    lat = model.latents(batch, BatchRandom.whole(gen, len(batch)))  # encoded once: the stages and the loss share it
    rows = [score("data", molecules)]
    for what, latents in latent_stages(model, lat, gen):
        out = model.decoder(latents, lat.mask)
        rows.append(score(what, out.structures(counts, vocab), batch, out))
    return rows, flow_loss_by_t(model, lat, gen)


def training_smiles(data_cfg: MolDataConfig) -> set[str]:
    """EDM-protocol SMILES of the run's training molecules (the novelty reference)."""
    checks = [check_edm(s) for s in load_data(data_cfg).train]
    return {c.smiles for c in checks if c is not None and c.valid}


def timed_sample(gen: MolGenerator, n: int, **sampler) -> tuple[list[Structure], float]:
    """`gen.sample(n, **sampler)` and its speed in molecules per second."""
    start = time.perf_counter()
    samples = gen.sample(n, **sampler)
    return samples, n / (time.perf_counter() - start)


def sample_row(gen: MolGenerator, n: int, steps: int, seed: int, train_smiles: set[str] | None, solver: Solver = Solver.heun) -> Row:
    samples, speed = timed_sample(gen, n, steps=steps, solver=solver, seed=seed)
    return score(f"{n} samples ({solver.value} {steps}, {speed:.1f}/s)", samples, train_smiles=train_smiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True, help="run folder or checkpoint")
    parser.add_argument("--split", choices=["train", "val", "test"], default="train")
    parser.add_argument("--n", type=int, default=500, help="molecules for the rows before sampling (0: samples only)")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--solver", choices=[s.value for s in Solver], default="heun",
                        help="the samples' solver (the checkpoint's other sampler settings: grid shift, SDE noise, temperature)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sweep", action="store_true", help="also sample with euler / heun / adaptive at 10, 20, 50, 100 steps")
    parser.add_argument("--novelty", action="store_true", help="score the samples' novelty against the run's training molecules")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    gen = load(args.ckpt)
    molecules = []
    if args.n:  # the dataset is only read for the rows before sampling
        data = load_data(gen.config.data)
        split = {"train": data.train, "val": data.val, "test": data.test}[args.split]
        molecules = [split[i] for i in range(min(args.n, len(split)))]
    vocab = ElementVocab(gen.config.data.elements)
    out = Diagnosis(str(args.ckpt), gen.step, args.split, len(molecules))
    if molecules:
        out.rows, out.flow_loss_by_t = diagnose(gen.model, molecules, vocab, gen.config.data.dataset_id, args.seed)
    runs = [(Solver(args.solver), args.steps)] if args.samples else []
    if args.sweep:
        runs = [(solver, steps) for solver in (Solver.euler, Solver.heun) for steps in SWEEP_STEPS] + [(Solver.adaptive, 20)]
    smiles = training_smiles(gen.config.data) if args.novelty and runs else None
    out.rows += [sample_row(gen, args.samples, steps, args.seed, smiles, solver) for solver, steps in runs]
    if args.json:
        write_json(args.json, asdict(out))


if __name__ == "__main__":
    main()
