"""`unite-image train [overrides]` and `unite-image sample --ckpt RUN --n 64 --out samples/`."""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

from unite_core.cli import add_commands, run_cli, train_command


def _labels(args: argparse.Namespace, num_classes: int):
    import torch

    if args.classes:
        labels = [int(c) for c in args.classes.split(",")]
        if any(not 0 <= c < num_classes for c in labels):
            raise ValueError(f"--classes: every class must be in [0, {num_classes})")
    elif args.balanced:
        labels = list(range(num_classes))
    else:
        labels = torch.randint(num_classes, (args.n,), generator=torch.Generator().manual_seed(args.seed)).tolist()
    return torch.tensor([labels[i % len(labels)] for i in range(args.n)])


def _interval(text: str) -> tuple[float, float]:
    lo, hi = (float(x) for x in text.split(","))
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"--cfg-interval {text!r}: want LO,HI with 0 <= LO < HI <= 1")
    return lo, hi


def _sample(args: argparse.Namespace) -> int:
    import torch
    from PIL import Image

    from unite_core.flow import Solver
    from unite_core.io import atomic_path
    from unite_image.grid import save_grid, to_uint8
    from unite_image.run import generate_images, load

    cfg, model, classes, step = load(args.ckpt, args.device)
    sampler = cfg.sampler
    sampler.steps, sampler.solver, sampler.cfg_scale = args.steps, Solver[args.solver], args.cfg
    sampler.cfg_interval = _interval(args.cfg_interval)
    labels = _labels(args, len(classes))
    gen = torch.Generator(device=args.device).manual_seed(args.seed)
    start = time.perf_counter()
    images = torch.cat([generate_images(model, labels[lo : lo + args.batch_size], sampler, gen)
                        for lo in range(0, args.n, args.batch_size)])
    seconds = time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pixels = to_uint8(images)
    for i, (image, label) in enumerate(zip(pixels, labels.tolist())):
        with atomic_path(out / f"{i:06d}_class{label}.png") as tmp:
            Image.fromarray(image).save(tmp, format="PNG")
    save_grid(images[:64], out / "grid.png", rows=max(1, min(64, args.n) // 8))
    with atomic_path(out / "samples.npz") as tmp, tmp.open("wb") as f:
        np.savez(f, arr_0=pixels, labels=labels.numpy())
    print(f"{args.n} images in {seconds:.1f} s ({args.n / seconds:.2f}/s, {args.solver}, {args.steps} steps, cfg {args.cfg}) "
          f"from step {step} -> {out}/ (PNGs, grid.png, samples.npz)")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="unite-image", description="UNITE for images: single-stage tokenizer + latent flow.")
    p_sample = add_commands(parser, "train; Hydra overrides such as data=demo trainer=smoke model=tiny data.path=DIR",
                            "generate class-conditional images from a run's EMA weights")
    p_sample.add_argument("--ckpt", default="runs/image", help="run folder (newest checkpoint) or checkpoint file")
    p_sample.add_argument("--n", type=int, default=64)
    p_sample.add_argument("--classes", help="comma-separated class indices, cycled over the n images")
    p_sample.add_argument("--balanced", action="store_true", help="cycle over every class (FID-50K style)")
    p_sample.add_argument("--cfg-interval", default="0.1,1.0", help="guidance applies for t in [LO, HI]")
    p_sample.add_argument("--out", default="samples")
    p_sample.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if args.command == "train":
        from unite_image.run import ImageConfig, train

        return train_command("image", ImageConfig, train, args.overrides, args.print_config,
                             "train.csv, eval.csv, loss.png, reconstructions.png, samples.png, classes.txt")
    if args.n < 1:
        parser.error("--n must be at least 1")
    return _sample(args)


def entry() -> None:
    sys.exit(run_cli("unite-image", main))
