"""Where uniqueness spends its time: random pairs of crystals from one bucket (one reduced formula, one primitive-cell
size, as `unique_groups` compares them), each timed through StructureMatcher.fit and sorted by how it ends.

    python benchmarks/crystal_match_cost.py c24_10k.cif --n 1500 --pairs 2000

- no lattice: the matcher finds no basis of one cell within ltol / angle_tol of the other (after scaling both to one
  volume), so it stops before looking at a site;
- lattice, no match: at least one such basis, but no translation puts every site within stol;
- match.
"""
import argparse
import time

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher

from unite_core.jsonio import write_json
from unite_mol.data.crystals import read_crystals
from unite_mol.evaluate.crystal import MATCHER, by_primitive_cell, check_crystal, reduced_cell


def lattice_mappings(matcher: StructureMatcher, a, b) -> int:
    """How many bases of a's lattice fit b's: the matcher's own scaling (both cells to one volume) and lattice search."""
    s1, s2, fu, _ = matcher._preprocess(a, b, skip_structure_reduction=True)
    return sum(1 for _ in matcher._get_lattices(s2.lattice, s1, fu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", help="crystals (.cif / .extxyz / CSV / folder); give generated ones")
    parser.add_argument("--n", type=int, default=1500, help="the first N crystals of the file")
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    structures = read_crystals(args.samples, skip_bad=True, check=False).structures[: args.n]
    reduced = [reduced_cell(s) for s in structures if check_crystal(s).valid]
    buckets = by_primitive_cell(reduced)
    shared = [b for b in buckets.values() if len(b) > 1]
    weights = np.array([len(b) * (len(b) - 1) for b in shared], dtype=float)  # pairs are drawn as the buckets hold them
    rng, matcher = np.random.default_rng(args.seed), StructureMatcher(**MATCHER)
    rows = []
    for k in rng.choice(len(shared), size=args.pairs, p=weights / weights.sum()):
        i, j = rng.choice(len(shared[k]), size=2, replace=False)
        a, b = shared[k][i], shared[k][j]
        start = time.perf_counter()
        fits = matcher.fit(a, b, skip_structure_reduction=True)
        seconds = time.perf_counter() - start
        rows.append(("match" if fits else "lattice, no match" if lattice_mappings(matcher, a, b) else "no lattice", seconds))
    total = sum(s for _, s in rows)
    figures = {}
    print(f"{len(reduced)} valid crystals in {len(buckets)} buckets; {args.pairs} pairs, {1e3 * total / len(rows):.2f} ms a fit")
    for kind in ("no lattice", "lattice, no match", "match"):
        times = [s for k, s in rows if k == kind]
        figures[kind] = {"share_of_pairs": len(times) / len(rows), "ms_per_fit": 1e3 * float(np.mean(times)) if times else None,
                         "share_of_time": sum(times) / total}
        print(f"{kind:<18} {100 * figures[kind]['share_of_pairs']:5.1f} % of pairs, "
              f"{figures[kind]['ms_per_fit'] or 0:6.2f} ms a fit, {100 * figures[kind]['share_of_time']:5.1f} % of the time")
    if args.json:
        write_json(args.json, {"samples": args.samples, "crystals": len(structures), "valid": len(reduced), "pairs": args.pairs,
                               "seed": args.seed, "ms_per_fit": 1e3 * total / len(rows), "by_outcome": figures})


if __name__ == "__main__":
    main()
