"""ADiT / UNITE protocol: OpenBabel perceives bonds and orders from the coordinates and writes PDB; the molecule is
valid if RDKit parses that PDB block (CONECT records, no proximity bonding) and sanitises it."""
from dataclasses import dataclass

from unite_mol.structure import SYMBOLS, Structure


@dataclass
class BabelCheck:
    valid: bool
    smiles: str | None  # canonical SMILES (no H, no stereo) of the largest fragment, when valid
    fragments: int  # connected components of the valid molecule (0 when invalid)
    molblock: str | None  # the valid molecule with its bonds, for PoseBusters


def xyz_block(s: Structure) -> str:
    rows = (f"{SYMBOLS[z]} {x:.6f} {y:.6f} {c:.6f}" for z, (x, y, c) in zip(s.numbers, s.positions.astype(float)))
    return f"{len(s.numbers)}\n\n" + "\n".join(rows) + "\n"


def openbabel_version() -> str:
    from openbabel import openbabel

    return openbabel.OBReleaseVersion()


def check_babel(s: Structure) -> BabelCheck:
    from openbabel import openbabel, pybel
    from rdkit import Chem, RDLogger

    from unite_mol.chem import largest_fragment_smiles

    RDLogger.DisableLog("rdApp.*")
    openbabel.obErrorLog.StopLogging()
    pdb = pybel.readstring("xyz", xyz_block(s)).write("pdb")
    mol = Chem.MolFromPDBBlock(pdb, removeHs=False, proximityBonding=False)
    if mol is None:
        return BabelCheck(False, None, 0, None)
    return BabelCheck(True, largest_fragment_smiles(mol), len(Chem.GetMolFrags(mol)), Chem.MolToMolBlock(mol))
