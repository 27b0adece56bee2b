"""Which structures a run trains on: the data config, and the train / val / test sets it yields."""
import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from unite_core.config import at_least
from unite_mol.data.frame import Frame, check_frame, to_frame
from unite_mol.data.origin import Origin, check_origin, to_origin
from unite_mol.data.packed import Packed, StructureDataset
from unite_mol.data.qm9 import load_qm9, write_train_reference
from unite_mol.data.site_order import SiteOrder, to_site_order
from unite_mol.formats import STRUCTURE_SUFFIXES, is_blank, is_crystal_file, read_structures
from unite_mol.batch import ElementVocab
from unite_mol.structure import SYMBOLS, Structure


class DataSource(str, Enum):
    qm9 = "qm9"  # the qm9pack molecules with the fixed split
    files = "files"  # your own SDF / XYZ / extxyz molecules (or, with data.crystal_files, CIF / POSCAR / extxyz crystals)
    crystals = "crystals"  # CDVAE-layout train.csv / val.csv / test.csv under data.path (Perov-5, Carbon-24, MP-20)


class TrainSplit(str, Enum):
    """crystals: the CSV trained on. `val` where train.csv is missing: then test.csv is also the validation set."""

    train = "train"
    val = "val"


@dataclass
class MolDataConfig:
    source: DataSource = DataSource.qm9
    path: str | None = None  # files: a folder of structure files, or one multi-record file; crystals: the CSV folder
    crystal_files: bool = False  # files: crystals (CIF / POSCAR / extxyz with a Lattice / zip of CIFs), trained periodically
    cache: str = "data/cache"  # parsed datasets, split and reference files are written here once
    elements: list[str] = field(default_factory=lambda: ["H", "C", "N", "O", "F"])
    max_atoms: int = 29  # latent slots; the largest structure the model can hold
    skip_bad: bool = False  # files: count and skip malformed records instead of stopping at the first
    holdout_fraction: float = 0.05  # files: fraction each for val and test (fixed-seed split)
    dataset_id: int = 0  # the condition index of this dataset
    train_split: TrainSplit = TrainSplit.train  # crystals: train on train.csv, or on val.csv (then validate on test.csv)
    repeat: int = 1  # a joint run: this dataset's training set comes this many times per epoch (balances a small set)
    hydrogens: bool = True  # molecules: false trains on heavy atoms only (hydrogens implicit when scored)
    frame: Frame = Frame.random  # molecules: a random rotation each step, or each in its fixed principal-axes frame
    origin: Origin = Origin.file  # crystals: the sites where the file puts them, or shifted so one site is at the origin
    site_order: SiteOrder = SiteOrder.stored  # sites as stored (crystals by atomic number), or elements reordered

    def __post_init__(self):
        at_least("data", self, 1, "max_atoms", "repeat")
        if not 0 <= self.holdout_fraction < 0.5:
            raise ValueError(f"data.holdout_fraction must lie in [0, 0.5) (each of val and test), got {self.holdout_fraction}")

    @property
    def periodic(self) -> bool:
        """Crystals (a cell, periodic neighbours, a lattice head): the CDVAE CSV datasets, or crystal files."""
        return self.source is DataSource.crystals or (self.source is DataSource.files and self.crystal_files)


@dataclass
class MolData:
    train: StructureDataset
    val: StructureDataset
    test: StructureDataset
    vocab: ElementVocab
    atom_counts: np.ndarray  # training histogram: structures by atom count (index = atoms)
    skipped: int  # malformed records skipped (files with skip_bad)


def _files_under(path: Path, crystals: bool) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"data.path={path}: no such file or folder")
    wanted = is_crystal_file if crystals else lambda p: p.suffix.lower() in STRUCTURE_SUFFIXES
    found = sorted(p for p in path.rglob("*") if p.is_file() and wanted(p) and not is_blank(p))
    if not found:
        kinds = ".cif, POSCAR, .extxyz or .zip" if crystals else ".sdf, .xyz or .extxyz (crystals: data.crystal_files=true)"
        raise FileNotFoundError(f"data.path={path}: no {kinds} files (empty ones aside)")
    return found


def _read_files(cfg: MolDataConfig, vocab: ElementVocab) -> tuple[list[Structure], int]:
    """Every usable structure under data.path (molecules centred; crystals Niggli-reduced, in canonical order)."""
    from unite_mol.data.crystals import read_crystals

    if cfg.path is None:
        raise ValueError("data.path is required with dataset=files (a folder or a structure file)")
    structures, skipped = [], 0
    for f in _files_under(Path(cfg.path), cfg.crystal_files):
        result = read_crystals(f, skip_bad=cfg.skip_bad) if cfg.crystal_files else read_structures(f, cfg.skip_bad)
        skipped += result.skipped
        for s, record in zip(result.structures, result.records):
            s = s if cfg.hydrogens else s.heavy_atoms()
            unknown = sorted({sym for sym, t in zip(s.symbols, vocab.encode(s.numbers)) if t < 0})
            problem = f"elements {unknown} not in data.elements" if unknown else None
            if len(s.numbers) > cfg.max_atoms:
                problem = f"{len(s.numbers)} atoms exceed data.max_atoms={cfg.max_atoms}"
            if not len(s.numbers):
                problem = "no heavy atoms (data.hydrogens=false)"
            if problem and not cfg.skip_bad:
                raise ValueError(f"{f}: record {record}: {problem}")
            skipped += problem is not None
            if not problem:
                structures.append(s if cfg.crystal_files else s.centred())
    if not structures:
        raise ValueError(f"data.path={cfg.path}: no usable structures ({skipped} skipped)")
    return structures, skipped


