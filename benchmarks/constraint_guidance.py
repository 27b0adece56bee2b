"""Constraint guidance on a QM9 model: the same draws sampled plainly and with every prediction guided toward an even
valence sum (`--constraint-scale W --constraint-interval LO,HI`, `unite_mol/closed_shell.py`), scored by the EDM and
RDKit-native protocols (`mol_diagnose.score`, with the share of odd compositions) and OpenBabel's one-piece fraction
(the figure the element changes can cost), with the sampling speed. Each setting is SCALE:LO:HI; `--temperatures`
repeats them at other sampling temperatures (default: the model's own).

    python benchmarks/constraint_guidance.py --ckpt qm9 --settings 0:0:1 1:0:1 1:0:0.5 1:0.5:1 3:0:0.7 10:0:0.7 \
        --n 1000 --seeds 0 1 --json benchmarks/results/constraint_guidance_qm9_1k.json
"""
import argparse
from dataclasses import asdict, dataclass
from itertools import product

from unite_core.jsonio import write_json
from unite_mol.evaluate.babel import check_babel
from unite_mol.evaluate.scores import score_babel
from unite_mol.generator import load

from mol_diagnose import Row, score, timed_sample


@dataclass
class GuidedRow:
    scale: float
    interval: tuple[float, float]
    temperature: float
    seed: int
    molecules_per_s: float
    openbabel_connected: float  # valid under the OpenBabel protocol and in one piece
    figures: Row


def setting(text: str) -> tuple[float, float, float]:
    scale, lo, hi = (float(v) for v in text.split(":"))
    return scale, lo, hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default="qm9", help="a QM9 model (run, checkpoint, packed file or 'qm9')")
    parser.add_argument("--settings", nargs="+", type=setting, default=[(0.0, 0.0, 1.0), (3.0, 0.0, 0.7)], help="SCALE:LO:HI")
    parser.add_argument("--temperatures", nargs="+", type=float, help="scales of the noise the sampler draws (default: the model's)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--json", type=str)
    args = parser.parse_args()
    gen = load(args.ckpt)
    temperatures = args.temperatures or [gen.config.sampler.temperature]
    rows = []
    for tau, (scale, lo, hi), seed in product(temperatures, args.settings, args.seeds):
        made, speed = timed_sample(gen, args.n, seed=seed, constraint_scale=scale, constraint_interval=(lo, hi), temperature=tau)
        connected = score_babel([check_babel(s) for s in made], None).connected
        what = f"scale {scale:g} on [{lo:g}, {hi:g}], temperature {tau:g}, seed {seed}, {speed:.1f}/s, OpenBabel one piece {connected:.3f}"
        rows.append(GuidedRow(scale, (lo, hi), tau, seed, speed, connected, score(what, made)))
    if args.json:
        s = gen.config.sampler
        write_json(args.json, {"checkpoint": args.ckpt, "n": args.n, "sampler": f"{s.solver.value} {s.steps}, noise {s.sde_noise:g}, "
                               f"grid shift {s.grid_shift:g}", "rows": [asdict(r) for r in rows]})


if __name__ == "__main__":
    main()
