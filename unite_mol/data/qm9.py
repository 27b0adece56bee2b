"""QM9 with explicit hydrogens from the PyPI package `qm9pack` (130,831 molecules, XYZ in Å).

Parsed once into `<cache>/qm9.pt` (a self-healing cache: checked against its digest on every load); the split
(100,000 / 18,000 / rest, fixed seed) is written once to `<cache>/qm9_split.npz` and checked against a digest
so it can never silently change; the training atom-count histogram and the training SMILES (RDKit canonical,
no stereo) are written beside it, also self-healing.
"""
import hashlib
import importlib.util
import json
import warnings
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from unite_core.cache import cached
from unite_core.io import atomic_path
from unite_mol.data.packed import Packed
from unite_mol.structure import ATOMIC_NUMBER, Structure

QM9_SIZE = 130_831
SPLIT_SIZES = (100_000, 18_000)  # train, val; test is the rest
SPLIT_SEED = 42
SPLIT_DIGEST = "51b74dac2750327c"  # sha256 prefix of the three index arrays


@dataclass
class QM9:
    packed: Packed  # all molecules, centred, in the dataset's order (gdb index 1..130,831)
    smiles: list[str]  # the dataset's own SMILES, per molecule
    split: dict[str, np.ndarray]  # "train" / "val" / "test" -> indices into packed


def qm9_csv_files() -> list[Path]:
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("QM9 comes from the PyPI package qm9pack, which is not installed (pip install 'unite[mol]')")
    folder = Path(spec.submodule_search_locations[0]) / "data"  # importing qm9pack itself needs pkg_resources
    files = sorted(folder.glob("qm9_part*.csv"))
    if not files:
        raise FileNotFoundError(f"{folder}: no qm9_part*.csv files in the qm9pack package")
    return files


def _parse_row(elements: str, xyz: str) -> Structure:
    symbols = [s.strip(" '\"") for s in elements.strip("[]").split(",")]
    coords = np.array(xyz.replace("*^", "e").replace("[", "").replace("]", "").split(","), dtype=np.float64)
    numbers = np.array([ATOMIC_NUMBER[s] for s in symbols])
    return Structure(numbers, coords.reshape(-1, 3).astype(np.float32)).centred()


def parse_qm9(files: list[Path]) -> tuple[Packed, list[str]]:
    import pandas as pd

    frames = [pd.read_csv(f, usecols=["Index", "SMILES", "Elements", "XYZ_Ang"]) for f in files]
    table = pd.concat(frames).sort_values("Index")
    if len(table) != QM9_SIZE:
        raise ValueError(f"qm9pack: expected {QM9_SIZE} molecules, found {len(table)}")
    rows = zip(table["Elements"], table["XYZ_Ang"])
    structures = [_parse_row(e, x) for e, x in tqdm(rows, total=len(table), desc="parsing QM9", unit="mol", leave=False)]
    return Packed.from_structures(structures), list(table["SMILES"])


def make_split(size: int) -> dict[str, np.ndarray]:
    order = np.random.default_rng(SPLIT_SEED).permutation(size)
    a, b = SPLIT_SIZES[0], SPLIT_SIZES[0] + SPLIT_SIZES[1]
    return {"train": np.sort(order[:a]), "val": np.sort(order[a:b]), "test": np.sort(order[b:])}


def split_digest(split: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in ("train", "val", "test"):
        h.update(split[name].astype(np.int64).tobytes())
    return h.hexdigest()[:16]


def _write_packed(tmp: Path) -> None:
    packed, smiles = parse_qm9(qm9_csv_files())
    torch.save({**packed.to_state(), "smiles": smiles}, tmp)


def _read_packed(path: Path) -> tuple[Packed, list[str]]:
    state = torch.load(path, weights_only=True)
    packed = Packed.from_state(state)
    if len(packed) != QM9_SIZE or len(state["smiles"]) != QM9_SIZE:
        raise ValueError(f"{len(packed)} molecules, not {QM9_SIZE}")
    return packed, state["smiles"]


def _load_split(split_file: Path, size: int) -> dict[str, np.ndarray]:
    """The fixed split: written once; an unreadable file is rewritten (the rewrite is checked against the
    published digest), a readable but different one is an error, never silently replaced."""
    try:
        with np.load(split_file) as f:
            split = {k: f[k] for k in ("train", "val", "test")}
    except FileNotFoundError:
        split = None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        warnings.warn(f"{split_file} is unreadable ({type(err).__name__}); rewriting the fixed split", stacklevel=3)
        split = None
    if split is None:
        split = make_split(size)
        if split_digest(split) != SPLIT_DIGEST:
            raise RuntimeError(f"the QM9 split drawn with seed {SPLIT_SEED} differs from the published one (digest {split_digest(split)})")
        with atomic_path(split_file) as tmp, tmp.open("wb") as f:
            np.savez(f, **split)
    if split_digest(split) != SPLIT_DIGEST:
        raise ValueError(f"{split_file}: not the fixed QM9 split (digest {split_digest(split)}); delete it to rewrite it")
    return split


def load_qm9(cache: Path) -> QM9:
    """QM9 from the cache (checked on every load), building it (about 10 s) and the split file on first use."""
    cache = Path(cache)
    packed, smiles = cached(cache / "qm9.pt", _write_packed, _read_packed, "the qm9pack package")
    return QM9(packed, smiles, _load_split(cache / "qm9_split.npz", len(packed)))


def write_train_smiles(qm9: QM9, tmp: Path) -> None:
    """The training split's SMILES, RDKit canonical without stereo, sorted, one per line (for novelty)."""
    from unite_mol.chem import canonical_smiles

    canon = (canonical_smiles(qm9.smiles[i]) for i in qm9.split["train"])
    tmp.write_text("\n".join(sorted({s for s in canon if s})) + "\n")


def _read_histogram(path: Path) -> Path:
    counts = json.loads(path.read_text())
    if not (isinstance(counts, list) and all(isinstance(c, int) for c in counts)):
        raise ValueError("not a list of counts")
    return path


def write_train_reference(qm9: QM9, cache: Path) -> tuple[Path, Path]:
    """Once (and again whenever broken): the training atom-count histogram (JSON) and training SMILES file."""
    histogram = np.bincount(qm9.packed.sizes[qm9.split["train"]]).tolist()
    hist_file = cached(Path(cache) / "qm9_train_atom_counts.json", lambda tmp: tmp.write_text(json.dumps(histogram)),
                       _read_histogram, "the QM9 training split")
    smiles_file = cached(Path(cache) / "qm9_train_smiles.txt", partial(write_train_smiles, qm9), Path, "the QM9 training split")
    return hist_file, smiles_file