def _crystal_sets(cfg: MolDataConfig, vocab: ElementVocab) -> tuple[Packed, dict[str, np.ndarray]]:
    """train / val / test from the CDVAE CSVs; with train_split=val, val.csv is trained on and test.csv validates."""
    from unite_mol.data.crystals import load_crystal_csv

    if cfg.path is None:
        raise ValueError("data.path is required with a crystal dataset (a folder with train.csv / val.csv / test.csv)")
    files = {"train": cfg.train_split.value, "val": "val" if cfg.train_split is TrainSplit.train else "test", "test": "test"}
    parts, split, start = [], {}, 0
    for name, stem in files.items():
        csv_path = Path(cfg.path) / f"{stem}.csv"
        if not csv_path.is_file():
            hint = " (set data.train_split=val to train on val.csv)" if stem == "train" else ""
            raise FileNotFoundError(f"data.path={cfg.path}: no {stem}.csv{hint}")
        structures = load_crystal_csv(csv_path, Path(cfg.cache))
        largest = max(len(s.numbers) for s in structures)
        if largest > cfg.max_atoms:
            raise ValueError(f"{csv_path}: a crystal of {largest} atoms exceeds data.max_atoms={cfg.max_atoms}")
        unknown = sorted({sym for s in structures for sym, t in zip(s.symbols, vocab.encode(s.numbers)) if t < 0})
        if unknown:
            raise ValueError(f"{csv_path}: elements {unknown} not in data.elements")
        parts += structures
        split[name] = np.arange(start, start + len(structures))
        start += len(structures)
    return Packed.from_structures(parts), split


def load_data(cfg: MolDataConfig) -> MolData:
    vocab = ElementVocab(cfg.elements)
    if cfg.periodic and not cfg.hydrogens:
        raise ValueError("data.hydrogens=false is for molecules; crystals keep every atom")
    check_frame(cfg.frame, cfg.periodic)  # before any parsing
    check_origin(cfg.origin, cfg.periodic)
    if cfg.source is DataSource.crystals:
        (packed, split), skipped = _crystal_sets(cfg, vocab), 0
    elif cfg.source is DataSource.qm9:
        qm9 = load_qm9(Path(cfg.cache))
        write_train_reference(qm9, Path(cfg.cache))
        packed, split, skipped = qm9.packed, qm9.split, 0
        if not cfg.hydrogens:
            packed = packed.heavy_atoms()
        if packed.sizes.max() > cfg.max_atoms or (vocab.encode(packed.numbers) < 0).any():
            needed = " ".join(SYMBOLS[z] for z in np.unique(packed.numbers))
            raise ValueError(f"QM9 needs data.max_atoms >= {packed.sizes.max()} and data.elements covering {needed}")
    else:
        structures, skipped = _read_files(cfg, vocab)
        packed = Packed.from_structures(structures)
        order = np.random.default_rng(0).permutation(len(packed))
        k = int(round(cfg.holdout_fraction * len(packed)))
        split = {"val": np.sort(order[:k]), "test": np.sort(order[k : 2 * k]), "train": np.sort(order[2 * k :])}
    packed = place(packed, cfg)
    sets = {name: StructureDataset(packed, idx) for name, idx in split.items()}
    return MolData(sets["train"], sets["val"], sets["test"], vocab, sets["train"].size_histogram(), skipped)


def place(packed: Packed, cfg: MolDataConfig) -> Packed:
    """Structures as the model is trained on them (and reconstructs them): molecules in the data's frame, crystals at
    its origin and in its site order."""
    return to_site_order(to_origin(to_frame(packed, cfg.frame), cfg.origin), cfg.site_order)


ATOM_COUNTS_FILE = "atom_counts.json"  # in a run folder: each dataset's training histogram, so sampling needs no data


def save_atom_counts(run_dir: Path, parts: list[MolDataConfig], sets: list[MolData]) -> None:
    """Write each dataset's training atom-count histogram into the run folder (atomically; every rank writes the same)."""
    from unite_core.io import write_text_atomic

    histograms = {str(part.dataset_id): np.asarray(data.atom_counts).tolist() for part, data in zip(parts, sets)}
    write_text_atomic(run_dir / ATOM_COUNTS_FILE, json.dumps(histograms) + "\n")


def run_atom_counts(run_dir: Path, part: MolDataConfig) -> np.ndarray:
    """A run's training histogram for `part`: from its folder, or from the data for runs trained before it was kept."""
    file = run_dir / ATOM_COUNTS_FILE
    if file.is_file():
        return np.asarray(json.loads(file.read_text())[str(part.dataset_id)])
    return load_data(part).atom_counts
