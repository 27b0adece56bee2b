"""The CDVAE protocol for generated crystals (also DiffCSP, FlowMM, ADiT, UNITE), computed here from its
definitions (pymatgen + smact), with uniqueness and novelty bucketed by reduced composition.

- structural validity: every pair of distinct sites at least 0.5 Å apart (minimum image) and a volume of
  at least 0.1 Å³;
- compositional validity (smact, `smact14` oxidation states as CDVAE's pinned smact): counts over their gcd;
  one element, or all metals (alloy), is valid; otherwise some oxidation-state assignment must be charge
  neutral and pass the Pauling electronegativity test;
- valid = both; uniqueness (over valid) and novelty (valid not matched by any training crystal) with
  StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3), comparing only crystals of one reduced composition (its `fit`
  answered by `crystal_fit`: the same answers, compiled, 8x sooner on 2,000 Carbon-24 samples);
- property EMDs against the test crystals: density (g/cm³) and number of elements, on the first 1,000 valid (and on
  each further disjoint 1,000, to show how much one block of 1,000 varies).
Coverage (COV-R / COV-P, CrystalNN + Magpie fingerprints from matminer): `coverage`, when asked for with a dataset's
cut-offs. Reconstruction against references: `crystal_matching`.
"""
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from unite_core.jsonio import Undefined
from unite_mol.evaluate.crystal_fit import ANGLE_TOL, LTOL, STOL
from unite_mol.evaluate.pool import Chunked, WorkerPool
from unite_mol.evaluate.stability import BARELY_MOVES, FMAX, StabilityScore
from unite_mol.structure import SYMBOLS, Structure

if TYPE_CHECKING:
    from pymatgen.core import Structure as PymatgenStructure

    from unite_mol.evaluate.coverage import CoverageCutoffs, CoverageScore
    from unite_mol.evaluate.crystal_matching import CrystalMatchScore

MATCHER = dict(stol=STOL, angle_tol=ANGLE_TOL, ltol=LTOL)
MIN_DISTANCE, MIN_VOLUME = 0.5, 0.1  # Å, Å³ (the loader rejects training crystals closer than MIN_DISTANCE too)
EMD_SAMPLES = 1000


@dataclass
class CrystalCheck:
    structural: bool
    compositional: bool

    @property
    def valid(self) -> bool:
        return self.structural and self.compositional


def structurally_valid(s: Structure) -> bool:
    from unite_mol.data.crystals import to_pymatgen

    if s.cell is None or not (np.isfinite(s.cell).all() and np.isfinite(s.positions).all()):
        return False
    volume = abs(float(np.linalg.det(s.cell)))
    if volume < MIN_VOLUME:
        return False
    if len(s.numbers) < 2:
        return True
    d = to_pymatgen(s).distance_matrix + np.eye(len(s.numbers)) * (MIN_DISTANCE + 10)
    return bool(d.min() >= MIN_DISTANCE)


