"""Crystals the crystal tests share: hand-built rock salt and its copies, and rows of the CDVAE CSVs in ../shared/data."""
import csv
import sys
from pathlib import Path

import numpy as np

from unite_mol.data.crystals import to_pymatgen
from unite_mol.structure import Structure

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def rock_salt(a: float = 5.64) -> Structure:
    """Conventional NaCl: 4 Na + 4 Cl in a cubic cell of side `a` Å."""
    na = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]])
    frac = np.concatenate([na, na + [.5, 0, 0]]) % 1
    cell = np.eye(3) * a
    return Structure(np.array([11] * 4 + [17] * 4), (frac @ cell).astype(np.float32), cell)


def shaken_rock_salt(seed: int) -> Structure:
    """rock_salt() with 0.15 Å of noise on every coordinate and a 5 %-expanded cell: off its CHGNet minimum."""
    nacl = rock_salt()
    noise = 0.15 * np.random.default_rng(seed).standard_normal((8, 3))
    return Structure(nacl.numbers, (nacl.positions + noise).astype(np.float32), nacl.cell * 1.05)


def rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def csv_rows(path: Path, n: int) -> list[dict]:
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="") as f:
        return [row for _, row in zip(range(n), csv.DictReader(f))]


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def rock_salt_copies(nacl: Structure) -> tuple[Structure, Structure, Structure]:
    """The same crystal rotated, with every fractional coordinate translated, and as a 2x1x1 supercell."""
    R = rotation(0.7)
    rotated = Structure(nacl.numbers, (nacl.positions @ R.T).astype(np.float32), nacl.cell @ R.T)
    translated = Structure(nacl.numbers, ((nacl.fractional() + [0.13, 0.41, 0.07]) % 1 @ nacl.cell).astype(np.float32), nacl.cell)
    supercell = to_pymatgen(nacl)
    supercell.make_supercell([2, 1, 1])
    doubled = Structure(np.array([s.specie.Z for s in supercell]), supercell.cart_coords.astype(np.float32), supercell.lattice.matrix)
    return rotated, translated, doubled
