"""Sample quality against training time: the run's kept checkpoints nearest each `--minutes` mark, each scored
by `unite-mol evaluate` (EDM, OpenBabel and RDKit protocols) on `--samples` molecules from its EMA weights.

    unite-mol train dataset=qm9 trainer.minutes=130 trainer.max_steps=6000 trainer.keep_ckpts=100 run.dir=runs/lc
    python benchmarks/learning_curve.py --run runs/lc --minutes 15 30 60 120 \
        --json benchmarks/results/learning_curve_qm9.json --plot benchmarks/results/learning_curve_qm9.png

Training minutes are read from train.csv (the sum of each logged interval's steps / rate, evaluations included),
so the run must keep enough checkpoints (`trainer.keep_ckpts`) to find one near each mark.
"""
import argparse
import csv
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from unite_core.jsonio import write_json
from unite_core.train import list_checkpoints
from unite_mol.chem import perceive
from unite_mol.evaluate import EvalOptions, Protocol, evaluate_files
from unite_mol.formats import write_structures
from unite_mol.generator import load


@dataclass
class Point:
    minutes: float
    step: int
    atom_stable: float  # EDM protocol
    molecule_stable: float
    edm_valid: float
    edm_unique: float  # of valid
    edm_novel: float  # of valid, against the QM9 training split
    openbabel_valid: float  # ADiT / UNITE's protocol
    rdkit_valid: float


def minutes_at_steps(train_csv: Path, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, cumulative wall minutes) at each logged row."""
    with train_csv.open() as f:
        rows = [(float(r["step"]), float(r["samples_per_s"])) for r in csv.DictReader(f) if r.get("samples_per_s")]
    steps = np.array([s for s, _ in rows])
    spans = np.diff(np.concatenate([[0.0], steps])) * batch_size / np.array([r for _, r in rows])
    return steps, np.cumsum(spans) / 60


def score(ckpt: Path, minutes: float, samples: int, steps: int, seed: int, cache: Path) -> Point:
    gen = load(ckpt)
    made = gen.sample(samples, steps=steps, seed=seed, progress=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.sdf"
        write_structures(path, made, [perceive(s) for s in made])
        ev = evaluate_files([path], EvalOptions([Protocol.edm, Protocol.openbabel, Protocol.rdkit], cache=cache))
    point = Point(round(minutes, 1), gen.step, ev.edm.atom_stability, ev.edm.molecule_stability, ev.edm.validity,
                  ev.edm.uniqueness, ev.edm.novelty, ev.openbabel.validity, ev.rdkit.validity)
    print(point, flush=True)
    return point


def plot(points: list[Point], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    x = [p.minutes for p in points]
    for key, label in (("atom_stable", "atom stable (EDM)"), ("molecule_stable", "molecule stable (EDM)"), ("edm_valid", "valid (EDM)"),
                       ("rdkit_valid", "valid (RDKit-native)"), ("openbabel_valid", "valid (OpenBabel, ADiT/UNITE)")):
        ax.plot(x, [100 * getattr(p, key) for p in points], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xticks(x, [f"{m:g}" for m in x])
    ax.set_xlabel("training minutes (CPU)")
    ax.set_ylabel("% of samples")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--minutes", type=float, nargs="+", default=[15, 30, 60, 120])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=50, help="Heun steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("data/cache"), help="where the QM9 training reference is kept")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    cfg = load(args.run).config
    logged, minutes = minutes_at_steps(args.run / "train.csv", cfg.trainer.batch_size)
    kept = {int(p.stem.split("-")[1]): p for p in list_checkpoints(args.run)}
    at = {s: float(np.interp(s, logged, minutes)) for s in kept}
    points = []
    for target in args.minutes:
        step = min(at, key=lambda s: abs(at[s] - target))
        if abs(at[step] - target) > 0.25 * target:
            print(f"no kept checkpoint near {target:g} min (nearest: step {step} at {at[step]:.1f} min); skipped")
            continue
        points.append(score(kept[step], at[step], args.samples, args.steps, args.seed, args.cache))
    if args.json:
        write_json(args.json, {"run": str(args.run), "samples": args.samples, "heun_steps": args.steps, "points": [asdict(p) for p in points]})
    if args.plot and points:
        plot(points, args.plot, f"{args.run.name}: {args.samples} samples per point, Heun {args.steps}")


if __name__ == "__main__":
    main()
