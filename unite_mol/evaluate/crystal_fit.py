"""`StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3).fit(a, b, skip_structure_reduction=True)`, the question
uniqueness and novelty ask of every pair of crystals, answered with fewer of pymatgen's per-call objects: the same
answers about 3x sooner for uniqueness on Carbon-24, where one bucket holds thousands of crystals, 2-2.7x on Perov-5
(`benchmarks/crystal_eval_speed.py --baseline`, `benchmarks/crystal_match_cost.py`).

pymatgen's answer, step by step (default options: no supercells, no subsets; species are atomic numbers, as the
crystals here carry no oxidation states): both cells scaled to one volume; every basis of a's lattice whose lengths
lie within a factor 1 + ltol of b's and whose angles lie within angle_tol degrees of b's, unimodular (the same lattice,
not a supercell); for each basis, every translation that puts b's first site of its rarest species on an a site of
that species; a translation is tried when every b site has an a site of its species within a per-axis fractional
tolerance, and fits when the assignment of sites that minimises the squared distances, after removing its mean shift,
leaves no site further than stol × (volume / site)^(1/3), distances taken by pymatgen's own `pbc_shortest_vectors`.
The pair fits when any basis and translation do, so the order of the search (all pymatgen's early exit depends on)
does not change the answer. Here the bases come at once from lattice points enumerated once per reference crystal,
every translation of a basis is screened at once, the tried ones go through `pbc_shortest_vectors` in one call with
the LLL basis computed once, and one assignment each. `tests/test_crystal_fit.py` compares the answers with pymatgen's.
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

    @cached_property
    def counts(self) -> tuple[tuple[int, int], ...]:
        elements, counts = np.unique(self.numbers, return_counts=True)
        return tuple(zip(elements.tolist(), counts.tolist()))


def parameters(m: np.ndarray) -> np.ndarray:
    """(a, b, c, α, β, γ) of lattices (..., 3, 3) given by their rows, as pymatgen's Lattice computes them → (..., 6)."""
    lengths = np.sqrt(np.sum(m**2, axis=-1))  # (..., 3)
    j, k = [1, 2, 0], [2, 0, 1]
    cosines = np.clip(np.sum(m[..., j, :] * m[..., k, :], axis=-1) / (lengths[..., j] * lengths[..., k]), -1, 1)
    return np.concatenate([lengths, np.rad2deg(np.arccos(cosines))], axis=-1)


def from_parameters(p: np.ndarray) -> np.ndarray:
    """Lattice rows (..., 3, 3) from parameters (..., 6), oriented as pymatgen's `Lattice.from_parameters`."""
    a, b, c = p[..., 0], p[..., 1], p[..., 2]
    cos_a, cos_b, cos_g = np.cos(np.radians(p[..., 3:])).T
    sin_a, sin_b = np.sin(np.radians(p[..., 3:5])).T
    gamma_star = np.arccos(np.clip((cos_a * cos_b - cos_g) / (sin_a * sin_b), -1, 1))
    zero = np.zeros_like(a)
    return np.stack([np.stack([a * sin_b, zero, a * cos_b], axis=-1),
                     np.stack([-b * sin_a * np.cos(gamma_star), b * sin_a * np.sin(gamma_star), b * cos_a], axis=-1),
                     np.stack([zero, zero, c], axis=-1)], axis=-2)