def compositionally_valid(numbers: np.ndarray) -> bool:
    from pymatgen.core import Composition
    from smact.screening import smact_validity

    counts = _counts(numbers)
    divisor = gcd(*counts.values())
    return bool(smact_validity(Composition({el: c // divisor for el, c in counts.items()}), oxidation_states_set="smact14"))


def check_crystal(s: Structure) -> CrystalCheck:
    return CrystalCheck(structurally_valid(s), compositionally_valid(s.numbers))


def by_composition(structures: list[Structure], sites: bool = False) -> dict[tuple[str, int], list[int]]:
    """Indices by reduced formula (and, with `sites`, by number of sites: crystals matched without reducing them first
    and without supercells cannot match across site counts, which on Carbon-24 leaves 40 % of the pairs to compare)."""
    from pymatgen.core import Composition

    buckets: dict[tuple[str, int], list[int]] = {}
    for i, s in enumerate(structures):
        key = (Composition(_counts(s.numbers)).reduced_formula, len(s.numbers) if sites else 0)
        buckets.setdefault(key, []).append(i)
    return buckets


def _counts(numbers: np.ndarray) -> dict[str, int]:
    elements, counts = np.unique(numbers, return_counts=True)
    return {SYMBOLS[z]: int(c) for z, c in zip(elements, counts)}


def reduced_cell(s: Structure) -> "PymatgenStructure":
    """The Niggli-reduced primitive cell that StructureMatcher.group_structures compares (pymatgen's private helper that
    group_structures itself calls, so the cells are the same)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from unite_mol.data.crystals import to_pymatgen

    return StructureMatcher._get_reduced_structure(to_pymatgen(s), primitive_cell=True, niggli=True)


def by_primitive_cell(cells: list["PymatgenStructure"]) -> dict[tuple[str, int], list["PymatgenStructure"]]:
    """Reduced cells by reduced formula and number of sites: the buckets uniqueness matches within."""
    buckets: dict[tuple[str, int], list] = {}
    for r in cells:
        buckets.setdefault((r.composition.reduced_formula, len(r)), []).append(r)
    return buckets


def _group_count(bucket: list["PymatgenStructure"]) -> int:
    """Distinct crystals among reduced crystals, grouped as StructureMatcher.group_structures groups them: the first
    unmatched crystal takes every later one that fits it, until none is left (`crystal_fit`: the matcher's answer)."""
    from unite_mol.evaluate.crystal_fit import Cell, Cells, Reference

    cells, groups = Cells.of([Cell.of(s) for s in bucket]), 0
    while len(cells):
        rest = cells.take(slice(1, None))
        cells = rest.take(~Reference(cells.cell(0)).fits_each(rest))
        groups += 1
    return groups


def _novel_in(task: tuple[list[Structure], list[Structure]]) -> int:
    """How many of `mine` match none of `known` (crystals of one reduced composition)."""
    from unite_mol.data.crystals import to_pymatgen
    from unite_mol.evaluate.crystal_fit import Cell, Cells, Reference

    mine, known = task
    if not known:
        return len(mine)
    known_cells = Cells.of([Cell.of(to_pymatgen(k)) for k in known])
    return sum(not Reference(Cell.of(to_pymatgen(s))).fits_any(known_cells) for s in mine)


def unique_groups(structures: list[Structure], workers: int = 1,
                  group_count: Callable[[list["PymatgenStructure"]], int] = _group_count) -> int:
    """How many distinct crystals: StructureMatcher.group_structures' groups, matched within buckets of one reduced
    formula and one primitive-cell size. Crystals that differ in either never fit (without supercells the matcher maps
    sites one to one), so the groups are the same. On Carbon-24, where every crystal has the formula C, that splits one
    bucket into several, shared by the workers, largest first; a crystal alone with its formula is not reduced.
    `group_count` counts one bucket's groups (a module-level function: workers receive it by name)."""
    by_formula = [[structures[i] for i in members] for members in by_composition(structures).values()]
    shared = [s for bucket in by_formula if len(bucket) > 1 for s in bucket]
    with WorkerPool(workers) as pool:
        buckets = by_primitive_cell(pool.map(Chunked(reduced_cell), shared, "primitive cells"))
        matched = pool.map(Chunked(group_count), sorted(buckets.values(), key=len, reverse=True), "uniqueness")
    return sum(len(bucket) == 1 for bucket in by_formula) + sum(matched)


def novel_count(structures: list[Structure], train: list[Structure], workers: int = 1,
                novel_in: Callable[[tuple[list[Structure], list[Structure]]], int] = _novel_in) -> int:
    """How many of `structures` match no training crystal of the same reduced composition and number of sites. As the
    peers' scripts, without reducing either structure first, so a supercell of a training crystal counts as novel.
    `novel_in` counts one bucket's novel crystals (a module-level function: workers receive it by name)."""
    reference = by_composition(train, sites=True)
    tasks = [([structures[i] for i in members], [train[j] for j in reference.get(key, [])])
             for key, members in by_composition(structures, sites=True).items()]
    with WorkerPool(workers) as pool:
        return sum(pool.map(Chunked(novel_in), tasks, "novelty"))


def density(s: Structure) -> float:
    """g/cm³."""
    from pymatgen.core import Element

    mass = sum(Element.from_Z(int(z)).atomic_mass for z in s.numbers)  # amu
    return float(mass * 1.66053906660 / abs(np.linalg.det(s.cell)))


@dataclass
class CrystalScore:
    samples: int
    structural_validity: float
    compositional_validity: float
    validity: float
    uniqueness: float  # distinct / valid
    novelty: float  # novel / valid, against the training crystals
    density_emd: float  # g/cm³, first 1,000 valid vs the test crystals (CDVAE's figure)
    elements_emd: float  # number of elements, same
    density_emd_blocks: list[float]  # each disjoint 1,000 valid in turn, the first included (empty: no figure)
    elements_emd_blocks: list[float]


def score_crystals(structures: list[Structure], checks: list[CrystalCheck], train: list[Structure] | None,
                   test: list[Structure] | None, unreadable: int = 0, workers: int = 1) -> CrystalScore:
    """`unreadable` records count as crystals that fail every check; matching runs in `workers` processes."""
    n = len(structures) + unreadable
    valid = [s for s, c in zip(structures, checks) if c.valid]
    ratio = lambda a, b, over: a / b if b else Undefined(f"no {over}")  # noqa: E731
    uniqueness = ratio(unique_groups(valid, workers), len(valid), "valid crystals")
    novelty = Undefined("no training crystals given")
    if train is not None:
        novelty = ratio(novel_count(valid, train, workers), len(valid), "valid crystals")
    d_blocks, e_blocks = property_emds(valid, test) if test is not None else ([], [])
    missing = Undefined("no valid crystals" if test is not None else "no test crystals given")
    return CrystalScore(n, ratio(sum(c.structural for c in checks), n, "crystals"), ratio(sum(c.compositional for c in checks), n, "crystals"),
                        ratio(len(valid), n, "crystals"), uniqueness, novelty, d_blocks[0] if d_blocks else missing,
                        e_blocks[0] if e_blocks else missing, d_blocks, e_blocks)


def property_emds(valid: list[Structure], test: list[Structure]) -> tuple[list[float], list[float]]:
    """Density and element-count EMDs against the test crystals of the first EMD_SAMPLES valid crystals (CDVAE's figure;
    all of them if fewer), then of each further disjoint block of EMD_SAMPLES: one block of 1,000 is a noisy estimate,
    and the blocks show how noisy (empty lists without valid crystals)."""
    from scipy.stats import wasserstein_distance

    def elements(group: list[Structure]) -> list[int]:
        return [len(set(s.numbers.tolist())) for s in group]

    count = max(len(valid) // EMD_SAMPLES, 1) if valid else 0  # whole blocks; fewer than EMD_SAMPLES valid make one
    blocks = [valid[k * EMD_SAMPLES : (k + 1) * EMD_SAMPLES] for k in range(count)]
    test_density, test_elements = [density(s) for s in test], elements(test)
    return ([wasserstein_distance([density(s) for s in b], test_density) for b in blocks],
            [wasserstein_distance(elements(b), test_elements) for b in blocks])


@dataclass
class CrystalEvaluation:
    inputs: list[str]
    crystals: int
    skipped: int  # unreadable records passed over
    train: str | None  # what novelty is measured against
    test: str | None  # what the property EMDs (and coverage) are measured against
    cdvae: CrystalScore
    coverage: "CoverageScore | None"  # COV-R / COV-P against the test crystals (None: not asked)
    stability: StabilityScore | None  # CHGNet relaxation of the first `relax_n` valid crystals (None: not asked)
    reference: list[str] | None  # reconstruction: the originals, in the same order as the crystals
    reconstruction: "CrystalMatchScore | None"
    seconds: float


def evaluate_crystal_files(paths: list[str], train: str | None, test: str | None, workers: int = 2, relax_n: int = 0,
                           relax_steps: int = 200, reference: list[str] | None = None,
                           coverage_cutoffs: "CoverageCutoffs | None" = None, cache: Path = Path("data/cache")) -> CrystalEvaluation:
    """Every crystal in `paths` (CDVAE CSV, CIF / POSCAR files or folders, extxyz) under the CDVAE protocol; with
    `relax_n` > 0 the CHGNet stability check of the first `relax_n` valid ones; with `reference` the reconstruction
    match rate against the crystal at the same position there; with `coverage_cutoffs` COV-R / COV-P against `test`
    (whose fingerprints are kept in `cache`)."""
    import time

    from unite_mol.data.crystals import crystal_records_read_by, read_crystals
    from unite_mol.evaluate.coverage import coverage, featurizers, fingerprint, reference_fingerprints
    from unite_mol.evaluate.crystal_matching import match_crystal_pair, score_crystal_matches
    from unite_mol.evaluate.stability import RelaxTask, relax_crystal, score_stability  # torch, chgnet: only when asked
    from unite_mol.formats import BadRecord

    if coverage_cutoffs is not None:
        if test is None:
            raise ValueError("coverage (COV-R / COV-P) needs the test crystals (--test)")
        featurizers()  # matminer missing: say so before any work
    start = time.perf_counter()
    with WorkerPool(workers) as pool:
        read = lambda paths: [None if isinstance(r, BadRecord) else r  # noqa: E731
                              for path in paths for r in crystal_records_read_by(pool, path, check=False)]
        records = read(paths)
        structures = [s for s in records if s is not None]  # unreadable records are scored as invalid, not skipped
        originals = None
        if reference is not None:
            originals = read(reference)
            if len(originals) != len(records):
                raise ValueError(f"--reference {' '.join(reference)} has {len(originals)} crystals but the evaluated files "
                                 f"have {len(records)}")
        known = lambda p: read_crystals(p, skip_bad=True, pool=pool).structures if p else None  # noqa: E731
        trains, tests = known(train), known(test)  # a missing or empty --train / --test stops before any work
        checks = pool.map(Chunked(check_crystal), structures, "CDVAE validity")
        rms = None if originals is None else pool.map(Chunked(match_crystal_pair), list(zip(records, originals)), "reconstruction")
    skipped = len(records) - len(structures)
    score = score_crystals(structures, checks, trains, tests, skipped, workers)
    cover = None
    if coverage_cutoffs is not None:
        with WorkerPool(workers) as pool:
            made = pool.map(Chunked(fingerprint), structures, "fingerprints (generated)")
            reference_fps = reference_fingerprints(Path(test), lambda: pool.map(Chunked(fingerprint), tests, "fingerprints (test)"), cache)
        cover = coverage(made + [None] * skipped, reference_fps, coverage_cutoffs)  # unreadable records: no fingerprint
    reconstruction = None
    if rms is not None:
        valid = np.zeros(len(records), dtype=bool)
        valid[[i for i, s in enumerate(records) if s is not None]] = [c.valid for c in checks]
        reconstruction = score_crystal_matches(rms, valid.tolist())
    stability = None
    if relax_n:
        valid_first = [s for s, c in zip(structures, checks) if c.valid][:relax_n]
        with WorkerPool(workers) as pool:
            relaxed = pool.map(Chunked(relax_crystal), [RelaxTask(s, relax_steps) for s in valid_first], "CHGNet relaxation")
        stability = score_stability(relaxed)
    return CrystalEvaluation(list(paths), len(records), skipped, train, test, score, cover, stability, reference, reconstruction,
                             time.perf_counter() - start)


def crystal_table(ev: CrystalEvaluation) -> str:
    s = ev.cdvae
    pct = lambda v: "n/a" if v != v else f"{100 * v:.2f}"  # noqa: E731  (NaN: Undefined)
    num = lambda v: "n/a" if v != v else f"{v:.4f}"  # noqa: E731
    rows = [("structural validity %", pct(s.structural_validity)), ("compositional validity %", pct(s.compositional_validity)),
            ("overall validity %", pct(s.validity)), ("uniqueness % (of valid)", pct(s.uniqueness)),
            (f"novelty % (of valid; vs {ev.train or 'nothing'})", pct(s.novelty)),
            (f"EMD density g/cm³ (vs {ev.test or 'nothing'})", num(s.density_emd)), ("EMD number of elements", num(s.elements_emd))]
    if len(s.density_emd_blocks) > 1:
        spread = lambda v: f"{np.mean(v):.4f} ± {np.std(v, ddof=1):.4f}"  # noqa: E731
        rows += [(f"EMD density, mean ± sd over {len(s.density_emd_blocks)} blocks of {EMD_SAMPLES}", spread(s.density_emd_blocks)),
                 (f"EMD number of elements, over {len(s.elements_emd_blocks)} blocks", spread(s.elements_emd_blocks))]
    if ev.coverage is not None:
        c = ev.coverage
        rows += [("COV-R % (test crystals recalled)", pct(c.recall)), ("COV-P % (generated crystals precise)", pct(c.precision)),
                 ("AMSD-R / AMSD-P (structure fingerprint distance)", f"{c.structure_recall_distance:.4f} / {c.structure_precision_distance:.4f}"),
                 ("AMCD-R / AMCD-P (composition fingerprint distance)", f"{c.composition_recall_distance:.3f} / {c.composition_precision_distance:.3f}"),
                 ("crystals fingerprinted (CrystalNN)", str(c.fingerprinted))]
    if ev.stability is not None:
        t = ev.stability
        rows += [(f"CHGNet: crystals relaxed (first valid; FIRE + cell filter, fmax {FMAX} eV/Å)", str(t.relaxed)),
                 ("CHGNet: energy eV/atom, generated", num(t.energy_per_atom)), ("CHGNet: energy eV/atom, relaxed", num(t.relaxed_energy_per_atom)),
                 ("CHGNet: energy drop eV/atom", num(t.energy_drop)), ("CHGNet: RMSD generated -> relaxed, Å", num(t.rmsd)),
                 (f"CHGNet: barely moves (RMSD < {BARELY_MOVES} Å) %", pct(t.barely_moves)), ("CHGNet: converged %", pct(t.converged)),
                 ("E_above_hull", "n/a (needs reference phases; offline)")]
    if ev.reconstruction is not None:
        r = ev.reconstruction
        rows += [("reconstruction: match rate % (valid and matched)", pct(r.match_rate)),
                 ("reconstruction: RMSE (normalised by (V/N)^(1/3), over matches)", num(r.rmse)),
                 ("reconstruction: match rate % with validity aside", pct(r.match_rate_any))]
    head = (f"CDVAE protocol, {ev.crystals} crystals ({ev.skipped} unreadable records, counted as invalid)"
            + ("" if ev.coverage is not None else "; COV-R / COV-P not asked (--coverage DATASET)"))
    return head + "\n" + "\n".join(f"  {name:<60} {value:>10}" for name, value in rows)
