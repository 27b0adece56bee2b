"""Image training throughput (fp32 vs bf16 autocast, same process, same batch) and FID feature throughput.

    python benchmarks/image_speed.py                                   # the CPU demo setting (tiny GE, 32 px)
    python benchmarks/image_speed.py --batch 64 data=imagenet model=B  # the paper's 256 px B on a GPU
    python benchmarks/image_speed.py --batch 64 --precisions bf16 --compile --fid-untrained data=imagenet model=B
    python benchmarks/image_speed.py --precisions fp32 --lpips random  # the cost of the perceptual term

Trailing arguments are `unite-image train` overrides; the batch is synthetic (random pixels and labels).
"""
import argparse
import time

import torch

from unite_core.config import compose, validate
from unite_core.nn import compile_blocks
from unite_image.data import ImageBatch
from unite_image.fid import FIDInception, load_fid_inception
from unite_image.lpips import LPIPS, PerceptualLoss, lpips_lin_path, random_vgg16
from unite_image.run import ImageConfig, build_model

from step_timer import train_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--fid-images", type=int, default=100)
    parser.add_argument("--cache", default="data/cache")
    parser.add_argument("--precisions", default="fp32,bf16", help="comma-separated: fp32 and/or bf16 (autocast)")
    parser.add_argument("--lpips", default=None, help="add the perceptual loss: a VGG16 state_dict, or 'random' (same arithmetic)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks (as trainer.compile=true)")
    parser.add_argument("--fid-untrained", action="store_true",
                        help="time the FID network with untrained weights (same arithmetic) where the converted weights are not at hand")
    args = parser.parse_args()
    cfg = validate(compose("image", ["data.path=unused", *args.overrides], ImageConfig), ImageConfig)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    size = cfg.data.image_size
    gen = torch.Generator().manual_seed(0)
    batch = ImageBatch(torch.rand(args.batch, 3, size, size, generator=gen) * 2 - 1, torch.randint(args.classes, (args.batch,), generator=gen))
    print(f"device: {where}; torch {torch.__version__}; GE {cfg.model.preset}, {size} px, patch {cfg.tokens.patch}, "
          f"{cfg.tokens.latents} x {cfg.tokens.latent_dim} latents, K={cfg.flow.k}, batch {args.batch}"
          f"{', compiled blocks' if args.compile else ''}{', L1 + LPIPS' if args.lpips else ', L1'}")
    perceptual = None
    if args.lpips:
        vgg = random_vgg16() if args.lpips == "random" else torch.load(args.lpips, map_location="cpu", weights_only=True)
        perceptual = PerceptualLoss(LPIPS(vgg, torch.load(lpips_lin_path(), map_location="cpu", weights_only=True)), 1.0)
    for precision in args.precisions.split(","):
        bf16 = {"fp32": False, "bf16": True}[precision]
        torch.manual_seed(0)
        model = build_model(cfg, args.classes, perceptual).to(device)
        parameters = sum(p.numel() for p in model.parameters())
        if args.compile:
            compile_blocks(model)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        name = "bf16 autocast" if bf16 else "fp32"
        try:
            rate = train_rate(model, batch.to(device), args.batch, args.steps, args.warmup, bf16, device)
        except torch.OutOfMemoryError:
            print(f"{name:>14}: out of memory at batch {args.batch}")
            continue
        finally:
            del model
            torch.cuda.empty_cache()
        memory = f", peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if device.type == "cuda" else ""
        print(f"{name:>14}: {rate:8.1f} images/s{memory} ({parameters / 1e6:.1f} M parameters)")
    net = FIDInception().to(device).eval() if args.fid_untrained else load_fid_inception(args.cache, str(device))
    images = (torch.rand(50, 3, size, size, generator=gen) * 255).to(torch.uint8).to(device)
    with torch.no_grad():
        net(images[:2])
        start = time.perf_counter()
        for _ in range(max(1, args.fid_images // 50)):
            net(images)
        if device.type == "cuda":
            torch.cuda.synchronize()
    done = max(1, args.fid_images // 50) * 50
    weights = ", untrained weights" if args.fid_untrained else ""
    print(f"FID features: {done / (time.perf_counter() - start):.1f} images/s (batch 50, resized to 299{weights})")


if __name__ == "__main__":
    main()
