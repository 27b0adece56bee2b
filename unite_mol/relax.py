"""Post-processing, always reported as its own row: a short relaxation of generated molecules or crystals.

Molecules: OpenBabel perceives the bonds from the coordinates (as the ADiT / UNITE protocol does) and relaxes the
coordinates under UFF or MMFF94 for `steps` conjugate-gradient steps. The force field keeps the perceived
bonds, so relaxation corrects bond lengths and angles, never connectivity: it shows how many samples are
one small geometric correction away from a molecule, not what the model generates.

Crystals: CHGNet (the `evaluate --relax-n` stability check's relaxation: FIRE on positions and cell, at most `steps`
steps) moves atoms and cell, never elements or their count.
"""
from dataclasses import dataclass
from enum import Enum

import numpy as np

from unite_mol.evaluate.babel import xyz_block
from unite_mol.evaluate.pool import Chunked, WorkerPool
from unite_mol.evaluate.stability import Relaxation
from unite_mol.structure import Structure

MIN_VOLUME_PER_ATOM = 1.0  # Å³: below it a cell has thousands of CHGNet neighbours an atom and is no solid (diamond: 5.7)


class ForceField(str, Enum):
    uff = "uff"
    mmff94 = "mmff94"


@dataclass
class RelaxTask:
    structure: Structure
    forcefield: ForceField
    steps: int


@dataclass
class Relaxed:
    structure: Structure  # the relaxed molecule, or the input where the force field could not be set up
    relaxed: bool
    rmsd: float  # Å moved (root mean square over atoms, no realignment); 0 when not relaxed


def relax_one(task: RelaxTask) -> Relaxed:
    from openbabel import openbabel, pybel

    openbabel.obErrorLog.StopLogging()
    s = task.structure
    mol = pybel.readstring("xyz", xyz_block(s))
    ff = openbabel.OBForceField.FindForceField(task.forcefield.value)
    if ff is None or not ff.Setup(mol.OBMol):
        return Relaxed(s, False, 0.0)
    ff.ConjugateGradients(task.steps)
    ff.GetCoordinates(mol.OBMol)
    positions = np.array([a.coords for a in mol.atoms], dtype=np.float32)  # (n, 3), the input's atom order
    if positions.shape != s.positions.shape or not np.isfinite(positions).all():
        return Relaxed(s, False, 0.0)
    rmsd = float(np.sqrt(((positions - s.positions) ** 2).sum(1).mean()))
    return Relaxed(Structure(s.numbers, positions), True, rmsd)


def relax(structures: list[Structure], forcefield: ForceField = ForceField.uff, steps: int = 200, workers: int = 2) -> list[Relaxed]:
    """Every structure relaxed (or returned as it was, flagged), in the input order."""
    tasks = [RelaxTask(s, forcefield, steps) for s in structures]
    with WorkerPool(workers) as pool:
        return pool.map(Chunked(relax_one), tasks, f"relaxing ({forcefield.value})")


@dataclass
class CrystalRelaxTask:
    structure: Structure
    steps: int


def relax_crystal_one(task: CrystalRelaxTask) -> Relaxation | None:
    """The CHGNet relaxation, or None where it cannot be set up (a cell under MIN_VOLUME_PER_ATOM, non-finite forces)."""
    from unite_mol.evaluate.stability import RelaxTask, relax_crystal

    s = task.structure
    if abs(float(np.linalg.det(s.cell))) < MIN_VOLUME_PER_ATOM * len(s.numbers):
        return None
    try:
        done = relax_crystal(RelaxTask(s, task.steps))
    except ValueError:  # CHGNet's NaN / inf forces, e.g. atoms on one point
        return None
    return done if np.isfinite(done.structure.positions).all() and np.isfinite(done.structure.cell).all() else None


def relax_crystals(structures: list[Structure], steps: int = 200, workers: int = 2) -> list[Relaxation | None]:
    """Every crystal's CHGNet relaxation (None: not relaxed), in the input order; one torch thread per worker."""
    with WorkerPool(workers) as pool:
        return pool.map(Chunked(relax_crystal_one), [CrystalRelaxTask(s, steps) for s in structures], "relaxing (CHGNet)")
