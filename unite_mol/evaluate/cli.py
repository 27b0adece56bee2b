"""`unite-mol evaluate PATH... [--json out.json] [--plot DIR]`: no torch import, so it starts in a fraction of a second."""
import argparse
import time
from pathlib import Path

from unite_mol.evaluate.checks import Protocol
from unite_mol.evaluate.coverage import CoverageCutoffs
from unite_mol.evaluate.reference import TrainSet
from unite_mol.formats import is_crystal_input


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="unite-mol evaluate", description="Score molecules under the EDM, ADiT/OpenBabel, "
                                "RDKit-native and PoseBusters protocols side by side; reconstruction against a reference.")
    p.add_argument("paths", nargs="+", help=".sdf / .xyz / .extxyz files, or folders of them; crystals: CDVAE .csv, .cif, POSCAR, extxyz with a Lattice, .zip of CIFs")
    p.add_argument("--kind", choices=["auto", "molecule", "crystal"], default="auto",
                   help="auto: crystals when every input is a .csv / .cif / .zip / POSCAR / folder of them, or an extxyz with a Lattice")
    p.add_argument("--train", help="crystals: the training crystals (CSV / CIF / extxyz) novelty is measured against")
    p.add_argument("--test", help="crystals: the test crystals the property EMDs are measured against")
    p.add_argument("--coverage", choices=[c.name for c in CoverageCutoffs],
                   help="crystals: COV-R / COV-P against --test with this dataset's CDVAE cut-offs (matminer; ~0.1 s a crystal per worker)")
    p.add_argument("--relax-n", type=int, default=0, help="crystals: CHGNet-relax the first N valid ones (about 3 s each per core)")
    p.add_argument("--dataset", choices=[t.value for t in TrainSet], default="qm9",
                   help="training set for novelty and distributions (none: skip both)")
    p.add_argument("--train-smiles", type=Path, help="novelty against this file (one SMILES per line) instead")
    p.add_argument("--reference", type=Path, nargs="+", help="originals in the same order: reconstruction match + RMSD (crystals: CDVAE match rate + RMSE)")
    p.add_argument("--protocols", default=",".join(p.value for p in Protocol), help="comma-separated subset of %(default)s")
    p.add_argument("--posebusters-n", type=int, default=500,
                   help="PoseBusters on this many OpenBabel-valid molecules (0.1-0.7 s each per core)")
    p.add_argument("--json", type=Path, help="write every figure, protocol, sample count and software version here")
    p.add_argument("--plot", type=Path, help="folder for grid.png (sample molecules) and distributions.png")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cache", type=Path, default=Path("data/cache"), help="where the QM9 training reference and crystal test-set fingerprints are kept")
    return p


def _protocols(text: str) -> list[Protocol]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in Protocol.__members__]
    if unknown or not names:
        raise ValueError(f"--protocols: unknown {unknown or 'empty list'}; choose from {', '.join(Protocol.__members__)}")
    return [Protocol[n] for n in names]


def main(argv: list[str]) -> int:
    from unite_mol.evaluate.inputs import read_entries
    from unite_mol.evaluate.report import table, write_report
    from unite_mol.evaluate.run import EvalOptions, evaluate_entries

    args = parser().parse_args(argv)
    if args.workers < 1 or args.posebusters_n < 0 or args.relax_n < 0:
        raise ValueError("--workers must be at least 1, --posebusters-n and --relax-n at least 0")
    crystals = args.kind == "crystal" or (args.kind == "auto" and all(map(is_crystal_input, args.paths)))
    other_kind = {"--train-smiles": args.train_smiles} if crystals else \
        {"--train": args.train, "--test": args.test, "--coverage": args.coverage, "--relax-n": args.relax_n}
    if given := [flag for flag, value in other_kind.items() if value]:
        kind, options = ("crystal", "--train / --test") if crystals else ("molecule", "--dataset / --train-smiles")
        raise ValueError(f"{', '.join(given)}: not for {kind} files, which take {options} (--kind says which these are)")
    if crystals:
        return _crystals(args)
    options = EvalOptions(_protocols(args.protocols), TrainSet(args.dataset), args.cache, args.train_smiles,
                          args.reference, args.posebusters_n, args.workers)
    start = time.perf_counter()
    entries = read_entries(args.paths)
    evaluation = evaluate_entries(entries, [str(p) for p in args.paths], options)
    print(table(evaluation))
    print(f"\n{len(entries)} molecules in {time.perf_counter() - start:.1f} s")
    if args.json:
        write_report(evaluation, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        _plots(entries, evaluation, options, args.plot)
    return 0


def _crystals(args: argparse.Namespace) -> int:
    from unite_core.jsonio import write_json
    from unite_mol.evaluate.crystal import crystal_table, evaluate_crystal_files

    evaluation = evaluate_crystal_files(args.paths, args.train, args.test, args.workers, args.relax_n,
                                        reference=[str(p) for p in args.reference] if args.reference else None,
                                        coverage_cutoffs=args.coverage and CoverageCutoffs[args.coverage], cache=args.cache)
    print(crystal_table(evaluation))
    print(f"\n{evaluation.crystals} crystals in {evaluation.seconds:.1f} s")
    if args.json:
        from dataclasses import asdict

        write_json(args.json, asdict(evaluation))
        print(f"wrote {args.json}")
    if args.plot:
        from itertools import islice

        from unite_mol.data.crystals import crystal_records
        from unite_mol.formats import BadRecord
        from unite_mol.plot import draw_crystal_grid

        readable = (r for path in args.paths for r in crystal_records(path, check=False) if not isinstance(r, BadRecord))
        draw_crystal_grid(list(islice(readable, 16)), args.plot / "grid.png", count=16)  # read only the crystals drawn
        print(f"plots in {args.plot}")
    return 0


def _plots(entries, evaluation, options, folder: Path) -> None:
    from unite_mol.chem import perceive
    from unite_mol.evaluate.plot import plot_distributions
    from unite_mol.evaluate.reference import qm9_reference
    from unite_mol.plot import draw_grid

    implicit = evaluation.implicit_hydrogens
    draw_grid([perceive(e.structure, implicit) for e in entries[:200] if e.structure is not None], folder / "grid.png")
    if evaluation.distribution is not None and options.train_set is TrainSet.qm9:
        plot_distributions(evaluation.distribution, qm9_reference(options.cache, not implicit)[0], folder / "distributions.png")
    print(f"plots in {folder}")
