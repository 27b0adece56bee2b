"""The per-molecule check of each protocol (run in worker processes); `scores` aggregates them."""
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Callable

from unite_mol.evaluate.babel import BabelCheck, check_babel
from unite_mol.evaluate.edm import EdmCheck, check_edm
from unite_mol.structure import Structure

if TYPE_CHECKING:
    from unite_mol.chem import Perceived


class Protocol(str, Enum):
    edm = "edm"  # EDM / GeoLDM / EquiFM / GeoBFN: bond-length tables, valence stability, RDKit validity
    openbabel = "openbabel"  # ADiT / UNITE: OpenBabel bonds -> PDB -> RDKit parses and sanitises
    rdkit = "rdkit"  # RDKit rdDetermineBonds (charge 0) + sanitise: what `unite-mol sample` reports
    posebusters = "posebusters"  # PoseBusters "mol" checks on the molecules valid under the OpenBabel protocol


@dataclass
class NativeCheck:
    valid: bool
    smiles: str | None
    fragments: int
    neutral: bool  # no charged or radical atom

    @classmethod
    def of(cls, p: "Perceived") -> "NativeCheck":
        """What the RDKit-native protocol keeps of a perceived molecule (no RDKit object: workers return it cheaply)."""
        return cls(p.sanitized, p.smiles, p.fragments, p.neutral)


def check_native(s: Structure, implicit_hydrogens: bool = False) -> NativeCheck:
    """`implicit_hydrogens` (molecules without hydrogens): EDM-table bonds, valences filled with implicit hydrogens."""
    from unite_mol.chem import perceive

    return NativeCheck.of(perceive(s, implicit_hydrogens))


CHECKS: dict[Protocol, Callable[[Structure], EdmCheck | BabelCheck | NativeCheck]] = {
    Protocol.edm: check_edm, Protocol.openbabel: check_babel, Protocol.rdkit: check_native,
}
