"""`evaluate_files`: every protocol over the molecules of some files, each protocol timed, on all cores."""
import platform
import time
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from itertools import islice
from pathlib import Path

import numpy as np

from unite_mol.evaluate.babel import BabelCheck, check_babel
from unite_mol.evaluate.checks import CHECKS, Protocol, check_native
from unite_mol.evaluate.distribution import DistributionScore, Reference, compare
from unite_mol.evaluate.inputs import Entry, read_entries
from unite_mol.evaluate.matching import MatchScore, match_pair, score_matches
from unite_mol.evaluate.pool import Chunked, WorkerPool
from unite_mol.evaluate.posebusters import PoseBustersScore, bust_chunk, score_posebusters
from unite_mol.evaluate.reference import TrainSet, qm9_reference, read_smiles
from unite_mol.evaluate.scores import BabelScore, EdmScore, NativeScore, score_babel, score_edm, score_native
from unite_mol.structure import Structure

PACKAGES = ("unite", "rdkit", "openbabel-wheel", "posebusters", "pymatgen", "numpy")


@dataclass
class EvalOptions:
    protocols: list[Protocol] = field(default_factory=lambda: list(Protocol))
    train_set: TrainSet = TrainSet.qm9  # distributions + novelty against this training split
    cache: Path = Path("data/cache")
    train_smiles: Path | None = None  # novelty against this file instead (one SMILES per line)
    reference: list[Path] | None = None  # reconstruction: the originals, in the same order as the molecules
    posebusters_limit: int = 500  # PoseBusters on the first this-many OpenBabel-valid molecules
    workers: int = 2


@dataclass
class Evaluation:
    inputs: list[str]
    molecules: int  # records read, unreadable ones included
    unreadable: dict[str, int]  # reason -> count
    first_unreadable: list[str]  # the first few reasons in full (file and record)
    novelty_against: str | None
    implicit_hydrogens: bool = False  # no molecule has a hydrogen (a heavy-atoms-only model): valences filled implicitly
    edm: EdmScore | None = None
    openbabel: BabelScore | None = None
    rdkit: NativeScore | None = None
    posebusters: PoseBustersScore | None = None
    reconstruction: MatchScore | None = None
    distribution: DistributionScore | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per protocol
    versions: dict[str, str] = field(default_factory=dict)


def software_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _scatter(results: list, entries: list[Entry]) -> list:
    """Results for the readable entries -> one per entry, None for unreadable ones."""
    it = iter(results)
    return [next(it) if e.structure is not None else None for e in entries]


def evaluate_entries(entries: list[Entry], inputs: list[str], options: EvalOptions) -> Evaluation:
    structures = [e.structure for e in entries if e.structure is not None]
    bad = [e for e in entries if e.structure is None]
    originals = read_entries(options.reference) if options.reference is not None else None
    if originals is not None and len(originals) != len(entries):
        raise ValueError(f"--reference has {len(originals)} molecules but the evaluated files have {len(entries)}")
    implicit = bool(structures) and not any((s.numbers == 1).any() for s in structures)
    reference, train = _training_reference(options, implicit)
    out = Evaluation(inputs, len(entries), {}, [e.message for e in bad[:5]], _novelty_source(options), implicit, versions=software_versions())
    for e in bad:
        out.unreadable[e.defect] = out.unreadable.get(e.defect, 0) + 1
    checks: dict[Protocol, list] = {}
    with WorkerPool(options.workers) as pool:
        for protocol in [p for p in CHECKS if p in options.protocols]:
            start = time.perf_counter()
            check = partial(check_native, implicit_hydrogens=True) if implicit and protocol is Protocol.rdkit else CHECKS[protocol]
            checks[protocol] = _scatter(pool.map(Chunked(check), structures, protocol.value), entries)
            out.seconds[protocol.value] = time.perf_counter() - start
        if Protocol.posebusters in options.protocols:
            start = time.perf_counter()
            blocks = _posebusters_inputs(structures, checks.get(Protocol.openbabel), options.posebusters_limit)
            out.posebusters = score_posebusters(pool.map(_bust, blocks, "posebusters", chunks_per_worker=4))
            out.seconds["posebusters"] = time.perf_counter() - start
        if originals is not None:
            start = time.perf_counter()
            pairs = [(e.structure, o.structure) for e, o in zip(entries, originals)]
            out.reconstruction = score_matches(pool.map(Chunked(match_pair), pairs, "reconstruction"))
            out.seconds["reconstruction"] = time.perf_counter() - start
    if Protocol.edm in checks:
        out.edm = score_edm(checks[Protocol.edm], train, implicit)
        if reference is not None:
            bonds = [c.bonds for c in checks[Protocol.edm] if c is not None]
            out.distribution = compare(structures, np.concatenate(bonds) if bonds else np.zeros((0, 3)), reference)
    if Protocol.openbabel in checks:
        out.openbabel = score_babel(checks[Protocol.openbabel], train)
    if Protocol.rdkit in checks:
        out.rdkit = score_native(checks[Protocol.rdkit], train)
    return out


def _posebusters_inputs(structures: list[Structure], babel: list[BabelCheck | None] | None, limit: int) -> list[str]:
    """Mol blocks of the first `limit` OpenBabel-valid molecules (perceiving only as many as needed if not done)."""
    found = babel if babel is not None else (check_babel(s) for s in structures)
    return list(islice((c.molblock for c in found if c is not None and c.valid), limit))


def _bust(chunk: list[str]) -> list:
    return [bust_chunk(chunk)]


def _training_reference(options: EvalOptions, implicit_hydrogens: bool) -> tuple[Reference | None, set[str] | None]:
    qm9 = options.train_set is TrainSet.qm9
    reference, smiles_file = qm9_reference(options.cache, not implicit_hydrogens) if qm9 else (None, None)
    if options.train_smiles is not None:
        return reference, read_smiles(options.train_smiles)
    return reference, read_smiles(smiles_file, canonical=True) if smiles_file is not None else None


def _novelty_source(options: EvalOptions) -> str | None:
    if options.train_smiles is not None:
        return str(options.train_smiles)
    return "QM9 training split (unite fixed split)" if options.train_set is TrainSet.qm9 else None


def evaluate_files(paths: list[str | Path], options: EvalOptions | None = None) -> Evaluation:
    """Evaluate the molecules in SDF / XYZ / extxyz files (or folders of them) under every protocol asked for."""
    return evaluate_entries(read_entries(paths), [str(p) for p in paths], options or EvalOptions())
