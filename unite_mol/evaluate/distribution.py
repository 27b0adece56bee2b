"""Is a model making the right molecules, not just valid ones? Atom-count, element and bond-length distributions
of the samples against the training set: total-variation distances and per-bond-type Wasserstein-1 (Å)."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unite_core.jsonio import Undefined
from unite_mol.structure import SYMBOLS, Structure

REFERENCE_BONDS_FROM = 10_000  # training molecules (a fixed random subset) whose EDM bonds give reference lengths
MIN_BONDS = 20  # bond types with fewer sample bonds than this get no distance (too noisy)


@dataclass
class Reference:
    atom_counts: np.ndarray  # (K,) molecules with k atoms
    elements: dict[str, int]  # atoms per element symbol
    bond_lengths: dict[str, np.ndarray]  # "C-H" -> lengths (Å) of EDM-protocol bonds


@dataclass
class DistributionScore:
    atom_count_tv: float  # total-variation distance of the atoms-per-molecule histograms, 0 (same) .. 1
    element_tv: float  # total-variation distance of the element fractions
    bond_length_w1: float  # bond-count-weighted mean of the per-type Wasserstein-1 distances, Å
    bond_length_w1_by_type: dict[str, float]  # "C-H" -> W1 in Å (types with at least MIN_BONDS sample bonds)
    atom_counts: list[int]  # the samples' histogram, for plots
    elements: dict[str, int]


def bond_key(z1: float, z2: float) -> str:
    return f"{SYMBOLS[int(z1)]}-{SYMBOLS[int(z2)]}"


def group_bonds(bonds: np.ndarray) -> dict[str, np.ndarray]:
    """(k, 3) rows of (Z small, Z large, length) -> lengths per bond type."""
    if not len(bonds):
        return {}
    keys = bonds[:, 0].astype(np.int64) * 1000 + bonds[:, 1].astype(np.int64)
    return {bond_key(k // 1000, k % 1000): bonds[keys == k, 2] for k in np.unique(keys)}


def histograms(structures: list[Structure]) -> tuple[np.ndarray, dict[str, int]]:
    """Molecules per atom count (index = count), and atoms per element symbol."""
    counts = np.bincount([len(s.numbers) for s in structures], minlength=1)
    numbers = np.concatenate([s.numbers for s in structures]) if structures else np.zeros(0, np.int64)
    return counts, {SYMBOLS[z]: int(c) for z, c in enumerate(np.bincount(numbers)) if c}


def build_reference(structures: list[Structure], bond_sample: list[Structure]) -> Reference:
    from unite_mol.evaluate.edm import check_edm

    counts, elements = histograms(structures)
    bonds = np.concatenate([check_edm(s).bonds for s in bond_sample])
    return Reference(counts, elements, group_bonds(bonds))


def save_reference(ref: Reference, path: Path) -> None:
    arrays = {"atom_counts": ref.atom_counts, "element_symbols": np.array(list(ref.elements)),
              "element_counts": np.array(list(ref.elements.values()))}
    arrays |= {f"bond:{k}": v for k, v in ref.bond_lengths.items()}
    with Path(path).open("wb") as f:  # written to a temporary path by the cache (unite_core.cache)
        np.savez(f, **arrays)


def load_reference(path: Path) -> Reference:
    with np.load(path) as f:
        elements = dict(zip(f["element_symbols"].tolist(), f["element_counts"].tolist()))
        bonds = {k.split(":", 1)[1]: f[k] for k in f.files if k.startswith("bond:")}
        return Reference(f["atom_counts"], elements, bonds)


def _tv(p: np.ndarray, q: np.ndarray) -> float:
    size = max(len(p), len(q))
    p, q = (np.pad(x, (0, size - len(x))).astype(np.float64) for x in (p, q))
    return 0.5 * float(np.abs(p / max(p.sum(), 1) - q / max(q.sum(), 1)).sum())


def wasserstein_1d(u: np.ndarray, v: np.ndarray) -> float:
    """Wasserstein-1 distance of two 1-D samples: the area between their empirical CDFs."""
    u, v = np.sort(u), np.sort(v)
    grid = np.sort(np.concatenate([u, v]))
    cdf_u = np.searchsorted(u, grid[:-1], side="right") / len(u)
    cdf_v = np.searchsorted(v, grid[:-1], side="right") / len(v)
    return float(np.sum(np.abs(cdf_u - cdf_v) * np.diff(grid)))


def compare(structures: list[Structure], bonds: np.ndarray, ref: Reference) -> DistributionScore:
    """`bonds`: the samples' EDM bonds, (k, 3) rows of (Z, Z, length)."""
    counts, elements = histograms(structures)
    symbols = sorted(set(elements) | set(ref.elements))
    element_tv = _tv(np.array([elements.get(s, 0) for s in symbols]), np.array([ref.elements.get(s, 0) for s in symbols]))
    sample = group_bonds(bonds)
    w1 = {k: wasserstein_1d(v, ref.bond_lengths[k]) for k, v in sample.items()
          if len(v) >= MIN_BONDS and k in ref.bond_lengths}
    weights = {k: len(sample[k]) for k in w1}
    mean_w1 = sum(w1[k] * weights[k] for k in w1) / sum(weights.values()) if w1 else Undefined(f"no bond type with {MIN_BONDS}+ bonds")
    return DistributionScore(_tv(counts, ref.atom_counts), element_tv, mean_w1, w1, counts.tolist(), elements)
