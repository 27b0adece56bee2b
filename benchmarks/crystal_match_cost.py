"""Where uniqueness spends its time: random pairs of crystals from one bucket (one reduced formula, one primitive-cell
size, as `unique_groups` compares them), each timed through StructureMatcher.fit and through `crystal_fit` (which
`unique_groups` and `novel_count` use; the answers must agree), sorted by how the pair ends.

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
from unite_mol.evaluate.crystal_fit import Cell, fits


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
        expected = matcher.fit(a, b, skip_structure_reduction=True)
        pymatgen_seconds = time.perf_counter() - start
        cells = Cell.of(a), Cell.of(b)
        start = time.perf_counter()
        if fits(*cells) != expected:
            raise SystemExit(f"crystal_fit and StructureMatcher.fit disagree on pair {len(rows)}")
        seconds = time.perf_counter() - start
        kind = "match" if expected else "lattice, no match" if lattice_mappings(matcher, a, b) else "no lattice"
        rows.append((kind, pymatgen_seconds, seconds))
    total, total_fit = sum(r[1] for r in rows), sum(r[2] for r in rows)
    figures = {}
    print(f"{len(reduced)} valid crystals in {len(buckets)} buckets; {args.pairs} pairs, the same answers; "
          f"StructureMatcher.fit {1e3 * total / len(rows):.2f} ms a pair, crystal_fit {1e3 * total_fit / len(rows):.2f} "
          f"({total / total_fit:.2f}x)")
    for kind in ("no lattice", "lattice, no match", "match"):
        times = [r for r in rows if r[0] == kind]
        pymatgen_ms = 1e3 * float(np.mean([r[1] for r in times])) if times else None
        fit_ms = 1e3 * float(np.mean([r[2] for r in times])) if times else None
        figures[kind] = {"share_of_pairs": len(times) / len(rows), "ms_per_fit": pymatgen_ms,
                         "share_of_time": sum(r[1] for r in times) / total, "crystal_fit_ms": fit_ms}
        print(f"{kind:<18} {100 * figures[kind]['share_of_pairs']:5.1f} % of pairs, "
              f"{pymatgen_ms or 0:6.2f} ms a fit ({100 * figures[kind]['share_of_time']:5.1f} % of the time); "
              f"crystal_fit {fit_ms or 0:6.2f} ms")
    if args.json:
        write_json(args.json, {"samples": args.samples, "crystals": len(structures), "valid": len(reduced), "pairs": args.pairs,
                               "seed": args.seed, "ms_per_fit": 1e3 * total / len(rows),
                               "crystal_fit_ms": 1e3 * total_fit / len(rows), "by_outcome": figures})


if __name__ == "__main__":
    main()
