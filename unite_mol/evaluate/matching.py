"""Reconstruction: is each molecule the reference molecule at the same position in the reference file?
pymatgen MoleculeMatcher: OpenBabel perceives both molecules, InChI maps atom to atom (inf when the topologies
differ), Kabsch alignment gives the RMSD. Matched = same topology (MoleculeMatcher finds them isomorphic, the reading
under which UNITE's 99.37 % match and 0.039 Å RMSD are consistent); `within_tolerance` is pymatgen's strict `fit`,
RMSD < 0.01 Å, reported beside it."""
from dataclasses import dataclass

import numpy as np

from unite_core.jsonio import Undefined
from unite_mol.structure import SYMBOLS, Structure

TOLERANCE = 0.01


@dataclass
class MatchScore:
    pairs: int
    match_rate: float  # same topology (isomorphic under InChI mapping) / pairs
    within_tolerance: float  # isomorphic and RMSD < TOLERANCE Å (pymatgen's MoleculeMatcher.fit) / pairs
    rmsd: float  # mean RMSD over the matched pairs, Å


def match_pair(pair: tuple[Structure | None, Structure | None]) -> float:
    """RMSD (Å) after atom mapping and alignment; inf when the two molecules are not isomorphic."""
    import warnings

    from openbabel import openbabel
    from pymatgen.analysis.molecule_matcher import MoleculeMatcher
    from pymatgen.core import Molecule

    openbabel.obErrorLog.StopLogging()
    a, b = pair
    if a is None or b is None or sorted(a.numbers) != sorted(b.numbers):
        return float("inf")
    mols = [Molecule([SYMBOLS[z] for z in s.numbers], s.positions.astype(float)) for s in (a, b)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(MoleculeMatcher(tolerance=TOLERANCE).get_rmsd(*mols))


def score_matches(rmsd: list[float]) -> MatchScore:
    r = np.asarray(rmsd, dtype=np.float64)
    hit = np.isfinite(r)
    if not len(r):
        return MatchScore(0, *[Undefined("no pairs")] * 3)
    return MatchScore(len(r), float(hit.mean()), float((r < TOLERANCE).mean()), float(r[hit].mean()) if hit.any() else Undefined("no matches"))
