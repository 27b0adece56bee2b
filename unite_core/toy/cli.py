"""`python -m unite_core.toy train [overrides]` and `python -m unite_core.toy sample --ckpt RUN`."""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from unite_core.cli import add_commands, run_cli, sampler_from_args, train_command
from unite_core.io import atomic_path
from unite_core.toy.data import CLASSES, ToyShapes, heldout_shapes
from unite_core.toy.metrics import ShapeJudge
from unite_core.toy.run import ToyConfig, draw_sizes, load, plot_clouds, sample_clouds, train


def _sample(args: argparse.Namespace) -> int:
    cfg, model = load(args.ckpt)
    sampler = sampler_from_args(cfg.sampler, args)
    data = ToyShapes(cfg.data)
    histogram = data.size_histogram()
    gen = torch.Generator().manual_seed(args.seed)
    labels = torch.arange(args.n) % len(CLASSES)
    start = time.perf_counter()
    clouds = []
    for lo in range(0, args.n, args.batch_size):
        hi = min(args.n, lo + args.batch_size)
        clouds += sample_clouds(model, draw_sizes(histogram, hi - lo, gen), labels[lo:hi], sampler, gen)
    seconds = time.perf_counter() - start
    out = Path(args.out)
    with atomic_path(out) as tmp, tmp.open("wb") as f:
        np.savez(f, labels=labels.numpy(), **{f"cloud_{i}": c for i, c in enumerate(clouds)})
    plot_clouds(clouds, labels.numpy(), out.with_suffix(".png"))
    judge = ShapeJudge(data.clouds, data.labels)
    score = judge.score(clouds, labels.numpy())
    real = heldout_shapes(cfg.data, args.n)
    ceiling = judge.score(real.clouds, real.labels)
    print(f"{args.n} clouds in {seconds:.1f} s ({args.n / seconds:.0f}/s, {sampler.solver.value}, {sampler.steps} steps) -> {out}, {out.with_suffix('.png')}")
    print(f"class match {score.class_match:.3f} (real held-out clouds {ceiling.class_match:.3f}, chance {1 / len(CLASSES):.3f})")
    print(f"distance to nearest real cloud of the class {score.own_class_distance:.3f} (real held-out clouds {ceiling.own_class_distance:.3f})")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m unite_core.toy", description="UNITE on synthetic 2-D point-cloud shapes.")
    _, p_sample = add_commands(parser, "train; Hydra overrides such as trainer=smoke model=tiny run.dir=runs/x",
                            "generate clouds from a run's EMA weights and score them")
    p_sample.add_argument("--ckpt", required=True, help="run folder (newest checkpoint) or checkpoint file")
    p_sample.add_argument("--n", type=int, default=300)
    p_sample.add_argument("--out", default="toy_samples.npz")
    args = parser.parse_args(argv)
    if args.command == "train":
        return train_command("toy", ToyConfig, train, args.overrides, args.print_config, "train.csv, eval.csv, loss.png, samples.png")
    return _sample(args)


def entry() -> None:
    sys.exit(run_cli("unite-toy", main))
