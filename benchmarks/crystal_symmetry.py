"""How symmetric crystals are: each file's space-group census (spglib through pymatgen), so samples can be set beside
their test set — a crystal generated with every atom slightly off its special position is P1.

    python benchmarks/crystal_symmetry.py samples.cif ../shared/data/carbon_24/test.csv --n 1000 --symprec 0.1

Per file: the share of crystals in P1, with an inversion centre only (P-1), in a higher space group (3-230), and in a
trigonal, hexagonal or cubic one (143-230); crystals spglib cannot analyse count as P1. Samples are read as they are
(`unite-mol evaluate` reads them so), data files as the loader reads them (Niggli-reduced; symmetry does not change).
"""
import argparse
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from unite_core.jsonio import write_json
from unite_mol.data.crystals import read_crystals, to_pymatgen
from unite_mol.structure import Structure


@dataclass
class Census:
    path: str
    crystals: int
    p1: float  # fractions of the crystals
    p_1: float
    higher: float
    hexagonal_or_cubic: float


def space_group(crystal: Structure, symprec: float) -> int:
    """The crystal's space-group number at `symprec` Å; 1 where spglib finds none."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SpacegroupAnalyzer(to_pymatgen(crystal), symprec=symprec).get_space_group_number()
    except Exception:  # spglib gives up on some degenerate generated cells
        return 1


def census(path: str, n: int, symprec: float) -> Census:
    crystals = read_crystals(path, skip_bad=True, check=not path.endswith((".cif", ".extxyz", ".zip"))).structures[:n]
    groups = np.array([space_group(c, symprec) for c in tqdm(crystals, desc=path, unit="crystal")])  # (n,)
    return Census(path, len(groups), float(np.mean(groups == 1)), float(np.mean(groups == 2)), float(np.mean(groups >= 3)),
                  float(np.mean(groups >= 143)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="crystal files (.cif / .extxyz / .zip / CDVAE CSV)")
    parser.add_argument("--n", type=int, default=1000, help="the first N crystals of each file")
    parser.add_argument("--symprec", type=float, default=0.1, help="spglib's tolerance, Å")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    rows = [census(path, args.n, args.symprec) for path in args.files]
    print(f"space groups at symprec {args.symprec} Å (% of crystals): P1 / P-1 / higher (3-230) / trigonal, hexagonal or cubic")
    for r in rows:
        print(f"  {r.path}: {r.crystals} crystals, {100 * r.p1:.1f} / {100 * r.p_1:.1f} / {100 * r.higher:.1f} / "
              f"{100 * r.hexagonal_or_cubic:.1f}")
    if args.json:
        write_json(args.json, {"symprec": args.symprec, "files": [asdict(r) for r in rows]})


if __name__ == "__main__":
    main()
