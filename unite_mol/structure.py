"""One structure (atomic numbers + positions in Å, and a cell for a crystal) and the periodic-table symbols;
numpy only, no torch."""
from dataclasses import dataclass

import numpy as np

SYMBOLS = (
    "X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar",
    "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf",
    "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa",
    "U", "Np", "Pu",
)  # index = atomic number
ATOMIC_NUMBER = {s: z for z, s in enumerate(SYMBOLS) if z}


@dataclass
class Structure:
    """A molecule, or with a cell a crystal (periodic in all three directions): atomic numbers (n,) and
    Cartesian positions (n, 3) in Å."""

    numbers: np.ndarray  # (n,) int
    positions: np.ndarray  # (n, 3) float32, Å
    cell: np.ndarray | None = None  # (3, 3) float64, Å, rows are the lattice vectors a, b, c; None for a molecule

    def __post_init__(self):
        if self.numbers.ndim != 1 or self.positions.shape != (len(self.numbers), 3):
            raise ValueError(f"structure: numbers {self.numbers.shape} and positions {self.positions.shape} do not match")
        if self.cell is not None and np.shape(self.cell) != (3, 3):
            raise ValueError(f"structure: a cell is 3 x 3 lattice vectors, not {np.shape(self.cell)}")

    @property
    def is_crystal(self) -> bool:
        return self.cell is not None

    def to_pymatgen(self):
        """A crystal as a pymatgen Structure."""
        from unite_mol.data.crystals import to_pymatgen

        return to_pymatgen(self)

    def to_ase(self):
        """An ASE Atoms (periodic with the cell of a crystal)."""
        from unite_mol.data.crystals import to_ase

        return to_ase(self)

    def fractional(self) -> np.ndarray:
        """Fractional coordinates (n, 3) of a crystal's atoms (not wrapped into the cell)."""
        if self.cell is None:
            raise ValueError("a molecule has no cell, so no fractional coordinates")
        return np.linalg.solve(np.asarray(self.cell, dtype=np.float64).T, np.asarray(self.positions, dtype=np.float64).T).T

    @property
    def symbols(self) -> list[str]:
        return [SYMBOLS[z] for z in self.numbers]

    def centred(self) -> "Structure":
        return Structure(self.numbers, (self.positions - self.positions.mean(0)).astype(np.float32))

    def heavy_atoms(self) -> "Structure":
        """The molecule without its hydrogens, centred on what is left."""
        if self.cell is not None:
            raise ValueError("a crystal keeps its hydrogens (data.hydrogens=false is for molecules)")
        keep = self.numbers != 1
        heavy = Structure(self.numbers[keep], self.positions[keep])
        return heavy.centred() if keep.any() else heavy

