"""The paper's central claim on molecules: UNITE (joint) against a staged and a no-tokenizer baseline, each
with the same GE, data, CPU minutes and evaluation.

    python benchmarks/equal_compute.py --data qm9_train1k.xyz --minutes 30 --out runs/equal \
        --json benchmarks/results/equal_compute_1k.json --plot benchmarks/results/equal_compute_1k.png

- joint:  `objective.recipe=joint`, the whole budget (UNITE, the default);
- staged: `objective.recipe=tokenizer` for half the budget, then `objective.recipe=latent_flow` on its frozen
  tokenizer for the other half (ADiT's recipe);
- direct: `objective.recipe=direct`, the whole budget: the GE as a flow on one-hot elements + coordinates.
Every run gets the same extra overrides (`--set`), `trainer.max_steps` large enough that the time budget
ends it (so the learning rate stays at its peak after warm-up for all three), one thread per run. Each is then
scored by `mol_diagnose.py`'s rows: round trip and one prediction from t = 0.95 on `--n` training molecules,
and `--samples` molecules from noise (Heun, `--steps`), with uniqueness and novelty against the run's
training molecules. A run folder that already holds a checkpoint is taken as trained (delete it to redo it).
"""
import argparse
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from mol_diagnose import Row, diagnose, sample_row, training_smiles
from unite_core.jsonio import write_json
from unite_core.train import load_run
from unite_mol.batch import ElementVocab
from unite_mol.data import load_data
from unite_mol.generator import load
from unite_mol.run import MolConfig

RECIPES = ("joint", "staged", "direct")
KEPT_ROWS = ("round trip (t = 1)", "one x-prediction from t = 0.95", "one x-prediction from t = 0.8")


@dataclass
class Result:
    recipe: str
    run: str
    steps: int  # optimiser steps in the budget (staged: stage 1 + stage 2)
    minutes: float
    rows: list[Row] = field(default_factory=list)


def train(run: Path, minutes: float, overrides: list[str], threads: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "unite_mol", "train", *overrides, f"trainer.minutes={minutes}", "trainer.max_steps=1000000",
           "trainer.progress=false", f"run.dir={run}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    run.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=(run.parent / f"{run.name}.log").open("w"))


def chain(recipe: str, out: Path, args: argparse.Namespace) -> list[tuple[Path, float, list[str]]]:
    """(run folder, minutes, overrides) for each stage of a recipe."""
    common = [f"data.path={args.data}", *args.set] if args.data else list(args.set)
    if recipe == "staged":
        half, stage_one = args.minutes / 2, out / "staged_tokenizer"
        return [(stage_one, half, [*common, "objective.recipe=tokenizer"]),
                (out / "staged", half, [*common, "objective.recipe=latent_flow", f"tokenizer_run={stage_one}"])]
    return [(out / recipe, args.minutes, [*common, f"objective.recipe={recipe}"])]


def trained(run: Path) -> bool:
    return any((run / "checkpoints").glob("*.pt"))


def train_all(args: argparse.Namespace) -> None:
    """Each recipe's stages in order; up to `--parallel` recipes at a time."""
    pending = [chain(r, args.out, args) for r in args.recipes]
    running: list[tuple[subprocess.Popen, list]] = []
    while pending or running:
        while pending and len(running) < args.parallel:
            stages = pending.pop(0)
            while stages and trained(stages[0][0]):
                stages = stages[1:]
            if stages:
                run, minutes, overrides = stages[0]
                print(f"training {run} for {minutes} min", flush=True)
                running.append((train(run, minutes, overrides, args.threads), stages[1:]))
        if not running:
            break
        proc, rest = running.pop(0)
        if proc.wait() != 0:
            raise SystemExit(f"a training run failed (exit {proc.returncode}); see the .log files under {args.out}")
        if rest:
            pending.insert(0, rest)


def evaluate(recipe: str, args: argparse.Namespace, train_smiles: set[str]) -> Result:
    run = args.out / recipe
    gen = load(run)
    steps = gen.step + (load_run(args.out / "staged_tokenizer", MolConfig, "a molecule")[0].step if recipe == "staged" else 0)
    result = Result(recipe, str(run), steps, args.minutes)
    data = load_data(gen.config.data)
    molecules = [data.train[i] for i in range(min(args.n, len(data.train)))]
    if molecules:
        rows, _ = diagnose(gen.model, molecules, ElementVocab(gen.config.data.elements), gen.config.data.dataset_id, args.seed)
        result.rows = [r for r in rows if r.what in KEPT_ROWS]
    result.rows.append(sample_row(gen, args.samples, args.steps, args.seed, train_smiles))
    return result


def plot(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [("atom_stable", "atom stable"), ("molecule_stable", "molecule stable"), ("valid", "EDM valid"),
               ("rdkit_valid", "RDKit valid"), ("unique", "unique (of valid)"), ("novel", "novel (of valid)")]
    fig, ax = plt.subplots(figsize=(9, 3.5))
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        s = r.rows[-1]
        values = [100 * (getattr(s, k) or 0.0) for k, _ in metrics]
        ax.bar([j + i * width for j in range(len(metrics))], values, width, label=f"{r.recipe} ({r.steps} steps)")
    ax.set_xticks([j + width * (len(results) - 1) / 2 for j in range(len(metrics))], [m for _, m in metrics])
    ax.set_ylabel("% of samples")
    ax.set_title(f"{results[0].minutes:g} CPU-min each, samples from noise")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="data.path for dataset=files (else the config's dataset)")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("runs/equal"))
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=list(RECIPES))
    parser.add_argument("--set", nargs="*", default=["dataset=files", "data.elements=[H,C,N,O,F]"],
                        help="overrides every run gets")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=1, help="recipes trained at once")
    parser.add_argument("--n", type=int, default=500, help="training molecules for the round-trip rows")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    train_all(args)
    torch.set_grad_enabled(False)
    smiles = training_smiles(load(args.out / args.recipes[0]).config.data)
    results = [evaluate(r, args, smiles) for r in args.recipes]
    names = [row.what for row in results[0].rows]
    print(f"\n| recipe ({args.minutes:g} min each; atom / molecule stable / EDM valid / RDKit valid) | steps | " + " | ".join(names) + " | unique | novel |")
    print("|---" * (len(names) + 4) + "|")
    for r in results:
        cells = [f"{x.atom_stable:.1%} / **{x.molecule_stable:.1%}** / {x.valid:.1%} / {x.rdkit_valid:.1%}" for x in r.rows]
        s = r.rows[-1]
        print(f"| {r.recipe} | {r.steps} | " + " | ".join(cells) + f" | {s.unique:.1%} | {s.novel:.1%} |")
    if args.json:
        write_json(args.json, [asdict(r) for r in results])
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
