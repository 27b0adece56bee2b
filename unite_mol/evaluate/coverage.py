"""CDVAE's coverage of generated crystals against the test crystals (COV-R / COV-P), as its scripts define it.

Each crystal gets two fingerprints (matminer): the mean over its sites of CrystalNN "ops" site fingerprints
(61 numbers) and the 132 Magpie composition features, standardised by CDVAE's fixed means and deviations
(`cdvae_magpie_scaler.json`, NaN -> 0). A test crystal is *recalled* when its nearest generated crystal in structure
and its nearest in composition (Euclidean; each minimised on its own, as CDVAE's `compute_cov`) are within the
cut-offs; a generated crystal is *precise* likewise against the test crystals. COV-R = recalled / test crystals;
COV-P = precise / all generated crystals, those whose fingerprint fails (CDVAE counts them invalid) included.
matminer is installed beside the package without its dependencies (its wheel pins pandas < 3):
`pip install --no-deps matminer==0.10.1`.
"""
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path

import numpy as np

from unite_mol.structure import Structure


class CoverageCutoffs(Enum):
    """The dataset whose CDVAE fingerprint distance cut-offs apply (scripts/compute_metrics.py). Members are named, not
    valued, by their cut-offs: Perov-5 and Carbon-24 share theirs, and equal values would make one an alias."""

    perov5 = "perov5"
    carbon24 = "carbon24"
    mp20 = "mp20"

    @property
    def distances(self) -> tuple[float, float]:
        """(structure, composition) cut-off."""
        return {"perov5": (0.2, 4.0), "carbon24": (0.2, 4.0), "mp20": (0.4, 10.0)}[self.value]


@dataclass
class Fingerprint:
    structure: np.ndarray  # (61,) mean CrystalNN site fingerprint
    composition: np.ndarray  # (132,) Magpie features, standardised as CDVAE


@dataclass
class CoverageScore:
    recall: float  # COV-R
    precision: float  # COV-P
    structure_recall_distance: float  # mean over test crystals of the nearest generated one (AMSD-R)
    structure_precision_distance: float  # AMSD-P
    composition_recall_distance: float  # AMCD-R
    composition_precision_distance: float  # AMCD-P
    fingerprinted: int  # generated crystals whose fingerprint could be computed


@cache
def featurizers() -> tuple:
    """CrystalNN "ops" site fingerprint, Magpie composition features, CDVAE's means and deviations for the latter."""
    try:
        from matminer.featurizers.composition.composite import ElementProperty
        from matminer.featurizers.site.fingerprint import CrystalNNFingerprint
    except ImportError as e:
        raise RuntimeError(f"COV-R / COV-P need matminer ({e}): pip install --no-deps matminer==0.10.1 scikit-learn") from None
    scaler = json.loads((Path(__file__).parent / "cdvae_magpie_scaler.json").read_text())
    return CrystalNNFingerprint.from_preset("ops"), ElementProperty.from_preset("magpie"), np.array(scaler["means"]), np.array(scaler["stds"])


def fingerprint(s: Structure) -> Fingerprint | None:
    """Both fingerprints of one crystal; None where CrystalNN fails on it (as CDVAE, which then calls it invalid)."""
    from unite_mol.data.crystals import to_pymatgen

    site_fp, magpie, means, stds = featurizers()
    try:
        crystal = to_pymatgen(s)
        with warnings.catch_warnings():  # CrystalNN warns on every site without oxidation states, as CDVAE ran it
            warnings.simplefilter("ignore")
            sites = np.array([site_fp.featurize(crystal, i) for i in range(len(crystal))])  # (N, 61)
    except Exception:  # CrystalNN raises on degenerate cells and lone atoms; CDVAE treats any failure alike
        return None
    composition = (np.array(magpie.featurize(crystal.composition), dtype=float) - means) / stds  # (132,)
    return Fingerprint(sites.mean(0), np.nan_to_num(composition, nan=0.0))


def reference_fingerprints(path: Path, compute: Callable[[], list[Fingerprint | None]], cache_dir: Path) -> list[Fingerprint]:
    """The test crystals' fingerprints (those that could be computed): for a file, computed once into `cache_dir`
    (named by the file's size, time and matminer's version; rebuilt when broken); for a folder, every time."""
    from importlib.metadata import version

    from unite_core.cache import cached

    if not path.is_file():
        return [f for f in compute() if f is not None]

    def build(tmp: Path) -> None:
        made = [f for f in compute() if f is not None]
        with tmp.open("wb") as f:
            np.savez(f, structure=np.stack([m.structure for m in made]), composition=np.stack([m.composition for m in made]))

    def read(file: Path) -> list[Fingerprint]:
        with np.load(file) as z:
            structure, composition = z["structure"], z["composition"]
        return [Fingerprint(a, b) for a, b in zip(structure, composition)]

    stat = path.stat()
    name = f"coverage_{path.parent.name}_{path.stem}_{stat.st_size}_{int(stat.st_mtime)}_matminer{version('matminer')}.npz"
    return cached(cache_dir / name, build, read, str(path))


def coverage(generated: list[Fingerprint | None], test: list[Fingerprint], cutoffs: CoverageCutoffs) -> CoverageScore:
    """COV-R / COV-P of the generated crystals' fingerprints (None: failed) against the test crystals'."""
    from scipy.spatial.distance import cdist

    made = [f for f in generated if f is not None]
    if not made or not test:
        raise ValueError(f"coverage needs fingerprints on both sides: {len(made)} generated, {len(test)} test")
    structure = cdist(np.stack([f.structure for f in made]), np.stack([f.structure for f in test]))  # (G, T)
    composition = cdist(np.stack([f.composition for f in made]), np.stack([f.composition for f in test]))  # (G, T)
    s_cut, c_cut = cutoffs.distances
    recall = (structure.min(0) <= s_cut) & (composition.min(0) <= c_cut)  # (T,) each distance minimised on its own, as CDVAE
    precise = (structure.min(1) <= s_cut) & (composition.min(1) <= c_cut)  # (G,)
    return CoverageScore(float(recall.mean()), float(precise.sum() / len(generated)), float(structure.min(0).mean()),
                         float(structure.min(1).mean()), float(composition.min(0).mean()), float(composition.min(1).mean()), len(made))