def lattice_points(m: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer coordinates (P, 3) and Cartesian points (P, 3) of every point but the origin of lattice `m` within
    `radius` of it (a box bounded by the reciprocal lengths holds them all)."""
    reach = np.ceil(radius * np.linalg.norm(np.linalg.inv(m), axis=0)).astype(int)  # (3,)
    n = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), axis=-1).reshape(-1, 3)  # (P, 3)
    cart = np.dot(n.astype(float), m)  # (P, 3)
    keep = (np.sum(cart**2, axis=1) <= radius**2) & np.any(n != 0, axis=1)
    return n[keep], cart[keep]


def _angles(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Degrees between every row of u (U, 3) and every row of v (V, 3) → (U, V)."""
    x = np.inner(u, v) / np.linalg.norm(u, axis=1)[:, None] / np.linalg.norm(v, axis=1)
    return np.rad2deg(np.arccos(np.clip(x, -1, 1)))


class _LLL:
    """What pymatgen's `pbc_shortest_vectors` reads of a lattice: its LLL basis (pymatgen's `Lattice._calculate_lll`,
    δ = 0.75), computed once per lattice instead of per call. Most average lattices are LLL-reduced already, and then
    pymatgen's reduction returns them unchanged with the identity mapping: that is checked here with a margin (so a
    near-tie defers to pymatgen) rather than reduced in Python."""

    pbc = (True, True, True)

    def __init__(self, avg: np.ndarray):
        if _lll_reduced(avg):
            self.lll_matrix, self.lll_inverse = avg, np.identity(3)
        else:
            from pymatgen.core import Lattice

            lattice = Lattice(avg)
            self.lll_matrix, self.lll_inverse = lattice.lll_matrix, lattice.lll_inverse

    def get_lll_frac_coords(self, frac: np.ndarray) -> np.ndarray:
        return np.dot(frac, self.lll_inverse)


def _lll_reduced(m: np.ndarray, delta: float = 0.75, margin: float = 1e-9) -> bool:
    """Whether rows m (3, 3) are size-reduced (Gram-Schmidt coefficients |μ| < 1/2) and meet Lovász's condition, each
    by `margin`: then no step of the LLL reduction changes them."""
    a0, a1, a2 = m
    g0 = a0
    mu10 = a1 @ g0 / (g0 @ g0)
    g1 = a1 - mu10 * g0
    mu20, mu21 = a2 @ g0 / (g0 @ g0), a2 @ g1 / (g1 @ g1)
    g2 = a2 - mu20 * g0 - mu21 * g1
    size = max(abs(mu10), abs(mu20), abs(mu21)) < 0.5 - margin
    return bool(size and g1 @ g1 > (delta - mu10**2 + margin) * (g0 @ g0)
                and g2 @ g2 > (delta - mu21**2 + margin) * (g1 @ g1))


class Reference:
    """One crystal `a` asked `fits(a, b)` of many b (a uniqueness group's first member, a sample against its training
    crystals): its lattice points are enumerated once, out to the furthest any b needs."""

    def __init__(self, a: Cell):
        self.cell, self.reach = a, 0.0

    def _enumerate(self, reach: float) -> None:
        """The lattice points within `reach` Å and their lengths."""
        self.reach = reach
        self.n, self.cart = lattice_points(self.cell.matrix, reach)  # (P, 3), (P, 3)
        self.length = np.linalg.norm(self.cart, axis=1)  # (P,)

    def bases(self, ratio: float, p: np.ndarray) -> np.ndarray:
        """Every basis (B, 3, 3) of a's lattice scaled by `ratio` whose lengths lie within a factor 1 + LTOL of the
        target lattice's, parameters `p` (6,), and angles within ANGLE_TOL degrees, unimodular: pymatgen's
        `Lattice.find_all_mappings` as `StructureMatcher._get_lattices` filters it."""
        if max(p[:3]) * (1 + LTOL) / ratio > self.reach:
            self._enumerate(1.5 * max(p[:3]) * (1 + LTOL) / ratio)
        dist = self.length * ratio
        ia, ib, ic = (np.nonzero((dist / length < 1 + LTOL) & (dist / length > 1 / (1 + LTOL)))[0] for length in p[:3])
        ca, cb, cc = self.cart[ia], self.cart[ib], self.cart[ic]  # angles do not change when the cell is scaled
        alpha = np.abs(_angles(cb, cc) - p[3]) <= ANGLE_TOL  # (B, C)
        beta = np.abs(_angles(ca, cc) - p[4]) <= ANGLE_TOL  # (A, C)
        gamma = np.abs(_angles(ca, cb) - p[5]) <= ANGLE_TOL  # (A, B)
        found = []
        for start in range(0, len(ia), 64):  # in slices of a's candidates: long cells have thousands
            i, j, k = np.nonzero(gamma[start : start + 64, :, None] & beta[start : start + 64, None, :] & alpha[None])
            found.append((i + start, j, k))
        i, j, k = (np.concatenate(parts) for parts in zip(*found)) if found else (np.zeros(0, int),) * 3
        i, j, k = ia[i], ib[j], ic[k]
        det = np.einsum("ij,ij->i", self.n[i], np.cross(self.n[j], self.n[k]))  # integer, exactly
        keep = np.abs(det) == 1
        return np.dot(self.n[np.stack([i[keep], j[keep], k[keep]], axis=1)].astype(float), self.cell.matrix * ratio)

    def fits(self, b: Cell) -> bool:
        """Whether `StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3).fit(a, b, skip_structure_reduction=True)`."""
        a = self.cell
        if a.counts != b.counts:
            return False
        ratio = (b.volume / a.volume) ** (1 / 6)
        p2 = parameters(b.matrix / ratio)  # (6,): b's cell scaled to the common volume
        forbidden = (b.numbers[:, None] != a.numbers[None, :]).astype(np.int64)  # (N2, N1): b site i cannot be a's j
        anchor = int(np.argmax(forbidden.sum(axis=1)))  # b's first site of its rarest species
        targets = np.nonzero(forbidden[anchor] == 0)[0]  # a's sites it may land on
        bases = self.bases(ratio, p2)  # (B, 3, 3)
        if not len(bases):
            return False
        frac1 = np.matmul(np.dot(a.frac, a.matrix * ratio), np.linalg.inv(bases))
        frac1 -= np.floor(frac1)  # (B, N1, 3): a's sites in each basis
        avg = from_parameters((parameters(bases) + p2) / 2)  # (B, 3, 3): the matcher's average lattices
        normalization = (len(a.numbers) / np.abs(np.linalg.det(avg))) ** (1 / 3)  # (B,)
        tol = 2 * np.linalg.norm(np.linalg.inv(avg), axis=-2) * STOL / normalization[:, None]  # (B, 3), reciprocal
        shifted = b.frac[None, None] + (frac1[:, targets] - b.frac[anchor])[:, :, None]  # (B, T, N2, 3)
        d = shifted[:, :, :, None] - frac1[:, None, None]  # (B, T, N2, N1, 3)
        close = np.all(np.abs(d - np.round(d)) <= tol[:, None, None, None], axis=-1) & (forbidden == 0)  # (B, T, N2, N1)
        passing = np.all(np.any(close, axis=-1), axis=-1)  # (B, T)
        return any(_sites_fit(frac1[k], shifted[k, passing[k]], avg[k], normalization[k], forbidden)
                   for k in np.nonzero(passing.any(axis=1))[0])


def _sites_fit(frac1: np.ndarray, copies: np.ndarray, avg: np.ndarray, normalization: float,
               forbidden: np.ndarray) -> bool:
    """pymatgen's `_cart_dists` test for any of the translated copies (T, N2, 3) of b on a's sites frac1 (N1, 3): the
    assignment of b's sites that minimises the squared distances (pymatgen's own `pbc_shortest_vectors`), distances
    from its mean shift normalised by (volume / site)^(1/3), all under STOL."""
    from pymatgen.util.coord_cython import pbc_shortest_vectors
    from scipy.optimize import linear_sum_assignment

    lll = _LLL(avg)
    lll_tol = 2 * np.linalg.norm(np.linalg.inv(lll.lll_matrix), axis=0) * STOL / normalization  # (3,), reciprocal
    t, n2, n1 = copies.shape[0], copies.shape[1], len(frac1)
    vectors, d2 = pbc_shortest_vectors(lll, copies.reshape(-1, 3), frac1, np.tile(forbidden, (t, 1)), True, lll_tol)
    vectors, d2 = vectors.reshape(t, n2, n1, 3), d2.reshape(t, n2, n1)  # every copy at once
    cols = np.array([linear_sum_assignment(cost)[1] for cost in d2])  # (T, N2): the assignment of each copy
    short = vectors[np.arange(t)[:, None], np.arange(n2), cols]  # (T, N2, 3)
    spread = np.sum((short - short.mean(axis=1, keepdims=True)) ** 2, axis=-1) ** 0.5 * normalization  # (T, N2)
    return bool(np.any(np.max(spread, axis=1) < STOL))


def fits(a: Cell, b: Cell) -> bool:
    """Whether `StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3).fit(a, b, skip_structure_reduction=True)` is True."""
    return Reference(a).fits(b)
