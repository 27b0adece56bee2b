"""Autoguidance of a QM9 model: the same noise draws sampled unguided and guided by weaker models of the same lineage
(earlier checkpoints, or packed models it was warm-started from) at several scales, scored by the EDM and RDKit-native
protocols (`mol_diagnose.score`), with the sampling speed.

    python benchmarks/autoguidance.py --ckpt MODEL --guide WEAK [WEAK ...] --scales 1.5 2 2.5 --n 1000 --seeds 0 1 \
        --steps 10 5 --grid-shift 3 --json benchmarks/results/autoguidance_qm9_1k.json

A guided evaluation runs the model and its guide, so Heun with S steps guided costs what 2·S steps unguided cost:
compare a guided row with the unguided row of twice its steps for equal compute.
"""
import argparse
from dataclasses import asdict, dataclass

from unite_core.flow import Solver
from unite_core.jsonio import write_json
from unite_mol.generator import load

from mol_diagnose import Row, score, timed_sample


@dataclass
class GuidedRow:
    guide: str | None  # None: unguided
    scale: float
    steps: int
    seed: int
    molecules_per_s: float
    figures: Row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default="qm9", help="the model (run, checkpoint, packed file or 'qm9')")
    parser.add_argument("--guide", nargs="+", required=True, help="weaker models of the same latent space")
    parser.add_argument("--scales", nargs="+", type=float, default=[1.5, 2.0, 2.5])
    parser.add_argument("--steps", nargs="+", type=int, default=[10], help="Heun steps")
    parser.add_argument("--grid-shift", type=float, default=3.0)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--json", type=str)
    args = parser.parse_args()
    rows = []
    for guide in [None, *args.guide]:
        gen = load(args.ckpt, guide=guide)
        for scale in [1.0] if guide is None else args.scales:
            for steps in args.steps:
                for seed in args.seeds:
                    made, speed = timed_sample(gen, args.n, steps=steps, solver=Solver.heun, grid_shift=args.grid_shift, seed=seed,
                                               guide_scale=scale)
                    what = f"{'unguided' if guide is None else f'{guide} x{scale:g}'}, heun {steps}, seed {seed}"
                    rows.append(GuidedRow(guide, scale, steps, seed, speed, score(what, made)))
    if args.json:
        write_json(args.json, {"checkpoint": args.ckpt, "grid_shift": args.grid_shift, "n": args.n, "rows": [asdict(r) for r in rows]})


if __name__ == "__main__":
    main()
