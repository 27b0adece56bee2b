"""Quick figures a training run logs: reconstruction of held-out molecules, sanitisable / unique samples and their EDM
stability and validity. The full benchmark protocols (PoseBusters, OpenBabel, novelty, ...) belong to `unite-mol
evaluate`."""
from dataclasses import dataclass

import numpy as np
import torch

from unite_core.model import UNITE
from unite_mol.chem import Perceived
from unite_mol.decoder import AtomOutput
from unite_mol.evaluate.checks import NativeCheck
from unite_mol.evaluate.crystal import CrystalCheck
from unite_mol.evaluate.edm import check_edm
from unite_mol.evaluate.scores import score_edm, score_native
from unite_mol.batch import ElementVocab, MolBatch, collate
from unite_mol.structure import Structure


@dataclass
class ReconScore:
    type_accuracy: float  # fraction of atoms with the right element
    rmsd: float  # mean over molecules of the per-molecule coordinate RMSD, Å (no realignment)
    within_0_1: float  # fraction of molecules with every atom within 0.1 Å and the right element
    molecules: int


def recon_per_molecule(out: AtomOutput, batch: MolBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per molecule: element accuracy, RMSD (Å), and whether every atom is right and within 0.1 Å."""
    m = batch.mask.float()
    n = m.sum(1)
    right = (out.types() == batch.types).float() * m  # (B, N)
    err = (out.positions - batch.positions).norm(dim=-1)  # (B, N)
    rmsd = ((err.pow(2) * m).sum(1) / n).sqrt()
    exact = ((right.bool() & (err < 0.1)) | ~batch.mask).all(1)
    return (right.sum(1) / n).cpu().numpy(), rmsd.cpu().numpy(), exact.cpu().numpy()


@torch.no_grad()
def reconstruct(
    model: UNITE, structures: list[Structure], vocab: ElementVocab, cond: int, generator: torch.Generator, chunk: int = 250,
) -> tuple[ReconScore, list[Structure]]:
    """Encode + decode `structures` in chunks: the score over all of them, and the reconstructed structures."""
    device = next(model.parameters()).device
    parts, rebuilt = [], []
    for lo in range(0, len(structures), chunk):
        batch = collate(structures[lo : lo + chunk], vocab, cond).to(device)
        out = model.reconstruct(batch, generator)
        parts.append(recon_per_molecule(out, batch))
        rebuilt += out.structures(batch.mask.sum(1).tolist(), vocab)
    acc, rmsd, exact = (np.concatenate(x) for x in zip(*parts))
    return ReconScore(float(acc.mean()), float(rmsd.mean()), float(exact.mean()), len(acc)), rebuilt


@dataclass
class SampleScore:
    sanitized: float  # fraction RDKit can assign bonds to and sanitise (rdDetermineBonds, charge 0)
    unique: float  # unique canonical SMILES (largest fragment) / sanitised
    connected: float  # fraction sanitised and in one piece
    clean: float  # fraction sanitised, in one piece, with no charged or radical atom
    molecules: int


def score_samples(perceived: list[Perceived]) -> SampleScore:
    """The RDKit-native figures of `unite-mol evaluate`, for the samples a training run draws (nan where undefined)."""
    s = score_native([NativeCheck.of(p) for p in perceived], train=None)
    return SampleScore(s.validity, s.uniqueness, s.connected, s.clean, len(perceived))


@dataclass
class EdmSampleScore:
    atom_stable: float  # EDM protocol: atoms with their allowed valence / atoms (nan for molecules without hydrogens)
    molecule_stable: float  # molecules with every atom stable / molecules (nan without hydrogens)
    valid: float  # RDKit sanitises the molecule built from EDM's bond tables / molecules


def score_edm_samples(structures: list[Structure], implicit_hydrogens: bool) -> EdmSampleScore:
    """`unite-mol evaluate`'s EDM figures that need no training set, for the samples a training run draws."""
    s = score_edm([check_edm(m) for m in structures], None, implicit_hydrogens)
    return EdmSampleScore(s.atom_stability, s.molecule_stability, s.validity)


def as_dict(score: object, prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in vars(score).items() if k != "molecules"}



@dataclass
class CrystalReconScore:
    type_accuracy: float  # fraction of atoms with the right element
    fractional_error: float  # mean minimum-image distance in fractional coordinates (Å-free)
    length_error: float  # mean |Δ| of the cell lengths a, b, c, Å
    angle_error: float  # mean |Δ| of the cell angles, degrees
    molecules: int


@torch.no_grad()
def reconstruct_crystals(
    model: UNITE, structures: list[Structure], vocab: ElementVocab, cond: int, generator: torch.Generator, chunk: int = 100,
) -> CrystalReconScore:
    """Encode + decode crystals in chunks: elements, fractional coordinates (minimum image), cell lengths and angles."""
    from unite_mol.lattice import fractional_offset, lattice_params

    device = next(model.parameters()).device
    right = atoms = frac = lengths = angles = 0.0
    for lo in range(0, len(structures), chunk):
        batch = collate(structures[lo : lo + chunk], vocab, cond).to(device)
        out = model.reconstruct(batch, generator)
        m, n = batch.mask, batch.mask.sum(1)
        d = fractional_offset(out.fractional, batch.positions, batch.cells)  # (B, N, 3)
        true, pred = lattice_params(batch.cells, n), lattice_params(out.cells, n)  # (B, 6)
        right += float(((out.types() == batch.types) & m).sum())
        atoms += float(m.sum())
        frac += float((d.norm(dim=-1) * m).sum())
        lengths += float(((pred[:, :3] - true[:, :3]).abs() * n[:, None].float() ** (1 / 3)).mean(1).sum())
        angles += float((pred[:, 3:] - true[:, 3:]).abs().mean(1).rad2deg().sum())
    k = len(structures)
    return CrystalReconScore(right / atoms, frac / atoms, lengths / k, angles / k, k)


@dataclass
class CrystalSampleScore:
    structural: float  # CDVAE structural validity
    compositional: float  # CDVAE compositional validity (smact)
    valid: float
    molecules: int


def score_crystal_samples(checks: list[CrystalCheck]) -> CrystalSampleScore:
    """The shares of crystals whose `check_crystal` passed."""
    n = max(len(checks), 1)
    return CrystalSampleScore(sum(c.structural for c in checks) / n, sum(c.compositional for c in checks) / n,
                              sum(c.valid for c in checks) / n, len(checks))
