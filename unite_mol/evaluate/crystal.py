"""The CDVAE protocol for generated crystals (also DiffCSP, FlowMM, ADiT, UNITE), computed here from its
definitions (pymatgen + smact), with uniqueness and novelty bucketed by reduced composition.

- structural validity: every pair of distinct sites at least 0.5 Å apart (minimum image) and a volume of
  at least 0.1 Å³;
- compositional validity (smact, `smact14` oxidation states as CDVAE's pinned smact): counts over their gcd;
  one element, or all metals (alloy), is valid; otherwise some oxidation-state assignment must be charge
  neutral and pass the Pauling electronegativity test;
- valid = both; uniqueness (over valid) and novelty (valid not matched by any training crystal) with
  StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3), comparing only crystals of one reduced composition;
- property EMDs against the test crystals: density (g/cm³) and number of elements, on the first 1,000 valid.
Coverage (COV-R / COV-P) needs CrystalNN + Magpie fingerprints from matminer, which is not installed here:
it is not computed.
"""
from dataclasses import dataclass
from math import gcd

import numpy as np

from unite_core.jsonio import Undefined
from unite_mol.evaluate.stability import BARELY_MOVES, FMAX, StabilityScore
from unite_mol.structure import SYMBOLS, Structure

MATCHER = dict(stol=0.5, angle_tol=10, ltol=0.3)
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


def _by_composition(structures: list[Structure]) -> dict[str, list[int]]:
    from pymatgen.core import Composition

    buckets: dict[str, list[int]] = {}
    for i, s in enumerate(structures):
        formula = Composition(_counts(s.numbers)).reduced_formula
        buckets.setdefault(formula, []).append(i)
    return buckets


def _counts(numbers: np.ndarray) -> dict[str, int]:
    elements, counts = np.unique(numbers, return_counts=True)
    return {SYMBOLS[z]: int(c) for z, c in zip(elements, counts)}


def unique_groups(structures: list[Structure]) -> int:
    """How many distinct crystals (StructureMatcher groups within each reduced composition)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from unite_mol.data.crystals import to_pymatgen

    matcher = StructureMatcher(**MATCHER)
    groups = 0
    for members in _by_composition(structures).values():
        groups += len(matcher.group_structures([to_pymatgen(structures[i]) for i in members])) if len(members) > 1 else 1
    return groups


def novel_count(structures: list[Structure], train: list[Structure]) -> int:
    """How many of `structures` match no training crystal of the same reduced composition. As the peers'
    scripts, without reducing either structure first, so a supercell of a training crystal counts as novel."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from unite_mol.data.crystals import to_pymatgen

    matcher = StructureMatcher(**MATCHER)
    reference = _by_composition(train)
    novel = 0
    for formula, members in _by_composition(structures).items():
        known = [to_pymatgen(train[j]) for j in reference.get(formula, [])]
        for i in members:
            mine = to_pymatgen(structures[i])
            novel += not any(matcher.fit(mine, other, skip_structure_reduction=True) for other in known)
    return novel


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
    density_emd: float  # g/cm³, first 1,000 valid vs the test crystals
    elements_emd: float  # number of elements, same


def score_crystals(structures: list[Structure], checks: list[CrystalCheck], train: list[Structure] | None,
                   test: list[Structure] | None, unreadable: int = 0) -> CrystalScore:
    """`unreadable` records count as crystals that fail every check."""
    from scipy.stats import wasserstein_distance

    n = len(structures) + unreadable
    valid = [s for s, c in zip(structures, checks) if c.valid]
    ratio = lambda a, b, over: a / b if b else Undefined(f"no {over}")  # noqa: E731
    uniqueness = ratio(unique_groups(valid), len(valid), "valid crystals")
    novelty = ratio(novel_count(valid, train), len(valid), "valid crystals") if train is not None else Undefined("no training crystals given")
    if test is not None and valid:
        first = valid[:EMD_SAMPLES]
        d_emd = wasserstein_distance([density(s) for s in first], [density(s) for s in test])
        e_emd = wasserstein_distance([len(set(s.numbers.tolist())) for s in first], [len(set(s.numbers.tolist())) for s in test])
    else:
        d_emd = e_emd = Undefined("no valid crystals" if test is not None else "no test crystals given")
    return CrystalScore(n, ratio(sum(c.structural for c in checks), n, "crystals"), ratio(sum(c.compositional for c in checks), n, "crystals"),
                        ratio(len(valid), n, "crystals"), uniqueness, novelty, d_emd, e_emd)


