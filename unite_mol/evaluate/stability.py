"""Stability of generated crystals under CHGNet (its 0.3.0 weights ship in the `chgnet` wheel): the energy per atom
of each generated crystal, a FIRE relaxation of positions and cell (ASE `FrechetCellFilter`, fmax 0.1 eV/Å), the
energy drop, and how far the crystal moved (RMSD after pymatgen's StructureMatcher, in Å). Beyond the CDVAE / ADiT
tools, which have none. A true E_above_hull needs the energies of competing reference phases (a convex hull),
which are not available offline: it is not computed. One torch thread per worker.
"""
import warnings
from dataclasses import dataclass

import numpy as np

from unite_core.jsonio import Undefined
from unite_mol.structure import Structure

FMAX = 0.1  # eV/Å
BARELY_MOVES = 0.1  # Å RMSD: a crystal that relaxes less than this was generated (nearly) at a minimum
_CALCULATOR = None


@dataclass
class RelaxTask:
    structure: Structure
    steps: int


@dataclass
class Relaxation:
    structure: Structure  # the relaxed crystal
    energy: float  # eV/atom, as generated
    relaxed_energy: float  # eV/atom, after relaxation
    rmsd: float | None  # Å between generated and relaxed (None: StructureMatcher found no match)
    converged: bool  # forces below FMAX within the step budget


def _calculator():
    global _CALCULATOR
    if _CALCULATOR is None:
        import torch
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        torch.set_num_threads(1)
        _CALCULATOR = CHGNetCalculator(model=CHGNet.load(use_device="cpu", verbose=False), use_device="cpu")
    return _CALCULATOR


def relax_crystal(task: RelaxTask) -> Relaxation:
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.io.ase import AseAtomsAdaptor

    from unite_mol.data.crystals import from_pymatgen, to_ase, to_pymatgen
    from unite_mol.evaluate.crystal import MATCHER

    atoms = to_ase(task.structure)
    n = len(atoms)
    with warnings.catch_warnings():  # CHGNet's own tensor-copy warnings, once per call
        warnings.simplefilter("ignore")
        atoms.calc = _calculator()
        energy = float(atoms.get_potential_energy()) / n
        converged = bool(FIRE(FrechetCellFilter(atoms), logfile=None).run(fmax=FMAX, steps=task.steps))
    relaxed = from_pymatgen(AseAtomsAdaptor.get_structure(atoms), "relaxed", check=False)
    before, after = to_pymatgen(task.structure), to_pymatgen(relaxed)
    rms = StructureMatcher(**MATCHER).get_rms_dist(before, after)
    scale = (after.volume / n) ** (1 / 3)  # get_rms_dist normalises by (V / N)^(1/3)
    return Relaxation(relaxed, energy, float(atoms.get_potential_energy()) / n, None if rms is None else float(rms[0] * scale), converged)


@dataclass
class StabilityScore:
    relaxed: int  # crystals relaxed (the first valid ones)
    energy_per_atom: float  # mean, eV/atom, as generated
    relaxed_energy_per_atom: float  # mean, eV/atom
    energy_drop: float  # mean of (generated − relaxed), eV/atom
    rmsd: float  # mean over matched, Å
    barely_moves: float  # fraction with RMSD < 0.1 Å
    converged: float  # fraction reaching fmax 0.1 eV/Å within the step budget


def score_stability(relaxations: list[Relaxation]) -> StabilityScore:
    if not relaxations:
        nothing = Undefined("no valid crystals to relax")
        return StabilityScore(0, nothing, nothing, nothing, nothing, nothing, nothing)
    e0 = np.array([r.energy for r in relaxations])
    e1 = np.array([r.relaxed_energy for r in relaxations])
    matched = [r.rmsd for r in relaxations if r.rmsd is not None]
    rmsd = float(np.mean(matched)) if matched else Undefined("no relaxed crystal matched its generated one")
    return StabilityScore(len(relaxations), float(e0.mean()), float(e1.mean()), float((e0 - e1).mean()), rmsd,
                          sum(r.rmsd is not None and r.rmsd < BARELY_MOVES for r in relaxations) / len(relaxations),
                          sum(r.converged for r in relaxations) / len(relaxations))
