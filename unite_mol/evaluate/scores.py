"""Per-protocol figures from per-molecule checks. Each denominator is the one the protocol's papers use; unreadable
records count as molecules that fail every check (and contribute no atoms to atom stability)."""
from dataclasses import dataclass

from unite_core.jsonio import Undefined
from unite_mol.evaluate.babel import BabelCheck
from unite_mol.evaluate.checks import NativeCheck
from unite_mol.evaluate.edm import EdmCheck


NO_HYDROGENS = "no explicit hydrogens: valence stability needs them"


def _ratio(a: int, b: int, over: str) -> float:
    """a / b, or Undefined("no <over>") when there is nothing to divide by."""
    return a / b if b else Undefined(f"no {over}")


def _novel(smiles: list[str], train: set[str] | None) -> float:
    if train is None:
        return Undefined("no training SMILES given")
    return _ratio(sum(s not in train for s in smiles), len(smiles), "valid molecules")


@dataclass
class EdmScore:
    atom_stability: float  # stable atoms / atoms
    molecule_stability: float  # molecules with every atom stable / molecules
    stable_composition: float  # molecules whose elements allow stability at all / molecules: molecule stability's ceiling
    validity: float  # RDKit sanitises the molecule built from the table bonds / molecules
    uniqueness: float  # unique largest-fragment SMILES / valid
    valid_unique: float  # unique valid / molecules (EDM's "Valid x Unique")
    novelty: float  # valid SMILES absent from the training SMILES / valid


def score_edm(checks: list[EdmCheck | None], train: set[str] | None, implicit_hydrogens: bool = False) -> EdmScore:
    """`implicit_hydrogens`: molecules without hydrogens, whose valences cannot be checked (validity still can: RDKit
    fills them with implicit hydrogens)."""
    ok = [c for c in checks if c is not None]
    atoms = sum(c.atoms for c in ok)
    smiles = [c.smiles for c in ok if c.valid]
    n = len(checks)
    stability = (_ratio(sum(c.stable_atoms for c in ok), atoms, "atoms"), _ratio(sum(c.stable_atoms == c.atoms for c in ok), n, "molecules"),
                 _ratio(sum(c.stable_composition for c in ok), n, "molecules"))
    if implicit_hydrogens:
        stability = (Undefined(NO_HYDROGENS),) * 3
    return EdmScore(*stability, _ratio(len(smiles), n, "molecules"), _ratio(len(set(smiles)), len(smiles), "valid molecules"),
                    _ratio(len(set(smiles)), n, "molecules"), _novel(smiles, train))


@dataclass
class BabelScore:
    validity: float  # RDKit parses + sanitises OpenBabel's PDB / molecules
    uniqueness: float  # unique largest-fragment SMILES / valid
    novelty: float  # valid SMILES absent from the training SMILES / valid (ADiT's denominator)
    valid_unique: float  # unique valid / molecules
    connected: float  # valid and one fragment / molecules


def score_babel(checks: list[BabelCheck | None], train: set[str] | None) -> BabelScore:
    valid = [c for c in checks if c is not None and c.valid]
    smiles = [c.smiles for c in valid]
    n = len(checks)
    return BabelScore(_ratio(len(valid), n, "molecules"), _ratio(len(set(smiles)), len(smiles), "valid molecules"),
                      _novel(smiles, train), _ratio(len(set(smiles)), n, "molecules"),
                      _ratio(sum(c.fragments == 1 for c in valid), n, "molecules"))


@dataclass
class NativeScore:
    validity: float  # rdDetermineBonds (charge 0) + sanitise succeed / molecules
    uniqueness: float  # unique largest-fragment SMILES / valid
    novelty: float  # valid SMILES absent from the training SMILES / valid
    connected: float  # valid and one fragment / molecules
    clean: float  # valid, one fragment, no charged or radical atom / molecules


def score_native(checks: list[NativeCheck | None], train: set[str] | None) -> NativeScore:
    valid = [c for c in checks if c is not None and c.valid]
    smiles = [c.smiles for c in valid]
    one = [c for c in valid if c.fragments == 1]
    n = len(checks)
    return NativeScore(_ratio(len(valid), n, "molecules"), _ratio(len(set(smiles)), len(smiles), "valid molecules"),
                       _novel(smiles, train), _ratio(len(one), n, "molecules"), _ratio(sum(c.neutral for c in one), n, "molecules"))
