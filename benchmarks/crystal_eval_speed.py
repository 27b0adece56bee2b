"""How long `unite-mol evaluate` takes for validity + uniqueness + novelty of N crystals (the target: 10,000 in
< 120 s on the 2-core CPU), phase by phase, with the functions `unite-mol evaluate` itself calls.

    python benchmarks/crystal_eval_speed.py perov5_10k.cif --train ../shared/data/perov_5/val.csv --n 10000 --workers 2

Crystals are read as `unite-mol evaluate` reads samples (as they are); the first --n of the file are scored (give it
generated samples: repeats or copies of the data would make the matching look cheaper than it is). With --baseline the
uniqueness is also counted twice more, in the same process and on as many workers, and must give the same count:
pymatgen's own `StructureMatcher.group_structures` on each reduced formula shared by two or more crystals (the grouping
before primitive-size buckets), and the same buckets as `unique_groups` with `StructureMatcher.fit` asked instead of
`crystal_fit` (the grouping before `crystal_fit`); with --train novelty too is counted again with `StructureMatcher.fit`
and must agree.
"""
import argparse
import time

from pymatgen.analysis.structure_matcher import StructureMatcher

from unite_core.jsonio import write_json
from unite_mol.data.crystals import read_crystals, to_pymatgen
from unite_mol.evaluate.crystal import MATCHER, by_composition, check_crystal, novel_count, unique_groups
from unite_mol.evaluate.pool import Chunked, WorkerPool
from unite_mol.structure import Structure


def formula_groups(bucket: list[Structure]) -> int:
    """group_structures' groups among crystals of one reduced formula (the grouping before primitive-size buckets)."""
    if len(bucket) < 2:
        return len(bucket)
    return len(StructureMatcher(**MATCHER).group_structures([to_pymatgen(s) for s in bucket]))


def fit_groups(bucket: list) -> int:
    """Groups among reduced crystals of one primitive-cell bucket, StructureMatcher.fit asked of every pair (the
    grouping before `crystal_fit`)."""
    matcher, groups = StructureMatcher(**MATCHER), 0
    while bucket:
        first, bucket = bucket[0], bucket[1:]
        bucket = [s for s in bucket if not matcher.fit(first, s, skip_structure_reduction=True)]
        groups += 1
    return groups


def fit_novel(task: tuple[list[Structure], list[Structure]]) -> int:
    """How many of `mine` StructureMatcher.fit matches to none of `known` (the novelty count before `crystal_fit`)."""
    mine, known = task
    matcher, known = StructureMatcher(**MATCHER), [to_pymatgen(k) for k in known]
    return sum(not any(matcher.fit(to_pymatgen(s), k, skip_structure_reduction=True) for k in known) for s in mine)


def group_structures_baseline(valid: list[Structure], groups: int, seconds: float, workers: int) -> dict:
    """Uniqueness as it was before primitive-size buckets: group_structures on each reduced formula."""
    start = time.perf_counter()
    by_formula = [[valid[i] for i in members] for members in by_composition(valid).values()]
    with WorkerPool(workers) as pool:
        reference = sum(pool.map(Chunked(formula_groups), by_formula, "group_structures"))
    baseline = {"unique": reference, "seconds": time.perf_counter() - start}
    if reference != groups:
        raise SystemExit(f"uniqueness: {groups} groups, but group_structures finds {reference}")
    print(f"group_structures per formula: the same {groups} groups in {baseline['seconds']:.1f} s, "
          f"{baseline['seconds'] / seconds:.2f}x the time of unique_groups")
    return baseline


def fit_baselines(valid: list[Structure], train: list[Structure], groups: int, novel: int | None,
                  times: dict[str, float], workers: int) -> dict:
    """Uniqueness (and, with training crystals, novelty) as `unite-mol evaluate` counts them, StructureMatcher.fit
    asked instead of `crystal_fit`."""
    start = time.perf_counter()
    baseline = {"unique": unique_groups(valid, workers, group_count=fit_groups)}
    baseline["seconds"] = time.perf_counter() - start
    if baseline["unique"] != groups:
        raise SystemExit(f"uniqueness: {groups} groups, but StructureMatcher.fit finds {baseline['unique']}")
    print(f"the same buckets with StructureMatcher.fit: the same {groups} groups in {baseline['seconds']:.1f} s, "
          f"{baseline['seconds'] / times['uniqueness']:.2f}x the time of unique_groups")
    if train:
        start = time.perf_counter()
        baseline["novel"] = novel_count(valid, train, workers, novel_in=fit_novel)
        baseline["novelty_seconds"] = time.perf_counter() - start
        if baseline["novel"] != novel:
            raise SystemExit(f"novelty: {novel} novel, but StructureMatcher.fit finds {baseline['novel']}")
        print(f"novelty with StructureMatcher.fit: the same {novel} in {baseline['novelty_seconds']:.1f} s, "
              f"{baseline['novelty_seconds'] / times['novelty']:.2f}x the time of novel_count")
    return baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", help="crystals to score (.cif / .extxyz / CSV / folder)")
    parser.add_argument("--train", help="training crystals novelty is measured against (without it: no novelty)")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", action="store_true",
                        help="also time group_structures per reduced formula (the grouping before; the same count)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    clock, times = time.perf_counter(), {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name], clock = now - clock, now
        print(f"{name:<12} {times[name]:8.1f} s", flush=True)

    with WorkerPool(args.workers) as pool:
        structures = read_crystals(args.samples, skip_bad=True, check=False, pool=pool).structures[: args.n]
        train = read_crystals(args.train, skip_bad=True, pool=pool).structures if args.train else []
        lap("read")
        checks = pool.map(Chunked(check_crystal), structures, "validity")
    valid = [s for s, c in zip(structures, checks) if c.valid]
    lap("validity")
    groups = unique_groups(valid, args.workers)
    lap("uniqueness")
    novel = novel_count(valid, train, args.workers) if args.train else None
    lap("novelty")
    total = sum(times.values())
    baseline = fit_baseline = None
    if args.baseline:
        baseline = group_structures_baseline(valid, groups, times["uniqueness"], args.workers)
        fit_baseline = fit_baselines(valid, train, groups, novel, times, args.workers)
    novelty = f"{novel} novel vs {len(train)} training crystals" if args.train else "no novelty without --train"
    print(f"{len(structures)} crystals of {args.samples} ({len(valid)} valid, {groups} unique, {novelty}): {total:.1f} s "
          f"with {args.workers} workers (target < 120 s for 10,000)")
    if args.json:
        write_json(args.json, {"samples": args.samples, "crystals": len(structures), "valid": len(valid),
                               "unique": groups, "novel": novel, "train": len(train), "workers": args.workers, "seconds": times,
                               "total_seconds": total, "baseline_group_structures": baseline,
                               "baseline_structure_matcher_fit": fit_baseline})


if __name__ == "__main__":
    main()
