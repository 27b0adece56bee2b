"""One structure (atomic numbers + positions in Å) and the periodic-table symbols; numpy only, no torch."""
from dataclasses import dataclass

import numpy as np

SYMBOLS = (
    "X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar",
    "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf",
    "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn",
)  # index = atomic number
ATOMIC_NUMBER = {s: z for z, s in enumerate(SYMBOLS) if z}


@dataclass
class Structure:
    """One molecule: atomic numbers (n,) and Cartesian positions (n, 3) in Å."""

    numbers: np.ndarray  # (n,) int
    positions: np.ndarray  # (n, 3) float32, Å

    def __post_init__(self):
        if self.numbers.ndim != 1 or self.positions.shape != (len(self.numbers), 3):
            raise ValueError(f"structure: numbers {self.numbers.shape} and positions {self.positions.shape} do not match")

    @property
    def symbols(self) -> list[str]:
        return [SYMBOLS[z] for z in self.numbers]

    def centred(self) -> "Structure":
        return Structure(self.numbers, (self.positions - self.positions.mean(0)).astype(np.float32))

