"""Post-hoc averaging on a QM9 run: the EMA weights of its last N checkpoints averaged element-wise (a longer average
than the EMA's own ~1/(1 − decay) steps), each N sampled on the same seeds and scored by the EDM and RDKit-native
protocols (`mol_diagnose.score`). N = 1 is the run's newest EMA as it is.

    python benchmarks/checkpoint_average.py runs/qm9_warm7 --last 1 4 8 16 --solver sde --steps 40 --sde-noise 5 \
        --temperature 0.4 --seeds 0 1 --n 1000 --json benchmarks/results/checkpoint_average_71258steps_1k.json
"""
import argparse
from dataclasses import asdict

import torch

from unite_core.flow import Solver
from unite_core.jsonio import write_json
from unite_core.train import list_checkpoints, load_checkpoint
from unite_mol.generator import load

from mol_diagnose import score, timed_sample


def averaged(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of EMA state dicts (integer buffers: the newest's)."""
    return {k: torch.stack([s[k].double() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v
            for k, v in states[-1].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run folder whose checkpoints are kept (trainer.keep_ckpts)")
    parser.add_argument("--last", nargs="+", type=int, default=[1, 4, 8, 16], help="how many newest checkpoints to average")
    parser.add_argument("--solver", type=Solver, default=Solver.sde)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--sde-noise", type=float, default=5.0)
    parser.add_argument("--temperature", type=float, default=0.4)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--json", type=str)
    args = parser.parse_args()
    gen = load(args.run)
    checkpoints = list_checkpoints(args.run)
    if max(args.last) > len(checkpoints):
        parser.error(f"{args.run} keeps {len(checkpoints)} checkpoints, fewer than --last {max(args.last)}")
    newest = checkpoints[-max(args.last):]
    emas = [load_checkpoint(c).ema for c in newest]  # each read once, however many windows hold it
    rows = []
    for n_last in args.last:
        window = newest[-n_last:]
        gen.model.load_state_dict(averaged(emas[-n_last:]))
        for seed in args.seeds:
            made, _ = timed_sample(gen, args.n, steps=args.steps, solver=args.solver, seed=seed, sde_noise=args.sde_noise,
                                   temperature=args.temperature)
            rows.append({"last": n_last, "first_checkpoint": window[0].name, "seed": seed,
                         "figures": asdict(score(f"EMA of the last {n_last} ({window[0].name} on), seed {seed}", made))})
    if args.json:
        write_json(args.json, {"run": args.run, "step": gen.step, "solver": args.solver.value, "steps": args.steps,
                               "sde_noise": args.sde_noise, "temperature": args.temperature, "n": args.n, "rows": rows})


if __name__ == "__main__":
    main()
