"""`evaluate_files`: every protocol over the molecules of some files, each protocol timed, on all cores."""
import multiprocessing
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from unite_mol.evaluate.checks import CHECKS, Protocol
from unite_mol.evaluate.distribution import DistributionScore, Reference, compare
from unite_mol.evaluate.inputs import Entry, read_entries
from unite_mol.evaluate.matching import MatchScore, match_pair, score_matches
from unite_mol.evaluate.posebusters import PoseBustersScore, bust_chunk, score_posebusters
from unite_mol.evaluate.reference import TrainSet, qm9_reference, read_smiles
from unite_mol.evaluate.scores import BabelScore, EdmScore, NativeScore, score_babel, score_edm, score_native

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


class _Pool:
    """map() over chunks in worker processes (serially for one worker), with a progress bar."""

    def __init__(self, workers: int):
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.workers = workers
        self.pool = ctx.Pool(workers) if workers > 1 else None

    def map(self, fn: Callable, items: list, label: str, chunks_per_worker: int = 8) -> list:
        size = max(1, -(-len(items) // (self.workers * chunks_per_worker)))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        mapped = self.pool.imap(fn, chunks) if self.pool else map(fn, chunks)
        return [r for part in tqdm(mapped, total=len(chunks), desc=label, unit="chunk", leave=False) for r in part]

    def close(self) -> None:
        if self.pool:
            self.pool.close()
            self.pool.join()


class _Chunked:
    """Picklable `lambda chunk: [fn(x) for x in chunk]`."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, chunk: list) -> list:
        return [self.fn(x) for x in chunk]


def _scatter(results: list, entries: list[Entry]) -> list:
    """Results for the readable entries -> one per entry, None for unreadable ones."""
    it = iter(results)
    return [next(it) if e.structure is not None else None for e in entries]


def evaluate_entries(entries: list[Entry], inputs: list[str], options: EvalOptions) -> Evaluation:
    structures = [e.structure for e in entries if e.structure is not None]
    bad = [e for e in entries if e.structure is None]
    reference, train = _training_reference(options)
    out = Evaluation(inputs, len(entries), {}, [e.message for e in bad[:5]], _novelty_source(options), versions=software_versions())
    for e in bad:
        out.unreadable[e.defect] = out.unreadable.get(e.defect, 0) + 1
    pool = _Pool(options.workers)
    try:
        timed: dict[Protocol, Any] = {}
        for protocol in [p for p in Protocol if p in options.protocols and p is not Protocol.posebusters]:
            start = time.perf_counter()
            checks = pool.map(_Chunked(CHECKS[protocol]), structures, protocol.value)
            timed[protocol] = _scatter(checks, entries)
            out.seconds[protocol.value] = time.perf_counter() - start
        if Protocol.edm in timed:
            out.edm = score_edm(timed[Protocol.edm], train)
            if reference is not None:
                bonds = [c.bonds for c in timed[Protocol.edm] if c is not None]
                out.distribution = compare(structures, np.concatenate(bonds) if bonds else np.zeros((0, 3)), reference)
        if Protocol.openbabel in timed:
            out.openbabel = score_babel(timed[Protocol.openbabel], train)
        if Protocol.rdkit in timed:
            out.rdkit = score_native(timed[Protocol.rdkit], train)
        if Protocol.posebusters in options.protocols:
            out.posebusters = _posebusters(pool, structures, timed.get(Protocol.openbabel), options.posebusters_limit, out.seconds)
        if options.reference is not None:
            start = time.perf_counter()
            originals = read_entries(options.reference)
            if len(originals) != len(entries):
                raise ValueError(f"--reference has {len(originals)} molecules but the evaluated files have {len(entries)}")
            pairs = [(e.structure, o.structure) for e, o in zip(entries, originals)]
            out.reconstruction = score_matches(pool.map(_Chunked(match_pair), pairs, "reconstruction"))
            out.seconds["reconstruction"] = time.perf_counter() - start
    finally:
        pool.close()
    return out


def _posebusters(pool: _Pool, structures, babel_checks, limit: int, seconds: dict[str, float]) -> PoseBustersScore:
    from unite_mol.evaluate.babel import check_babel

    start = time.perf_counter()
    checks = [c for c in babel_checks if c is not None] if babel_checks is not None else None
    blocks = [c.molblock for c in checks if c.valid][:limit] if checks is not None else []
    if checks is None:  # the OpenBabel protocol was not asked for: perceive only as many molecules as needed
        for s in structures:
            c = check_babel(s)
            blocks += [c.molblock] if c.valid else []
            if len(blocks) >= limit:
                break
    frames = pool.map(_chunked_frames, blocks, "posebusters", chunks_per_worker=4) if blocks else []
    seconds["posebusters"] = time.perf_counter() - start
    return score_posebusters(frames)


def _chunked_frames(chunk: list[str]) -> list:
    return [bust_chunk(chunk)]


def _training_reference(options: EvalOptions) -> tuple[Reference | None, set[str] | None]:
    reference, smiles_file = qm9_reference(options.cache) if options.train_set is TrainSet.qm9 else (None, None)
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
