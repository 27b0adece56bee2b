"""EDM protocol: bonds from element-pair length tables, atom / molecule stability by valence, RDKit validity.

Atom stable: the sum of its bond orders is an allowed valence. Molecule stable: every atom is. Valid: RDKit sanitises
the molecule built from those bonds; its SMILES is that of the largest fragment (EDM's `compute_validity`).
"""
from dataclasses import dataclass

import numpy as np

from unite_mol.evaluate.edm_tables import ALLOWED_VALENCE, DOUBLE, MARGINS_PM, SINGLE, TRIPLE
from unite_mol.structure import ATOMIC_NUMBER, SYMBOLS, Structure


def threshold_table(table: dict[str, dict[str, int]], margin: int) -> np.ndarray:
    """(Z, Z) largest bonded distance in Å per pair of atomic numbers; -inf where the pair has no such bond."""
    out = np.full((len(SYMBOLS), len(SYMBOLS)), -np.inf)
    for a, row in table.items():
        for b, pm in row.items():
            out[ATOMIC_NUMBER[a], ATOMIC_NUMBER[b]] = out[ATOMIC_NUMBER[b], ATOMIC_NUMBER[a]] = (pm + margin) / 100
    return out


_T1, _T2, _T3 = (threshold_table(t, m) for t, m in zip((SINGLE, DOUBLE, TRIPLE), MARGINS_PM))
_VALENCE_MASK = np.zeros((len(SYMBOLS), 8), dtype=bool)  # [Z, v]: valence v allowed for element Z
for _symbol, _valences in ALLOWED_VALENCE.items():
    _VALENCE_MASK[ATOMIC_NUMBER[_symbol], _valences] = True


def distances(s: Structure) -> np.ndarray:
    return np.linalg.norm(s.positions[:, None].astype(np.float64) - s.positions[None], axis=-1)  # (n, n) Å


def bond_orders(s: Structure, d: np.ndarray | None = None) -> np.ndarray:
    """(n, n) EDM bond order (0 none, 1, 2, 3): single if within the single-bond length + margin, and so on up.
    `d`: the (n, n) distances, when the caller has them."""
    d = distances(s) if d is None else d
    z = s.numbers
    pair = np.ix_(z, z)
    order = (d < _T1[pair]) * (1 + (d < _T2[pair]) * (1 + (d < _T3[pair])))
    np.fill_diagonal(order, 0)
    return order


def valences(s: Structure, d: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, n) bond orders, (n,) each atom's sum of them and (n,) whether that sum is an allowed valence (atom stable)."""
    order = bond_orders(s, d)
    valence = order.sum(1)
    return order, valence, _VALENCE_MASK[s.numbers, np.minimum(valence, _VALENCE_MASK.shape[1] - 1)]


def stable_composition(s: Structure) -> bool:
    """Whether the elements alone allow an EDM-stable molecule: each bond adds its order to two atoms, so some choice
    of allowed valences must sum to an even number (a molecule with an odd number of H, N and F atoms cannot be stable)."""
    parities = {0}
    for z in s.numbers:
        parities = {(p + v) % 2 for p in parities for v in ALLOWED_VALENCE[SYMBOLS[z]]}
    return 0 in parities


@dataclass
class EdmCheck:
    atoms: int
    stable_atoms: int
    stable_composition: bool  # the elements alone allow every atom to be stable (`stable_composition`)
    valid: bool
    smiles: str | None  # canonical SMILES (no H, no stereo) of the largest fragment, when valid
    bonds: np.ndarray  # (k, 3) float: atomic number, atomic number (smaller first), length in Å of each bond


def check_edm(s: Structure) -> EdmCheck:
    from unite_mol.chem import bonded_mol, largest_fragment_smiles

    d = distances(s)
    order, _, stable = valences(s, d)
    i, j = np.nonzero(np.triu(order))
    mol = bonded_mol(s.numbers, np.stack([i, j, order[i, j]], axis=1))
    smiles = largest_fragment_smiles(mol) if mol is not None else None
    zi, zj = s.numbers[i], s.numbers[j]
    bonds = np.stack([np.minimum(zi, zj), np.maximum(zi, zj), d[i, j]], axis=1).astype(np.float32)
    return EdmCheck(len(s.numbers), int(stable.sum()), stable_composition(s), smiles is not None, smiles, bonds)
