"""The training sets of a run as one dataset: a joint run (molecules and crystals, ADiT's joint model) trains one GE on
several, each with its dataset id as the condition; every batch holds one dataset (`groups`)."""
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from unite_mol.batch import ElementVocab, MolBatch, collate
from unite_mol.data.packed import StructureDataset
from unite_mol.structure import Structure


@dataclass
class Labelled:
    structure: Structure
    cond: int  # its condition: the dataset id, or (condition=formula) its formula's index


class JointDataset(Dataset):
    """The sets end to end, set k `repeats[k]` times over; item i is a structure with its condition: `conds[k]`, the
    set's dataset id, or one condition per structure of the set (condition=formula: its formula's index)."""

    def __init__(self, sets: list[StructureDataset], conds: list[int | np.ndarray], repeats: list[int]):
        if not (len(sets) == len(conds) == len(repeats)) or min(repeats) < 1:
            raise ValueError(f"{len(sets)} datasets need as many conditions and repeats >= 1 (got {len(conds)}, {repeats})")
        self.sets = sets
        self.groups = torch.cat([torch.full((len(s) * r,), k) for k, (s, r) in enumerate(zip(sets, repeats))])  # (M,) set
        self.index = torch.cat([torch.arange(len(s)).repeat(r) for s, r in zip(sets, repeats)])  # (M,) row in its set
        self.sizes = torch.cat([torch.as_tensor(s.sizes).repeat(r) for s, r in zip(sets, repeats)])  # (M,) atoms
        per_set = [torch.tensor(np.broadcast_to(c, len(s))) for s, c in zip(sets, conds)]  # a copy: broadcasts are read-only
        self.conds = torch.cat([c.repeat(r) for c, r in zip(per_set, repeats)])  # (M,) condition

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> Labelled:
        return Labelled(self.sets[int(self.groups[i])][int(self.index[i])], int(self.conds[i]))


def collate_labelled(items: list[Labelled], vocab: ElementVocab) -> MolBatch:
    """Labelled structures (one kind) -> a batch of their conditions."""
    return collate([x.structure for x in items], vocab, [x.cond for x in items])
