"""Crystal reconstruction, as CDVAE's RecEval (also DiffCSP, FlowMM): is each crystal the reference crystal at the
same position? StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3).get_rms_dist on the pair; its RMS is normalised by
(V/N)^(1/3). A reconstruction must be valid (structural and compositional) to count as matched; the match rate is
over every pair, the RMSE over the matches. The rate with validity aside is reported beside it."""
from dataclasses import dataclass

import numpy as np

from unite_core.jsonio import Undefined
from unite_mol.evaluate.crystal import MATCHER
from unite_mol.structure import Structure


@dataclass
class CrystalMatchScore:
    pairs: int
    match_rate: float  # valid and matched / pairs (the published figure)
    match_rate_any: float  # matched / pairs, validity aside
    rmse: float  # mean normalised RMS over the valid matches


def match_crystal_pair(pair: tuple[Structure | None, Structure | None]) -> float:
    """Normalised RMS distance of the two crystals; inf when they do not match (or one could not be read)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from unite_mol.data.crystals import to_pymatgen

    a, b = pair
    if a is None or b is None or not all(np.isfinite(s.cell).all() and np.isfinite(s.positions).all() for s in pair):
        return float("inf")
    if abs(np.linalg.det(a.cell)) < 1e-6:
        return float("inf")
    rms = StructureMatcher(**MATCHER).get_rms_dist(to_pymatgen(a), to_pymatgen(b))
    return float("inf") if rms is None else float(rms[0])


def score_crystal_matches(rms: list[float], valid: list[bool]) -> CrystalMatchScore:
    r, ok = np.asarray(rms, dtype=np.float64), np.asarray(valid, dtype=bool)
    if not len(r):
        return CrystalMatchScore(0, *[Undefined("no pairs")] * 3)
    hit = np.isfinite(r) & ok
    return CrystalMatchScore(len(r), float(hit.mean()), float(np.isfinite(r).mean()), float(r[hit].mean()) if hit.any() else Undefined("no matches"))
