"""The training sets of a run as one dataset: a joint run (molecules and crystals, ADiT's joint model) trains one GE on
several, each with its dataset id as the condition; every batch holds one dataset (`groups`)."""
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from unite_mol.batch import ElementVocab, MolBatch, collate
from unite_mol.data.packed import StructureDataset
from unite_mol.structure import Structure


@dataclass
class Labelled:
    structure: Structure
    cond: int  # the dataset id


class JointDataset(Dataset):
    """The sets end to end, set k `repeats[k]` times over; item i is a structure with its set's dataset id."""

    def __init__(self, sets: list[StructureDataset], ids: list[int], repeats: list[int]):
        if not (len(sets) == len(ids) == len(repeats)) or min(repeats) < 1:
            raise ValueError(f"{len(sets)} datasets need as many ids and repeats >= 1 (got {ids}, {repeats})")
        self.sets, self.ids = sets, ids
        self.groups = torch.cat([torch.full((len(s) * r,), k) for k, (s, r) in enumerate(zip(sets, repeats))])  # (M,) set
        self.index = torch.cat([torch.arange(len(s)).repeat(r) for s, r in zip(sets, repeats)])  # (M,) row in its set
        self.sizes = torch.cat([torch.as_tensor(s.sizes).repeat(r) for s, r in zip(sets, repeats)])  # (M,) atoms

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> Labelled:
        k = int(self.groups[i])
        return Labelled(self.sets[k][int(self.index[i])], self.ids[k])


def collate_labelled(items: list[Labelled], vocab: ElementVocab) -> MolBatch:
    """Labelled structures (one kind) -> a batch whose condition is each structure's dataset id."""
    return collate([x.structure for x in items], vocab, [x.cond for x in items])
