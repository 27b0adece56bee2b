"""What samples are compared with: the QM9 training split (distributions, SMILES for novelty), built once into the
data cache, or a user's own training SMILES file."""
import functools
from enum import Enum
from pathlib import Path

import numpy as np

from unite_core.cache import cached
from unite_mol.evaluate.distribution import REFERENCE_BONDS_FROM, Reference, build_reference, load_reference, save_reference


class TrainSet(str, Enum):
    qm9 = "qm9"
    none = "none"


def read_smiles(path: Path, canonical: bool = False) -> set[str]:
    """One SMILES per line (first column); canonicalised the way the protocols write theirs unless already `canonical`."""
    from unite_mol.chem import canonical_smiles

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such training SMILES file")
    tokens = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    return set(tokens) if canonical else {s for s in map(canonical_smiles, tokens) if s}


def qm9_reference(cache: Path, hydrogens: bool = True) -> tuple[Reference, Path]:
    """The QM9 training-split reference (of its heavy atoms only, without `hydrogens`) and training SMILES file,
    written to `cache` on first use (about 30 s) and rebuilt whenever either is broken (a digest beside each)."""

    @functools.cache
    def qm9():
        from unite_mol.data.qm9 import load_qm9

        print(f"building the QM9 training reference in {cache}")
        return load_qm9(cache)

    def write_reference(tmp: Path) -> None:
        train = qm9().split["train"]
        subset = np.random.default_rng(0).choice(train, size=min(REFERENCE_BONDS_FROM, len(train)), replace=False)
        packed = qm9().packed if hydrogens else qm9().packed.heavy_atoms()
        save_reference(build_reference([packed[i] for i in train], [packed[i] for i in subset]), tmp)

    def write_smiles(tmp: Path) -> None:
        from unite_mol.data.qm9 import write_train_smiles

        write_train_smiles(qm9(), tmp)

    name = "qm9_train_reference.npz" if hydrogens else "qm9_train_reference_heavy_atoms.npz"
    reference = cached(cache / name, write_reference, load_reference, "the QM9 training split")
    return reference, cached(cache / "qm9_train_smiles.txt", write_smiles, Path, "the QM9 training split")