@dataclass
class CrystalEvaluation:
    inputs: list[str]
    crystals: int
    skipped: int  # unreadable records passed over
    train: str | None  # what novelty is measured against
    test: str | None  # what the property EMDs are measured against
    cdvae: CrystalScore
    stability: StabilityScore | None  # CHGNet relaxation of the first `relax_n` valid crystals (None: not asked)
    seconds: float


def evaluate_crystal_files(paths: list[str], train: str | None, test: str | None, workers: int = 2, relax_n: int = 0,
                           relax_steps: int = 200) -> CrystalEvaluation:
    """Every crystal in `paths` (CDVAE CSV, CIF files or folders, extxyz) under the CDVAE protocol, and with
    `relax_n` > 0 the CHGNet stability check of the first `relax_n` valid ones."""
    import time

    from unite_mol.data.crystals import read_crystals
    from unite_mol.evaluate.pool import Chunked, WorkerPool
    from unite_mol.evaluate.stability import RelaxTask, relax_crystal, score_stability  # torch, chgnet: only when asked

    start = time.perf_counter()
    structures, skipped = [], 0
    for path in paths:
        read = read_crystals(path, skip_bad=True, check=False)  # invalid samples are scored, not skipped
        structures += read.structures
        skipped += read.skipped
    reference = lambda p: read_crystals(p, skip_bad=True).structures if p else None  # noqa: E731
    with WorkerPool(workers) as pool:
        checks = pool.map(Chunked(check_crystal), structures, "CDVAE validity")
    score = score_crystals(structures, checks, reference(train), reference(test), unreadable=skipped)
    stability = None
    if relax_n:
        valid = [s for s, c in zip(structures, checks) if c.valid][:relax_n]
        with WorkerPool(workers) as pool:
            stability = score_stability(pool.map(Chunked(relax_crystal), [RelaxTask(s, relax_steps) for s in valid], "CHGNet relaxation"))
    return CrystalEvaluation(list(paths), len(structures) + skipped, skipped, train, test, score, stability, time.perf_counter() - start)


def crystal_table(ev: CrystalEvaluation) -> str:
    s = ev.cdvae
    pct = lambda v: "n/a" if v != v else f"{100 * v:.2f}"  # noqa: E731  (NaN: Undefined)
    num = lambda v: "n/a" if v != v else f"{v:.4f}"  # noqa: E731
    rows = [("structural validity %", pct(s.structural_validity)), ("compositional validity %", pct(s.compositional_validity)),
            ("overall validity %", pct(s.validity)), ("uniqueness % (of valid)", pct(s.uniqueness)),
            (f"novelty % (of valid; vs {ev.train or 'nothing'})", pct(s.novelty)),
            (f"EMD density g/cm³ (vs {ev.test or 'nothing'})", num(s.density_emd)), ("EMD number of elements", num(s.elements_emd))]
    if ev.stability is not None:
        t = ev.stability
        rows += [(f"CHGNet: crystals relaxed (first valid; FIRE + cell filter, fmax {FMAX} eV/Å)", str(t.relaxed)),
                 ("CHGNet: energy eV/atom, generated", num(t.energy_per_atom)), ("CHGNet: energy eV/atom, relaxed", num(t.relaxed_energy_per_atom)),
                 ("CHGNet: energy drop eV/atom", num(t.energy_drop)), ("CHGNet: RMSD generated -> relaxed, Å", num(t.rmsd)),
                 (f"CHGNet: barely moves (RMSD < {BARELY_MOVES} Å) %", pct(t.barely_moves)), ("CHGNet: converged %", pct(t.converged)),
                 ("E_above_hull", "n/a (needs reference phases; offline)")]
    head = (f"CDVAE protocol, {ev.crystals} crystals ({ev.skipped} unreadable records, counted as invalid); "
            "COV-R / COV-P not computed (no matminer)")
    return head + "\n" + "\n".join(f"  {name:<60} {value:>10}" for name, value in rows)
