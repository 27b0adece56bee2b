"""Training throughput of the joint UNITE step (tokenize + decode + K flow repeats + backward + AdamW),
fp32 against bf16 autocast, in one process on the same batches.

    python benchmarks/train_speed.py                      # the tiny preset on this machine
    python benchmarks/train_speed.py --presets B --batch 256 --latents 64   # a GPU
"""
import argparse

import torch

from unite_core.model import UNITE, FlowConfig, ObjectiveConfig
from unite_core.nn import ModelConfig, TrunkConfig
from unite_core.toy.adapter import PointDecoder, PointTokenizer
from unite_core.toy.data import PointBatch

from step_timer import train_rate


def toy_batch(batch: int, points: int, device: torch.device) -> PointBatch:
    sizes = torch.randint(points // 2, points + 1, (batch,))
    mask = torch.arange(points)[None] < sizes[:, None]
    return PointBatch(torch.randn(batch, points, 2) * mask[..., None], mask, torch.randint(0, 3, (batch,))).to(device)


def samples_per_s(preset: str, bf16: bool, args: argparse.Namespace, device: torch.device) -> float:
    torch.manual_seed(0)
    ge = ModelConfig(preset=preset).resolve()
    decoder = PointDecoder(TrunkConfig(depth=args.decoder_depth, width=ge.width, heads=ge.heads), args.latent_dim, args.latents)
    model = UNITE(PointTokenizer(ge.width), decoder, ge, ObjectiveConfig(latent_dim=args.latent_dim), FlowConfig(), args.latents, 3).to(device)
    batch = toy_batch(args.batch, args.latents, device)
    return train_rate(model, batch, args.batch, args.steps, args.warmup, bf16, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny", help="comma-separated GE presets; S and up are GPU-sized")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--latents", type=int, default=32, help="latent tokens per sample (= points)")
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--decoder-depth", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {where}; torch {torch.__version__}; batch {args.batch} x {args.latents} latents, K=3")
    print(f"{'preset':<8}{'fp32 samples/s':>16}{'bf16 samples/s':>16}{'bf16 / fp32':>13}")
    for preset in args.presets.split(","):
        fp32 = samples_per_s(preset, False, args, device)
        bf16 = samples_per_s(preset, True, args, device)
        print(f"{preset:<8}{fp32:>16.1f}{bf16:>16.1f}{bf16 / fp32:>13.2f}")


if __name__ == "__main__":
    main()
