"""How a crystal set pairs its elements: the two most electropositive sites of each crystal (Perov-5's A and B cations),
taken in a random order, and how far their atomic numbers move together.

    python benchmarks/crystal_pairs.py ../shared/data/perov_5/val.csv x.cif --test ../shared/data/perov_5/test.csv \
        --json benchmarks/results/perov5_cation_pairs.json

Per file (CDVAE CSV, CIF, extxyz; generated files: their CDVAE-valid crystals): the symmetric correlation of the two
atomic numbers and of the two atomic masses (each pair in a random order, so an independent pairing gives 0), the
spread of the mass per atom and of the density, and the density EMD against all of `--test`. Perov-5's own files pair
their cations independently; a sampler that pairs a heavy cation with a light one narrows the mass per atom, and with it
the density, at the right element frequencies.
"""
import argparse
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import wasserstein_distance

from unite_core.jsonio import write_json
from unite_mol.data.crystals import read_crystals
from unite_mol.data.origin import pauling
from unite_mol.evaluate.crystal import check_crystal, density
from unite_mol.structure import Structure


@dataclass
class Pairing:
    path: str
    crystals: int  # read (generated files: CDVAE-valid)
    corr_number: float  # symmetric correlation of the two atomic numbers
    corr_mass: float
    mass_per_atom_sd: float  # u, over all crystals read
    density_mean: float  # g/cm³
    density_sd: float
    density_emd: float | None  # against every crystal of --test


def atomic_mass(numbers: np.ndarray) -> np.ndarray:
    from pymatgen.core.periodic_table import Element

    return np.array([Element.from_Z(int(z)).atomic_mass for z in numbers], dtype=float)


def cation_pairs(structures: list[Structure], rng: np.random.Generator) -> np.ndarray:
    """(n, 2) atomic numbers of each crystal's two most electropositive sites (Pauling), in a random order."""
    return np.array([rng.permutation(sorted(s.numbers, key=pauling)[:2]) for s in structures]).reshape(-1, 2)


def symmetric_corr(pairs: np.ndarray) -> float:
    return float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]) if len(pairs) > 2 else float("nan")


def pairing(path: str, test_density: np.ndarray | None, seed: int) -> Pairing:
    structures = read_crystals(path, skip_bad=True, check=path.endswith(".csv")).structures
    if not path.endswith(".csv"):
        structures = [s for s in structures if check_crystal(s).valid]
    numbers = cation_pairs(structures, np.random.default_rng(seed))
    masses = atomic_mass(numbers.ravel()).reshape(-1, 2)
    per_atom = np.array([atomic_mass(s.numbers).mean() for s in structures])
    dens = np.array([density(s) for s in structures])
    emd = None if test_density is None else float(wasserstein_distance(dens, test_density))
    return Pairing(path, len(structures), symmetric_corr(numbers.astype(float)), symmetric_corr(masses),
                   float(per_atom.std()), float(dens.mean()), float(dens.std()), emd)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="+", help="CDVAE CSV, CIF or extxyz files")
    p.add_argument("--test", help="the density EMD against these crystals (a CDVAE CSV)")
    p.add_argument("--seed", type=int, default=0, help="the random order within each pair")
    p.add_argument("--json")
    args = p.parse_args()
    test_density = None
    if args.test:
        test_density = np.array([density(s) for s in read_crystals(args.test, skip_bad=True).structures])
    rows = [pairing(path, test_density, args.seed) for path in args.paths]
    print(f"{'file':<48} {'crystals':>8} {'corr Z':>7} {'corr m':>7} {'sd m/atom':>9} {'density':>13} {'EMD':>6}")
    for r in rows:
        emd = "" if r.density_emd is None else f"{r.density_emd:.3f}"
        print(f"{r.path[-48:]:<48} {r.crystals:>8} {r.corr_number:>7.3f} {r.corr_mass:>7.3f} {r.mass_per_atom_sd:>9.2f} "
              f"{r.density_mean:>6.3f} ± {r.density_sd:.3f} {emd:>6}")
    if args.json:
        write_json(args.json, {"test": args.test, "seed": args.seed, "files": [asdict(r) for r in rows]})


if __name__ == "__main__":
    main()
