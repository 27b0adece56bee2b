"""RDKit: bonds perceived from 3-D structures (rdDetermineBonds, charge 0) and canonical SMILES."""
from dataclasses import dataclass
from typing import Any

import numpy as np

from unite_mol.structure import Structure


@dataclass
class Perceived:
    mol: Any  # rdkit.Chem.Mol with a conformer: bonds and orders if perception succeeded, no bonds otherwise
    sanitized: bool  # bond orders were assigned and RDKit sanitised the molecule
    smiles: str | None  # canonical SMILES (no stereo) of the largest fragment, when sanitized
    fragments: int  # connected components (1 for a single molecule)
    neutral: bool  # sanitized with no formal charge and no radical on any atom (rdDetermineBonds may add either)


def _bare_mol(s: Structure):
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    rw = Chem.RWMol()
    conf = Chem.Conformer(len(s.numbers))
    for i, (z, p) in enumerate(zip(s.numbers.tolist(), s.positions.tolist())):
        rw.AddAtom(Chem.Atom(z))
        conf.SetAtomPosition(i, Point3D(*p))
    rw.AddConformer(conf, assignId=True)
    return rw


def perceive(s: Structure, implicit_hydrogens: bool = False) -> Perceived:
    """Bonds and bond orders from coordinates; a structure RDKit cannot sanitise keeps its atoms, bondless.
    `implicit_hydrogens` (a heavy-atoms-only model): bonds and orders from EDM's length tables, and RDKit fills each
    atom's valence with hydrogens, as papers that report QM9 without hydrogens score it."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import rdDetermineBonds

    RDLogger.DisableLog("rdApp.*")
    mol = _bare_mol(s)
    try:
        if implicit_hydrogens:
            _add_table_bonds(mol, s)
        else:
            rdDetermineBonds.DetermineBonds(mol, charge=0)
        Chem.SanitizeMol(mol)
    except Exception:  # RDKit raises ValueError or its own C++ exception types for impossible valences
        return Perceived(_bare_mol(s).GetMol(), sanitized=False, smiles=None, fragments=0, neutral=False)
    neutral = all(a.GetFormalCharge() == 0 and a.GetNumRadicalElectrons() == 0 for a in mol.GetAtoms())
    fragments = len(Chem.GetMolFrags(mol))
    return Perceived(mol.GetMol(), sanitized=True, smiles=largest_fragment_smiles(mol), fragments=fragments, neutral=neutral)


def _add_table_bonds(mol, s: Structure) -> None:
    """EDM-protocol bonds (element-pair length tables) into an RDKit RWMol of `s`'s atoms."""
    from rdkit import Chem

    from unite_mol.evaluate.edm import bond_orders

    order = bond_orders(s)
    types = (None, Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE)
    for i, j in zip(*np.nonzero(np.triu(order))):
        mol.AddBond(int(i), int(j), types[order[i, j]])


def largest_fragment_smiles(mol) -> str:
    """Canonical SMILES (hydrogens implicit, no stereo) of the largest connected fragment of a sanitised molecule."""
    from rdkit import Chem

    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    largest = Chem.RemoveHs(max(frags, key=lambda m: m.GetNumAtoms()), sanitize=False)
    return Chem.MolToSmiles(largest, isomericSmiles=False)


def bonded_mol(numbers: np.ndarray, bonds: np.ndarray):
    """The molecule with these atoms and (k, 3) bonds (atom i, atom j, order 1-3), sanitised; None if RDKit rejects it."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    types = (None, Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE)
    mol = Chem.RWMol()
    for z in numbers.tolist():
        mol.AddAtom(Chem.Atom(z))
    for i, j, order in bonds.tolist():
        mol.AddBond(i, j, types[order])
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # RDKit raises ValueError or its own C++ exception types for impossible valences
        return None
    return mol.GetMol()


def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES without stereo, or None if RDKit cannot parse it."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    return Chem.MolToSmiles(mol, isomericSmiles=False) if mol is not None else None
