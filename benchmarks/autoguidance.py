"""Autoguidance of a QM9 model: the same noise draws sampled unguided and guided by weaker models of the same lineage
(earlier checkpoints, or packed models it was warm-started from) at several scales and t-intervals, scored by the EDM
and RDKit-native protocols (`mol_diagnose.score`), with the sampling speed; optionally at several sampling
temperatures (`--temperatures 1 0.5`: every noise the sampler draws scaled by it).

    python benchmarks/autoguidance.py --ckpt MODEL --guide WEAK [WEAK ...] --scales 1.5 2 2.5 --n 1000 --seeds 0 1 \
        --steps 10 5 --grid-shift 3 [--solver sde --sde-noise 3] [--intervals 0,1 0,0.8] [--every 1 4] [--temperatures 1 0.5] \
        --json benchmarks/results/x.json

A guided evaluation runs the model and its guide, so Heun with S steps guided costs what 2·S steps unguided cost:
compare a guided row with the unguided row of twice its steps for equal compute. Outside its interval a step runs
the model alone; with `--every K` the guide runs at one evaluation in K (1 + 1/K model calls an evaluation).
"""
import argparse
from dataclasses import asdict, dataclass
from itertools import product

from unite_core.cli import t_interval
from unite_core.flow import Solver
from unite_core.jsonio import write_json
from unite_mol.generator import MolGenerator, load

from mol_diagnose import Row, score, timed_sample


@dataclass
class GuidedRow:
    guide: str | None  # None: unguided
    scale: float
    interval: tuple[float, float]  # autoguided for t in it
    every: int  # the guide at one evaluation in `every`
    steps: int
    temperature: float
    seed: int
    molecules_per_s: float
    figures: Row


def guided_row(gen: MolGenerator, guide: str | None, scale: float, interval: tuple[float, float], every: int, steps: int,
               temperature: float, seed: int, args: argparse.Namespace) -> GuidedRow:
    solver = Solver[args.solver]
    made, speed = timed_sample(gen, args.n, steps=steps, solver=solver, grid_shift=args.grid_shift, seed=seed, guide_scale=scale,
                               sde_noise=args.sde_noise, guide_interval=interval, guide_every=every, temperature=temperature)
    how = "unguided" if guide is None else f"{guide} x{scale:g} for t in [{interval[0]:g}, {interval[1]:g}], once in {every}"
    what = f"{how}, {solver.value} {steps}, temperature {temperature:g}, seed {seed}"
    return GuidedRow(guide, scale, interval, every, steps, temperature, seed, speed, score(what, made))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default="qm9", help="the model (run, checkpoint, packed file or 'qm9')")
    parser.add_argument("--guide", nargs="+", help="weaker models of the same latent space (default: the one packed with --ckpt)")
    parser.add_argument("--scales", nargs="+", type=float, default=[1.5, 2.0, 2.5])
    parser.add_argument("--intervals", nargs="+", default=["0,1"], help="LO,HI: autoguided for t in [LO, HI]")
    parser.add_argument("--every", nargs="+", type=int, default=[1], help="K: the guide at one evaluation in K")
    parser.add_argument("--steps", nargs="+", type=int, default=[10])
    parser.add_argument("--solver", choices=[s.name for s in Solver], default="heun")
    parser.add_argument("--sde-noise", type=float, help="--solver sde: C (default: the model's)")
    parser.add_argument("--grid-shift", type=float, default=3.0)
    parser.add_argument("--temperatures", nargs="+", type=float, default=[1.0], help="scales of the noise the sampler draws")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--json", type=str)
    args = parser.parse_args()
    intervals = [t_interval(text, "--intervals") for text in args.intervals]
    plain = load(args.ckpt)
    rows = [guided_row(plain, None, 1.0, (0.0, 1.0), 1, steps, tau, seed, args)
            for steps, tau, seed in product(args.steps, args.temperatures, args.seeds)]
    for guide in args.guide or [None]:  # None: the weaker model packed with the model
        gen = load(args.ckpt, guide=guide)
        if gen.guide is None:
            parser.error(f"{args.ckpt} was packed without a guide: give --guide")
        rows += [guided_row(gen, guide or "packed", scale, interval, every, steps, tau, seed, args) for scale, interval, every, steps, tau, seed
                 in product(args.scales, intervals, args.every, args.steps, args.temperatures, args.seeds)]
    if args.json:
        write_json(args.json, {"checkpoint": args.ckpt, "grid_shift": args.grid_shift, "solver": args.solver, "sde_noise": args.sde_noise,
                               "n": args.n, "rows": [asdict(r) for r in rows]})


if __name__ == "__main__":
    main()
