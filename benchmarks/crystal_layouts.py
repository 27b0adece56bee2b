"""How many site layouts a crystal set has under each `data.origin` rule: the fewer, the less the flow must learn.

    python benchmarks/crystal_layouts.py ../shared/data/perov_5/val.csv --grid 0.5

A crystal's layout is its sorted fractional coordinates, each rounded to the nearest multiple of `--grid` (elements
ignored): Perov-5's ABX3 cells have their sites on half-integer coordinates, so with the grid at 0.5 one layout is one
arrangement of the five sites in the cell. `file` keeps the file's placement (Perov-5's is shifted along a, which the
rounding absorbs only where the shift is small); `site` / `cation` shift each crystal as the loader would. Per rule: the
number of layouts, the share of the crystals in the commonest three, and the share with an anion (N, O, F, S, Cl, Se,
Br, I) at the origin.
"""
import argparse
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from unite_core.jsonio import write_json
from unite_mol.data import Origin, Packed, to_origin
from unite_mol.data.crystals import read_crystals
from unite_mol.data.origin import wrap

ANIONS = (7, 8, 9, 16, 17, 34, 35, 53)


@dataclass
class Layouts:
    origin: str
    crystals: int
    layouts: int
    commonest: list[float]  # the shares of the crystals in the three commonest layouts
    anion_at_origin: float


def census(packed: Packed, origin: Origin, grid: float) -> Layouts:
    placed = to_origin(packed, origin)
    layouts, anion = Counter(), 0
    for i in range(len(placed)):
        crystal = placed[i]
        frac = wrap(crystal.fractional())  # (N, 3)
        layouts[tuple(sorted(map(tuple, wrap(np.round(frac / grid) * grid).round(6))))] += 1
        at_origin = np.flatnonzero(np.abs(frac).max(-1) < 1e-6)
        anion += bool(len(at_origin)) and int(crystal.numbers[at_origin[0]]) in ANIONS
    n = len(placed)
    return Layouts(origin.value, n, len(layouts), [c / n for _, c in layouts.most_common(3)], anion / n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="crystal file (CDVAE CSV / .cif / .extxyz)")
    parser.add_argument("--grid", type=float, default=0.5, help="fractional coordinates rounded to multiples of this")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    packed = Packed.from_structures(read_crystals(args.file, skip_bad=True).structures)
    rows = [census(packed, origin, args.grid) for origin in Origin]
    print(f"{args.file}, fractional coordinates to {args.grid}: layouts, % in the commonest three, % with an anion at the origin")
    for r in rows:
        print(f"  {r.origin}: {r.layouts} layouts over {r.crystals}, {' / '.join(f'{100 * s:.1f}' for s in r.commonest)}, "
              f"{100 * r.anion_at_origin:.1f}")
    if args.json:
        write_json(args.json, {"file": args.file, "grid": args.grid, "rules": [asdict(r) for r in rows]})


if __name__ == "__main__":
    main()
