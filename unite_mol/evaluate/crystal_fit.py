"""`StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3).fit(a, b, skip_structure_reduction=True)`, the question
uniqueness and novelty ask of every pair of crystals, answered by compiled loops (`site_fit`, numba): the same answers
as pymatgen's: uniqueness over 2,000 Carbon-24 samples 8x sooner than with `StructureMatcher.fit`, and 4x sooner over
10,000 than the numpy version before them (`benchmarks/crystal_eval_speed.py`, `benchmarks/crystal_match_cost.py`).

pymatgen's answer, step by step (default options: no supercells, no subsets; species are atomic numbers, as the
crystals here carry no oxidation states): both cells scaled to one volume; every basis of a's lattice whose lengths
lie within a factor 1 + ltol of b's and whose angles lie within angle_tol degrees of b's, unimodular (the same lattice,
not a supercell); for each basis, every translation that puts b's first site of its rarest species on an a site of
that species; a translation is tried when every b site has an a site of its species within a per-axis fractional
tolerance, and fits when the assignment of sites that minimises the squared distances, after removing its mean shift,
leaves no site further than stol × (volume / site)^(1/3), distances taken as pymatgen's `pbc_shortest_vectors` takes
them in the average lattice's LLL basis. The pair fits when any basis and translation do, so the order of the search
(all pymatgen's early exit depends on) does not change the answer. Here a reference crystal's lattice points are
enumerated once, and one compiled call asks it of a whole bucket of crystals. Where an average lattice's LLL reduction
comes within 1e-9 of a tie (exactly hexagonal cells), pymatgen reduces it, as there the last bits of arithmetic choose
the basis. `tests/test_crystal_fit.py` compares the answers, the reductions and the assignments with pymatgen's and
scipy's.
"""
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Structure as PymatgenStructure

STOL, LTOL, ANGLE_TOL = 0.5, 0.3, 10.0


@dataclass(frozen=True)
class Cell:
    """A crystal as the matcher reads it: lattice rows (3, 3) in Å, fractional coordinates (N, 3), atomic numbers (N,)."""

    matrix: np.ndarray
    frac: np.ndarray
    numbers: np.ndarray

    @classmethod
    def of(cls, s: "PymatgenStructure") -> "Cell":
        return cls(np.array(s.lattice.matrix), np.array(s.frac_coords), np.array(s.atomic_numbers))

    @cached_property
    def volume(self) -> float:
        m = self.matrix
        return float(abs(np.dot(np.cross(m[0], m[1]), m[2])))


