"""How long `unite-mol evaluate` takes for validity + uniqueness + novelty of N crystals (the target: 10,000 in
< 120 s on the 2-core CPU), phase by phase, with the functions `unite-mol evaluate` itself calls.

    python benchmarks/crystal_eval_speed.py perov5_10k.cif --train ../shared/data/perov_5/val.csv --n 10000 --workers 2

Crystals are read as `unite-mol evaluate` reads samples (as they are); the first --n of the file are scored (give it
generated samples: repeats or copies of the data would make the matching look cheaper than it is).
"""
import argparse
import time

from unite_core.jsonio import write_json
from unite_mol.data.crystals import read_crystals
from unite_mol.evaluate.crystal import check_crystal, novel_count, unique_groups
from unite_mol.evaluate.pool import Chunked, WorkerPool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", help="crystals to score (.cif / .extxyz / CSV / folder)")
    parser.add_argument("--train", required=True, help="training crystals novelty is measured against")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    clock, times = time.perf_counter(), {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name], clock = now - clock, now
        print(f"{name:<12} {times[name]:8.1f} s", flush=True)

    structures = read_crystals(args.samples, skip_bad=True, check=False).structures[: args.n]
    train = read_crystals(args.train, skip_bad=True).structures
    lap("read")
    with WorkerPool(args.workers) as pool:
        checks = pool.map(Chunked(check_crystal), structures, "validity")
    valid = [s for s, c in zip(structures, checks) if c.valid]
    lap("validity")
    groups = unique_groups(valid, args.workers)
    lap("uniqueness")
    novel = novel_count(valid, train, args.workers)
    lap("novelty")
    total = sum(times.values())
    print(f"{len(structures)} crystals of {args.samples} ({len(valid)} valid, {groups} unique, {novel} novel "
          f"vs {len(train)} training crystals): {total:.1f} s with {args.workers} workers (target < 120 s for 10,000)")
    if args.json:
        write_json(args.json, {"samples": args.samples, "crystals": len(structures), "valid": len(valid),
                               "unique": groups, "novel": novel, "train": len(train), "workers": args.workers, "seconds": times,
                               "total_seconds": total})


if __name__ == "__main__":
    main()
