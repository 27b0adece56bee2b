"""Why generated molecules fail EDM stability: per element, the fraction of atoms with too few or too many bonds
(EDM's bond-length tables), unstable atoms per molecule, and how sharp the local geometry is (nearest heavy atom of
each H, nearest C of each C) — for sample files beside the data.

    python benchmarks/mol_failure_modes.py qm9_train1k.xyz mols.sdf --n 3000 --json failure_modes.json
"""
import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from unite_core.jsonio import write_json
from unite_mol.evaluate.edm import distances, valences
from unite_mol.evaluate.edm_tables import ALLOWED_VALENCE
from unite_mol.formats import read_structures
from unite_mol.structure import SYMBOLS, Structure

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def failure_modes(structures: list[Structure]) -> dict:
    atoms, under, over = Counter(), Counter(), Counter()
    unstable, h_heavy, c_c = [], [], []
    for s in structures:
        d = distances(s)
        _, valence, stable = valences(s, d)
        unstable.append(int((~stable).sum()))
        for symbol, v, ok in zip((SYMBOLS[z] for z in s.numbers), valence.tolist(), stable.tolist()):
            atoms[symbol] += 1
            if not ok:
                (under if v < min(ALLOWED_VALENCE[symbol]) else over)[symbol] += 1
        np.fill_diagonal(d, np.inf)
        h, c = s.numbers == 1, s.numbers == 6
        if h.any() and (~h).any():
            h_heavy += d[np.ix_(h, ~h)].min(1).tolist()
        if c.sum() > 1:
            c_c += d[np.ix_(c, c)].min(1).tolist()
    return {
        "molecules": len(structures),
        "too_few_bonds": {e: under[e] / n for e, n in atoms.items()},
        "too_many_bonds": {e: over[e] / n for e, n in atoms.items()},
        "unstable_atoms_per_molecule_median": float(np.median(unstable)),
        "h_nearest_heavy_quantiles": np.quantile(h_heavy, QUANTILES).tolist(),
        "c_nearest_c_quantiles": np.quantile(c_c, QUANTILES).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help=".sdf / .xyz / .extxyz: the data first, then samples")
    parser.add_argument("--n", type=int, default=3000, help="the first N molecules of each file")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {p.name: failure_modes(read_structures(p, skip_bad=True).structures[: args.n]) for p in args.paths}
    fmt = lambda q: " / ".join(f"{x:.3f}" for x in q)  # noqa: E731
    for path, r in results.items():
        print(f"{path} ({r['molecules']} molecules): median unstable atoms per molecule {r['unstable_atoms_per_molecule_median']:g}")
        for e in r["too_few_bonds"]:
            print(f"  {e}: too few bonds {100 * r['too_few_bonds'][e]:.1f} %, too many {100 * r['too_many_bonds'][e]:.1f} %")
        print(f"  H -> nearest heavy atom, Å (quantiles {QUANTILES}): {fmt(r['h_nearest_heavy_quantiles'])}")
        print(f"  C -> nearest C, Å: {fmt(r['c_nearest_c_quantiles'])}")
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
