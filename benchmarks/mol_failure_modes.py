"""Why generated molecules fail EDM stability: per element, the fraction of atoms with too few or too many bonds
(EDM's bond-length tables), unstable atoms per molecule, how sharp the local geometry is (nearest heavy atom of
each H, nearest C of each C), and whether the composition alone allows a stable molecule (a bond adds its order to the
valences of both its atoms, so they must sum to an even number) — for sample files beside the data.

    python benchmarks/mol_failure_modes.py qm9_train1k.xyz mols.sdf --n 3000 --json failure_modes.json
"""
import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from unite_core.jsonio import write_json
from unite_mol.evaluate.edm import distances, stable_composition, valences
from unite_mol.evaluate.edm_tables import ALLOWED_VALENCE
from unite_mol.formats import read_structures
from unite_mol.structure import SYMBOLS, Structure

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def unsaturation(symbols: list[str]) -> float:
    """Degree of unsaturation with the smallest allowed valences, 1 + sum(v - 2) / 2: rings + pi bonds of a connected
    molecule; half-integer when the valences sum to an odd number."""
    return 1 + sum(min(ALLOWED_VALENCE[e]) - 2 for e in symbols) / 2


def nearest_c_of_each_c(s: Structure, d: np.ndarray | None = None) -> list[float]:
    """The distance from each C to its nearest other C (Å), given the distance matrix `d` or computing it."""
    c = s.numbers == 6
    if c.sum() < 2:
        return []
    c_c = (distances(s) if d is None else d)[np.ix_(c, c)]  # (n_C, n_C), a copy: the caller's `d` stays as it is
    np.fill_diagonal(c_c, np.inf)
    return c_c.min(1).tolist()


def failure_modes(structures: list[Structure]) -> dict:
    atoms, under, over = Counter(), Counter(), Counter()
    unstable, h_heavy, c_c, even, dou = [], [], [], [], []
    for s in structures:
        symbols = [SYMBOLS[z] for z in s.numbers]
        even.append(stable_composition(s))
        dou.append(unsaturation(symbols))
        d = distances(s)
        _, valence, stable = valences(s, d)
        unstable.append(int((~stable).sum()))
        for symbol, v, ok in zip(symbols, valence.tolist(), stable.tolist()):
            atoms[symbol] += 1
            if not ok:
                (under if v < min(ALLOWED_VALENCE[symbol]) else over)[symbol] += 1
        h = s.numbers == 1
        if h.any() and (~h).any():
            h_heavy += d[np.ix_(h, ~h)].min(1).tolist()
        c_c += nearest_c_of_each_c(s, d)
    return {
        "molecules": len(structures),
        "too_few_bonds": {e: under[e] / n for e, n in atoms.items()},
        "too_many_bonds": {e: over[e] / n for e, n in atoms.items()},
        "unstable_atoms_per_molecule_median": float(np.median(unstable)),
        "composition_cannot_be_stable": 1 - float(np.mean(even)),
        "unsaturation_quantiles": np.quantile(dou, QUANTILES).tolist(),
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
        print(f"  composition admits no stable molecule (odd valence sum): {100 * r['composition_cannot_be_stable']:.1f} %;"
              f" degree of unsaturation (quantiles {QUANTILES}): {fmt(r['unsaturation_quantiles'])}")
        for e in r["too_few_bonds"]:
            print(f"  {e}: too few bonds {100 * r['too_few_bonds'][e]:.1f} %, too many {100 * r['too_many_bonds'][e]:.1f} %")
        print(f"  H -> nearest heavy atom, Å (quantiles {QUANTILES}): {fmt(r['h_nearest_heavy_quantiles'])}")
        print(f"  C -> nearest C, Å: {fmt(r['c_nearest_c_quantiles'])}")
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
