"""Where a crystal's atoms sit in its cell: as the file placed them, or shifted so that one site is at the origin."""
from enum import Enum
from functools import cache

import numpy as np

from unite_mol.data.packed import Packed
from unite_mol.structure import Structure


class Origin(str, Enum):
    """Crystals only. `file`: the fractional coordinates as read; a CIF may place its atoms anywhere in the cell
    (Carbon-24's are shifted at random). `site`: each crystal translated once so that a site of its least frequent
    element is at (0, 0, 0), so the latents of a crystal are one point, not a 3-D family of its translations. `cation`:
    the same with a site of its most electropositive element, a cation in an ionic crystal, so that crystals of one
    structure type (Perov-5's ABX3) share one layout whichever of their elements is rarest."""

    file = "file"
    site = "site"
    cation = "cation"


def check_origin(origin: Origin, periodic: bool) -> None:
    """Molecules are centred on their atoms; only a crystal has an origin to choose."""
    if origin is not Origin.file and not periodic:
        raise ValueError(f"data.origin={origin.value} is for crystals; a molecule is centred on its atoms")


def wrap(frac: np.ndarray) -> np.ndarray:
    """Fractional coordinates (N, 3) into [0, 1), a coordinate within 1e-8 of 1 taken as 0."""
    frac = np.mod(frac, 1.0)
    frac[np.isclose(frac, 1.0, atol=1e-8)] = 0.0
    return frac


def canonical_order(numbers: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """The sites' canonical order (N,): by atomic number, then by wrapped fractional a, b, c (to 1e-4)."""
    return np.lexsort((np.round(frac[:, 2], 4), np.round(frac[:, 1], 4), np.round(frac[:, 0], 4), numbers))


@cache
def pauling(z: int) -> float:
    """Pauling electronegativity of atomic number z (pymatgen's table, looked up once per element); inf where there is
    none (noble gases), so they rank last."""
    from pymatgen.core import Element

    return float(np.nan_to_num(Element.from_Z(z).X, nan=np.inf))


def anchor_element(numbers: np.ndarray, origin: Origin) -> int:
    """The element a site of which goes to the origin: the least frequent (`site`) or the most electropositive
    (`cation`), the heaviest on a tie."""
    elements, counts = np.unique(numbers, return_counts=True)
    rank = counts if origin is Origin.site else np.array([pauling(int(z)) for z in elements])
    return elements[np.lexsort((-elements, rank))[0]]


def anchored(numbers: np.ndarray, frac: np.ndarray, origin: Origin) -> tuple[np.ndarray, np.ndarray]:
    """One crystal's sites (canonical order) and wrapped fractional coordinates (N, 3) shifted so that a site of its
    `anchor_element` is at the origin: of those shifts, the one whose canonical site list is lexicographically smallest
    (to 1e-4). It depends only on the crystal, not on where the file put it."""
    best = None
    for site in np.flatnonzero(numbers == anchor_element(numbers, origin)):
        shifted = wrap(frac - frac[site])  # (N, 3)
        order = canonical_order(numbers, shifted)
        key = tuple(np.round(shifted[order], 4).ravel())
        if best is None or key < best[0]:
            best = (key, numbers[order], shifted[order])
    return best[1], best[2]


def to_origin(packed: Packed, origin: Origin) -> Packed:
    """`site` / `cation`: every crystal translated as `anchored` says, sites in canonical order; `file`: as they are.
    The cells are unchanged."""
    if origin is Origin.file or not len(packed):
        return packed
    check_origin(origin, packed.cells is not None)

    def placed(crystal: Structure) -> tuple[np.ndarray, np.ndarray]:
        numbers, frac = anchored(crystal.numbers, wrap(crystal.fractional()), origin)  # (N,), (N, 3)
        return numbers, frac @ crystal.cell

    return packed.with_sites(placed)
