"""`unite-image train [overrides]`, `sample --ckpt RUN --n 64 --out samples/`, `fid --ckpt RUN --ref stats.npz`,
`fid-stats DIR --out stats.npz`."""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

from unite_core.cli import add_commands, add_sampler_options, run_cli, sampler_from_args, train_command


def class_labels(n: int, num_classes: int, classes: str | None, balanced: bool, seed: int):
    """n labels: the listed classes cycled, every class cycled (balanced), or drawn uniformly with `seed`."""
    import torch

    if classes:
        chosen = [int(c) for c in classes.split(",")]
        if any(not 0 <= c < num_classes for c in chosen):
            raise ValueError(f"--classes: every class must be in [0, {num_classes})")
    elif balanced:
        chosen = list(range(num_classes))
    else:
        chosen = torch.randint(num_classes, (n,), generator=torch.Generator().manual_seed(seed)).tolist()
    return torch.tensor([chosen[i % len(chosen)] for i in range(n)])


def _sample(args: argparse.Namespace) -> int:
    import torch
    from PIL import Image

    from unite_core.io import atomic_path
    from unite_image.grid import save_grid, to_uint8
    from unite_image.run import generate_images, load

    cfg, model, classes, step = load(args.ckpt, args.device)
    sampler = sampler_from_args(cfg.sampler, args)
    labels = class_labels(args.n, len(classes), args.classes, args.balanced, args.seed)
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
    print(f"{args.n} images in {seconds:.1f} s ({args.n / seconds:.2f}/s, {sampler.solver.value}, {sampler.steps} steps, cfg {args.cfg}) "
          f"from step {step} -> {out}/ (PNGs, grid.png, samples.npz)")
    return 0


def _fid_stats(args: argparse.Namespace) -> int:
    from unite_image.fid import load_fid_inception
    from unite_image.fid.measure import folder_stats

    net = load_fid_inception(args.cache, args.device)
    start = time.perf_counter()
    stats, skipped = folder_stats(net, Path(args.folder), args.crop, args.batch_size, args.device)
    seconds = time.perf_counter() - start
    stats.save(Path(args.out))
    note = f"; skipped {len(skipped)} unreadable files, e.g. {skipped[0]}" if skipped else ""
    print(f"{stats.count} images in {seconds:.1f} s ({stats.count / seconds:.1f}/s) -> {args.out}{note}")
    return 0


def _fid(args: argparse.Namespace) -> int:
    import torch

    from unite_image.data import ImageFolder
    from unite_image.fid import FeatureStats, frechet_distance, load_fid_inception
    from unite_image.fid.measure import recon_stats, sample_stats
    from unite_image.run import load

    cfg, model, classes, step = load(args.ckpt, args.device)
    net = load_fid_inception(args.cache, args.device)
    start = time.perf_counter()
    if args.recon:
        reference, stats = recon_stats(net, model, ImageFolder(args.recon, cfg.data.image_size), args.n, args.batch_size, args.device)
        what = f"rFID, {stats.count} reconstructions of {args.recon} against the originals"
    else:
        if not args.ref:
            raise ValueError("fid: --ref stats.npz is needed (or --recon DIR for rFID)")
        reference = FeatureStats.load(args.ref)
        sampler = sampler_from_args(cfg.sampler, args)
        labels = class_labels(args.n, len(classes), None, True, args.seed)
        generator = torch.Generator(device=args.device).manual_seed(args.seed)
        stats = sample_stats(net, model, labels, sampler, args.batch_size, generator, args.device)
        what = f"FID, {stats.count} class-balanced samples ({sampler.solver.value} {sampler.steps} steps, cfg {args.cfg}) against {args.ref}"
    if args.save_stats:
        stats.save(Path(args.save_stats))
    print(f"{what}, step {step}: {frechet_distance(stats, reference):.3f} ({time.perf_counter() - start:.0f} s)")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="unite-image", description="UNITE for images: single-stage tokenizer + latent flow.")
    sub, p_sample = add_commands(parser, "train; Hydra overrides such as data=demo trainer=smoke model=tiny data.path=DIR",
                                 "generate class-conditional images from a run's EMA weights")
    p_sample.add_argument("--ckpt", default="runs/image", help="run folder (newest checkpoint) or checkpoint file")
    p_sample.add_argument("--n", type=int, default=64)
    p_sample.add_argument("--classes", help="comma-separated class indices, cycled over the n images")
    p_sample.add_argument("--balanced", action="store_true", help="cycle over every class (FID-50K style)")
    p_sample.add_argument("--out", default="samples")
    p_sample.add_argument("--device", default="cpu")
    p_stats = sub.add_parser("fid-stats", help="FID statistics (mu, sigma) of a folder of images -> .npz")
    p_stats.add_argument("folder")
    p_stats.add_argument("--out", required=True)
    p_stats.add_argument("--crop", type=int, help="ADM centre crop to this size first (e.g. 256 for ImageNet)")
    p_fid = sub.add_parser("fid", help="FID of a run's class-balanced samples against reference statistics, or rFID")
    add_sampler_options(p_fid)
    p_fid.add_argument("--ckpt", default="runs/image")
    p_fid.add_argument("--n", type=int, default=50000)
    p_fid.add_argument("--ref", help="reference statistics .npz (mu, sigma), e.g. from fid-stats")
    p_fid.add_argument("--recon", help="rFID instead: reconstruct the images of this ImageFolder and compare with them")
    p_fid.add_argument("--save-stats", help="also write the samples' statistics here")
    for p in (p_stats, p_fid):
        p.add_argument("--device", default="cpu")
        p.add_argument("--cache", type=Path, default=Path("data/cache"), help="where the converted Inception weights are kept")
    p_stats.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args(argv)
    if args.command == "fid-stats":
        return _fid_stats(args)
    if args.command == "fid":
        if args.n < 2:
            parser.error("--n must be at least 2")
        return _fid(args)
    if args.command == "train":
        from unite_image.run import ImageConfig, train

        return train_command("image", ImageConfig, train, args.overrides, args.print_config,
                             "train.csv, eval.csv, loss.png, reconstructions.png, samples.png, classes.txt")
    if args.n < 1:
        parser.error("--n must be at least 1")
    return _sample(args)


def entry() -> None:
    sys.exit(run_cli("unite-image", main))
