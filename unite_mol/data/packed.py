"""Many structures in three flat arrays: the in-memory and on-disk form of a dataset."""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from unite_mol.structure import Structure


@dataclass
class Packed:
    numbers: np.ndarray  # (A,) uint8, all atoms of all structures
    positions: np.ndarray  # (A, 3) float32, Å
    offsets: np.ndarray  # (M + 1,) int64, structure i is atoms offsets[i]:offsets[i+1]
    cells: np.ndarray | None = None  # (M, 3, 3) float64, Å: crystals' cells; None for molecules

    @classmethod
    def from_structures(cls, structures: list[Structure]) -> "Packed":
        sizes = [len(s.numbers) for s in structures]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        numbers = np.concatenate([s.numbers for s in structures]).astype(np.uint8) if structures else np.zeros(0, np.uint8)
        positions = np.concatenate([s.positions for s in structures]).astype(np.float32) if structures else np.zeros((0, 3), np.float32)
        crystals = [s.is_crystal for s in structures]
        if any(crystals) and not all(crystals):
            raise ValueError("a dataset holds either molecules or crystals, not both")
        cells = np.stack([s.cell for s in structures]) if structures and all(crystals) else None
        return cls(numbers, positions, offsets, cells)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> Structure:
        a, b = self.offsets[i], self.offsets[i + 1]
        return Structure(self.numbers[a:b].astype(np.int64), self.positions[a:b], None if self.cells is None else self.cells[i])

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def with_sites(self, sites: Callable[[Structure], tuple[np.ndarray, np.ndarray]]) -> "Packed":
        """Each structure's sites replaced by `sites(structure)`: its numbers (N,) and positions (N, 3), as many as
        before; the cells are unchanged."""
        numbers, positions = self.numbers.copy(), self.positions.copy()
        for i, (a, b) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            numbers[a:b], positions[a:b] = sites(self[i])
        return Packed(numbers, positions, self.offsets, self.cells)

    def heavy_atoms(self) -> "Packed":
        """The same molecules without their hydrogens, each centred on what is left (`Structure.heavy_atoms`)."""
        return Packed.from_structures([self[i].heavy_atoms() for i in range(len(self))])

    def to_state(self) -> dict[str, torch.Tensor]:
        return {"numbers": torch.from_numpy(self.numbers), "positions": torch.from_numpy(self.positions), "offsets": torch.from_numpy(self.offsets)}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> "Packed":
        return cls(state["numbers"].numpy(), state["positions"].numpy(), state["offsets"].numpy())


class StructureDataset(Dataset):
    """The structures `indices` of a Packed set, as `Structure` records."""

    def __init__(self, packed: Packed, indices: np.ndarray):
        self.packed, self.indices = packed, np.asarray(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Structure:
        return self.packed[int(self.indices[i])]

    @property
    def sizes(self) -> np.ndarray:
        """Atoms of each structure."""
        return self.packed.sizes[self.indices]

    def size_histogram(self) -> np.ndarray:
        """Counts of structures by atom count (index = atoms)."""
        return np.bincount(self.packed.sizes[self.indices])
