"""Structures padded into a torch batch for the model, and the element vocabulary that indexes them."""
from dataclasses import dataclass

import numpy as np
import torch

from unite_mol.structure import ATOMIC_NUMBER, SYMBOLS, Structure


@dataclass
class MolBatch:
    """Structures padded to the largest in the batch. `types` index the model's element vocabulary."""

    types: torch.Tensor  # (B, N) long, index into the element vocabulary (0 where padded)
    positions: torch.Tensor  # (B, N, 3) Å, zero where padded
    mask: torch.Tensor  # (B, N) bool, real atoms
    cond: torch.Tensor  # (B,) long, condition index (the dataset id)
    cells: torch.Tensor | None = None  # (B, 3, 3) Å, rows a, b, c: crystals; None for molecules

    def to(self, device: torch.device) -> "MolBatch":
        cells = None if self.cells is None else self.cells.to(device)
        return MolBatch(self.types.to(device), self.positions.to(device), self.mask.to(device), self.cond.to(device), cells)

    def __len__(self) -> int:
        return self.types.shape[0]


class ElementVocab:
    """The elements a model knows, in a fixed order; maps atomic numbers to type indices and back."""

    def __init__(self, symbols: list[str]):
        unknown = [s for s in symbols if s not in ATOMIC_NUMBER]
        if unknown or not symbols:
            raise ValueError(f"data.elements: unknown element symbols {unknown or '(empty list)'}")
        self.symbols = list(symbols)
        self.numbers = np.array([ATOMIC_NUMBER[s] for s in symbols])
        self._index = np.full(len(SYMBOLS), -1)
        self._index[self.numbers] = np.arange(len(symbols))

    def __len__(self) -> int:
        return len(self.symbols)

    def encode(self, numbers: np.ndarray) -> np.ndarray:
        """Atomic numbers -> type indices; -1 for an element outside the vocabulary."""
        numbers = np.asarray(numbers)
        inside = (numbers > 0) & (numbers < len(SYMBOLS))
        return np.where(inside, self._index[np.clip(numbers, 0, len(SYMBOLS) - 1)], -1)

    def decode(self, types: np.ndarray) -> np.ndarray:
        return self.numbers[np.asarray(types)]


def collate(structures: list[Structure], vocab: ElementVocab, cond: int | list[int] = 0) -> MolBatch:
    """Structures of one kind (molecules or crystals) padded into a batch; `cond`, one dataset id or one per structure."""
    if len({s.is_crystal for s in structures}) > 1:
        raise ValueError("a batch mixes molecules and crystals; batch each kind on its own")
    n = max(len(s.numbers) for s in structures)
    B = len(structures)
    types = torch.zeros(B, n, dtype=torch.long)
    positions = torch.zeros(B, n, 3)
    mask = torch.zeros(B, n, dtype=torch.bool)
    for i, s in enumerate(structures):
        k = len(s.numbers)
        types[i, :k] = torch.from_numpy(vocab.encode(s.numbers))
        positions[i, :k] = torch.from_numpy(s.positions)
        mask[i, :k] = True
    cells = torch.from_numpy(np.stack([s.cell for s in structures])).float() if structures[0].is_crystal else None
    conds = torch.full((B,), cond, dtype=torch.long) if isinstance(cond, int) else torch.as_tensor(cond, dtype=torch.long)
    return MolBatch(types, positions, mask, conds, cells)
