"""The order of a structure's sites along its tokens (RoPE positions): as stored, its elements reordered each step, or
its elements ordered once by their sites' environment."""
from enum import Enum
from itertools import product

import numpy as np

from unite_mol.data.origin import wrap
from unite_mol.data.packed import Packed
from unite_mol.structure import Structure


class SiteOrder(str, Enum):
    """`stored`: crystals in their canonical order (by atomic number, then by fractional coordinates), molecules as read.
    `shuffled_elements`: each training step puts each structure's elements in a random order, the sites of one element
    staying together and in their order. With the atomic-number order two elements of equal standing (Perov-5's A and
    B cations) always arrive lighter first, so the denoiser has to learn the pair as an ordered (min, max) pair, whose
    coupling it misses: its samples pair a heavy cation with a light one (docs/crystals.md, "Why the density EMD stays
    above CDVAE's").
    `by_count`: each training step orders each structure's elements by their number of sites, most first, and elements
    of equal count in a random order: the pair of equal standing is unordered, the larger blocks keep their place.
    `by_environment` (crystals): once, at loading, each crystal's elements ordered by their number of sites (most
    first), then by their sites' nearest-neighbour distance (longest first, to 0.01 Å), then by atomic number: a token's
    position says a site's role (Perov-5: X3, then the 12-fold A site, then the 6-fold B site, whichever is heavier)."""

    stored = "stored"
    shuffled_elements = "shuffled_elements"
    by_count = "by_count"
    by_environment = "by_environment"


IMAGES = np.array(list(product((-1, 0, 1), repeat=3)), dtype=np.float64)  # (27, 3) neighbouring cells


def nearest_neighbour_distances(frac: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Each site's distance (N,) to its nearest other site or periodic image, over the 27 nearest cells (a reduced
    cell's)."""
    delta = frac[None, :, None, :] - frac[:, None, None, :] + IMAGES[None, None]  # (N, N, 27, 3)
    dist = np.linalg.norm(delta @ cell, axis=-1)  # (N, N, 27)
    dist[dist < 1e-8] = np.inf  # the site itself
    return dist.min(axis=(1, 2))


def environment_order(numbers: np.ndarray, frac: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """The sites' order (N,) for `by_environment`; within an element the stored order."""
    elements, inverse, counts = np.unique(numbers, return_inverse=True, return_counts=True)
    nearest = nearest_neighbour_distances(wrap(frac), cell)  # (N,)
    mean = np.bincount(inverse, weights=nearest) / counts  # (E,)
    rank = np.empty(len(elements), dtype=np.int64)
    rank[np.lexsort((elements, -np.round(mean, 2), -counts))] = np.arange(len(elements))
    return np.argsort(rank[inverse], kind="stable")


def to_site_order(packed: Packed, order: SiteOrder) -> Packed:
    """`by_environment`: every crystal's sites in `environment_order`; any other order: as they are (the shuffled
    orders are drawn per training step, in unite_mol.augment)."""
    if order is not SiteOrder.by_environment or not len(packed):
        return packed
    if packed.cells is None:
        raise ValueError("data.site_order=by_environment is for crystals; molecules keep their atoms' order")

    def ordered(crystal: Structure) -> tuple[np.ndarray, np.ndarray]:
        perm = environment_order(crystal.numbers, crystal.fractional(), crystal.cell)  # (N,)
        return crystal.numbers[perm], crystal.positions[perm]

    return packed.with_sites(ordered)
