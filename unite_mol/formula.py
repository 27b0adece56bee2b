"""Composition as the condition (`condition=formula`): each training formula is one class of the GE's condition, and
sampling draws a formula from the training histogram, as it otherwise draws an atom count."""
import json
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
import torch

from unite_mol.data.packed import StructureDataset
from unite_mol.structure import ATOMIC_NUMBER, SYMBOLS

FORMULAS_FILE = "formulas.json"  # in a run folder: the training formulas (condition k is the k-th) and their counts
_TERM = re.compile(r"([A-Z][a-z]?)(\d*)")


class Condition(str, Enum):
    """What the GE's class condition tells it: the dataset (its id), or the structure's formula."""

    dataset = "dataset"
    formula = "formula"


def hill(counts: dict[int, int]) -> str:
    """Hill notation of {atomic number: atoms}: C, then H, then the rest alphabetically (no carbon: all
    alphabetically), e.g. C7H10O2."""
    symbols = {SYMBOLS[z]: n for z, n in counts.items() if n}
    first = ["C", "H"] if "C" in symbols else []
    order = [s for s in first if s in symbols] + sorted(s for s in symbols if s not in first)
    return "".join(s if symbols[s] == 1 else f"{s}{symbols[s]}" for s in order)


def parse_formula(text: str) -> dict[int, int]:
    """'C7H10O2' (any order, an element at most once) -> {6: 7, 1: 10, 8: 2}; anything else is a one-line error."""
    terms = _TERM.findall(text)
    if not text or "".join(s + n for s, n in terms) != text:
        raise ValueError(f"formula {text!r}: want element symbols with counts, e.g. C7H10O2")
    counts: dict[int, int] = {}
    for symbol, n in terms:
        if symbol not in ATOMIC_NUMBER or ATOMIC_NUMBER[symbol] in counts or int(n or 1) < 1:
            raise ValueError(f"formula {text!r}: {symbol}{n} is not an element with a count >= 1 given once")
        counts[ATOMIC_NUMBER[symbol]] = int(n or 1)
    return counts


@dataclass
class Formulas:
    """A formula-conditioned model's condition vocabulary: condition k is `names[k]`, seen `counts[k]` times in training."""

    names: list[str]  # Hill formulas, most common first
    counts: list[int]

    @classmethod
    def of(cls, train: StructureDataset) -> tuple["Formulas", np.ndarray]:
        """The training set's formulas, and each structure's condition (its formula's index)."""
        packed = train.packed
        elements, column = np.unique(packed.numbers, return_inverse=True)  # (E,) atomic numbers present, (A,) each atom's
        owner = np.repeat(np.arange(len(packed)), packed.sizes)  # (A,) the structure of each atom
        table = np.zeros((len(packed), len(elements)), np.int64)  # (M, E) atoms of each element in each structure
        np.add.at(table, (owner, column.reshape(-1)), 1)
        unique, inverse, counts = np.unique(table[train.indices], axis=0, return_inverse=True, return_counts=True)
        names = [hill(dict(zip(elements.tolist(), row.tolist()))) for row in unique]
        order = sorted(range(len(names)), key=lambda k: (-counts[k], names[k]))
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        return cls([names[k] for k in order], [int(counts[k]) for k in order]), rank[inverse.reshape(-1)]

    def __len__(self) -> int:
        return len(self.names)

    def atoms(self) -> torch.Tensor:
        """(F,) atoms in each formula."""
        return torch.tensor([sum(parse_formula(name).values()) for name in self.names])

    def index(self, formula: str) -> int:
        """The condition of `formula` (any element order: C7H10O2 = H10C7O2); a formula not trained on is a one-line error."""
        name = hill(parse_formula(formula))
        if name not in self.names:
            raise ValueError(f"formula {formula}: not one of the model's {len(self)} training formulas (most common: "
                             f"{', '.join(self.names[:3])})")
        return self.names.index(name)

    def to_dict(self) -> dict[str, list]:
        return {"names": self.names, "counts": self.counts}

    def save(self, run_dir: Path) -> None:
        from unite_core.io import write_text_atomic

        write_text_atomic(run_dir / FORMULAS_FILE, json.dumps(self.to_dict()) + "\n")

    @classmethod
    def load(cls, run_dir: Path) -> "Formulas":
        file = run_dir / FORMULAS_FILE
        if not file.is_file():
            raise FileNotFoundError(f"{file}: a condition=formula run keeps its training formulas here; it is missing")
        return cls(**json.loads(file.read_text()))