def lattice_points(m: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer coordinates (P, 3) and Cartesian points (P, 3) of every point but the origin of lattice `m` within
    `radius` of it (a box bounded by the reciprocal lengths holds them all)."""
    reach = np.ceil(radius * np.linalg.norm(np.linalg.inv(m), axis=0)).astype(int)  # (3,)
    n = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), axis=-1).reshape(-1, 3)  # (P, 3)
    cart = np.dot(n.astype(float), m)  # (P, 3)
    keep = (np.sum(cart**2, axis=1) <= radius**2) & np.any(n != 0, axis=1)
    return n[keep], cart[keep]


@dataclass(frozen=True)
class Cells:
    """Crystals of one size, stacked for one compiled call: rows (M, 3, 3), fractional sites (M, N, 3), atomic numbers
    (M, N)."""

    matrices: np.ndarray
    fracs: np.ndarray
    numbers: np.ndarray

    @classmethod
    def of(cls, cells: list[Cell]) -> "Cells":
        return cls(*(np.ascontiguousarray([getattr(c, name) for c in cells], dtype=dtype)
                     for name, dtype in (("matrix", np.float64), ("frac", np.float64), ("numbers", np.int64))))

    def __len__(self) -> int:
        return len(self.matrices)

    def take(self, index: np.ndarray | slice) -> "Cells":
        return Cells(self.matrices[index], self.fracs[index], self.numbers[index])

    def cell(self, m: int) -> Cell:
        return Cell(self.matrices[m], self.fracs[m], self.numbers[m])


class Reference:
    """One crystal `a` asked `fits(a, b)` of many b (a uniqueness group's first member against the rest of its bucket, a
    sample against its training crystals), all in one compiled call: its lattice points are enumerated once, out to the
    furthest any b needs."""

    def __init__(self, a: Cell):
        self.cell, self.reach = a, 0.0
        self.frac, self.numbers = np.ascontiguousarray(a.frac, dtype=float), np.ascontiguousarray(a.numbers, dtype=int)

    def _reach(self, matrices: np.ndarray) -> None:
        """Enumerate a's lattice points (integer coordinates (P, 3), Cartesian (P, 3), lengths (P,)) out to 1.5 times
        the longest basis vector that lattices `matrices` (M, 3, 3), scaled to a's volume, may be matched to."""
        scale = (np.abs(np.linalg.det(matrices)) / self.cell.volume) ** (1 / 3)  # (M,): b's volume over a's, ^(1/3)
        needed = float(np.max(np.linalg.norm(matrices, axis=-1).max(axis=-1) / scale)) * (1 + LTOL)
        if needed > self.reach:
            self.reach = 1.5 * needed
            self.n, self.cart = lattice_points(self.cell.matrix, self.reach)  # (P, 3), (P, 3)
            self.length = np.linalg.norm(self.cart, axis=1)  # (P,)

    def bases(self, ratio: float, p: np.ndarray) -> np.ndarray:
        """Every basis (B, 3, 3) of a's lattice scaled by `ratio` whose lengths lie within a factor 1 + LTOL of the
        target lattice's, parameters `p` (6,), and angles within ANGLE_TOL degrees, unimodular: pymatgen's
        `Lattice.find_all_mappings` as `StructureMatcher._get_lattices` filters it."""
        from unite_mol.evaluate.site_fit import from_parameters, lattice_bases

        self._reach(from_parameters(p)[None] * ratio)
        return lattice_bases(self.n, self.cart, self.length * ratio, self.cell.matrix * ratio, p, LTOL, ANGLE_TOL)

    def fits_each(self, cells: Cells, stop_at_fit: bool = False) -> np.ndarray:
        """Whether `StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3).fit(a, b, skip_structure_reduction=True)`, for
        each b of `cells` (M,); with `stop_at_fit` only up to the first that fits (the rest are False)."""
        from unite_mol.evaluate.site_fit import FIT, NEAR_TIE, fit_codes

        if not len(cells):
            return np.zeros(0, bool)
        self._reach(cells.matrices)
        a = self.cell
        codes = fit_codes(self.n, self.cart, self.length, a.matrix, self.frac, self.numbers, cells.matrices,
                          cells.fracs, cells.numbers, stop_at_fit, STOL, LTOL, ANGLE_TOL)
        fit = codes == FIT
        if not (stop_at_fit and fit.any()):
            for m in np.nonzero(codes == NEAR_TIE)[0]:
                fit[m] = self._near_tie_fits(cells.cell(m))
        return fit

    def fits(self, b: Cell) -> bool:
        """Whether `StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3).fit(a, b, skip_structure_reduction=True)`."""
        return bool(self.fits_each(Cells.of([b]))[0])

    def fits_any(self, cells: Cells) -> bool:
        """Whether a fits any of `cells`."""
        return bool(self.fits_each(cells, stop_at_fit=True).any())

    def _near_tie_fits(self, b: Cell) -> bool:
        """The answer for a pair where an average lattice's LLL reduction is a near tie: those bases reduced by
        pymatgen itself."""
        from unite_mol.evaluate.site_fit import bases_fit, candidates

        a = self.cell
        anchor, targets, forbidden, frac1, avg, normalization, passing = candidates(
            self.n, self.cart, self.length, a.matrix, self.frac, self.numbers, b.matrix, b.frac, b.numbers, STOL, LTOL,
            ANGLE_TOL)
        reduced, inverse = _lll(avg)
        return bases_fit(frac1, b.frac, anchor, targets, passing, reduced, inverse, forbidden, normalization, STOL)


def _lll(avg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pymatgen's LLL bases (δ = 0.75) of lattices avg (K, 3, 3) and the inverses of their mappings: reduced as pymatgen
    reduces them (`site_fit.lll`), but by pymatgen itself where a step came within 1e-9 of a tie (a hexagonal cell's
    Gram-Schmidt coefficient is exactly -1/2), as there the last bits of arithmetic choose the basis."""
    from pymatgen.core import Lattice

    from unite_mol.evaluate.site_fit import lll

    reduced, inverse, near = lll(avg)
    for k in np.nonzero(near)[0]:
        lattice = Lattice(avg[k])
        reduced[k], inverse[k] = lattice.lll_matrix, lattice.lll_inverse
    return reduced, inverse


def fits(a: Cell, b: Cell) -> bool:
    """Whether `StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3).fit(a, b, skip_structure_reduction=True)` is True."""
    return Reference(a).fits(b)
