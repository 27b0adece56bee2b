"""The SDE sampler against the ODE on a QM9 model: the same seeds sampled by Heun (the ODE) and by Euler–Maruyama
(`solver=sde`, diffusion w(t) = C·(1 − t)) at several noise levels C, unguided and at the model's autoguidance scale,
optionally at several sampling temperatures (every noise drawn scaled by τ; default: the model's own), scored by the
EDM and RDKit-native protocols (`mol_diagnose.score`), with the sampling speed.

    python benchmarks/sde_sampler.py --ckpt qm9 --heun 20 --sde-steps 40 --noise 2 4 8 16 --n 1000 --seeds 0 1 \
        [--temperatures 0.5 0.4] --json benchmarks/results/sde_sampler_qm9_1k.json

Heun with S steps costs 2·S model evaluations, Euler–Maruyama with S steps S: `--heun 20` and `--sde-steps 40` are
equal compute; `--heun 0` leaves the ODE rows out.
"""
import argparse
from dataclasses import asdict, dataclass
from itertools import product

from unite_core.flow import Solver
from unite_core.jsonio import write_json
from unite_mol.generator import load

from mol_diagnose import Row, score, timed_sample


@dataclass
class SamplerRow:
    solver: str
    steps: int
    noise: float | None  # the SDE's C; None for the ODE
    guide_scale: float
    temperature: float
    seed: int
    molecules_per_s: float
    figures: Row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default="qm9", help="the model (run, checkpoint, packed file or 'qm9')")
    parser.add_argument("--heun", type=int, default=20, help="Heun steps of the ODE row (0: none)")
    parser.add_argument("--sde-steps", type=int, default=40, help="Euler–Maruyama steps of the SDE rows")
    parser.add_argument("--noise", nargs="+", type=float, default=[2.0, 4.0, 8.0, 16.0])
    parser.add_argument("--guide-scales", nargs="+", type=float, help="default: 1 and the model's own scale, if it has a guide")
    parser.add_argument("--temperatures", nargs="+", type=float, help="scales of the noise the sampler draws (default: the model's)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--json", type=str)
    args = parser.parse_args()
    gen = load(args.ckpt)
    scales = args.guide_scales or sorted({1.0, gen.config.sampler.guide_scale})
    temperatures = args.temperatures or [gen.config.sampler.temperature]
    runs = ([(Solver.heun, args.heun, None)] if args.heun else []) + [(Solver.sde, args.sde_steps, c) for c in args.noise]
    rows = []
    for scale, (solver, steps, noise), tau, seed in product(scales, runs, temperatures, args.seeds):
        made, speed = timed_sample(gen, args.n, steps=steps, solver=solver, seed=seed, guide_scale=scale, sde_noise=noise, temperature=tau)
        what = f"{solver.value} {steps}{f' C={noise:g}' if noise is not None else ''}, guide x{scale:g}, temperature {tau:g}, seed {seed}"
        rows.append(SamplerRow(solver.value, steps, noise, scale, tau, seed, speed, score(what, made)))
    if args.json:
        write_json(args.json, {"checkpoint": args.ckpt, "grid_shift": gen.config.sampler.grid_shift, "n": args.n,
                               "rows": [asdict(r) for r in rows]})


if __name__ == "__main__":
    main()
