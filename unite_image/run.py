"""Train UNITE on images: the run configuration, the model it builds, and what each evaluation writes."""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import MISSING

from unite_core.adapt import cold_start_error
from unite_core.config import at_least, to_yaml
from unite_core.flow import SamplerConfig
from unite_core.io import write_text_atomic
from unite_core.model import UNITE, FlowConfig, ObjectiveConfig, Recipe
from unite_core.nn import ModelConfig, TrunkConfig
from unite_core.train import FitResult, OptimConfig, RunConfig, TrainerConfig, fit, load_run, run_dir_of
from unite_image.augment import RandomFlip
from unite_image.data import ImageFolder, collate
from unite_image.decoder import PixelDecoder
from unite_image.demo import build_demo
from unite_image.grid import save_grid
from unite_image.lpips import PerceptualConfig, PerceptualLoss
from unite_image.tokenizer import PatchTokenizer


@dataclass
class ImageDataConfig:
    path: str = MISSING  # ImageFolder root: one sub-folder of images per class (data=demo sets data/demo_images)
    image_size: int = 32
    num_classes: int = 0  # 0: the number of class folders found; ImageNet: 1000
    build_demo: bool = False  # write the scikit-image demo folder at `path` first if it is missing

    def __post_init__(self):
        at_least("data", self, 1, "image_size")
        at_least("data", self, 0, "num_classes")


@dataclass
class TokensConfig:
    patch: int = 4  # pixels per patch side
    latents: int = 16  # latent registers (the paper: 256 at 256 px)
    latent_dim: int = 8  # channels per register (the paper: 32)
    tie: bool = False  # also add to register i the mean of its square block of patch tokens

    def __post_init__(self):
        at_least("tokens", self, 1, "patch", "latents", "latent_dim")


@dataclass
class ImageConfig:
    data: ImageDataConfig = field(default_factory=ImageDataConfig)
    tokens: TokensConfig = field(default_factory=TokensConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    decoder: TrunkConfig = field(default_factory=lambda: TrunkConfig(depth=2, width=128, heads=4))
    perceptual: PerceptualConfig = field(default_factory=PerceptualConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    run: RunConfig = field(default_factory=lambda: RunConfig(dir="runs/image"))
    eval_images: int = 16  # reconstructed, and class-conditional samples drawn, at each evaluation


def build_model(cfg: ImageConfig, num_classes: int, perceptual: PerceptualLoss | None = None) -> UNITE:
    """The UNITE model; `perceptual` (training only) adds LPIPS to the decoder's L1 and is not part of the weights."""
    if cfg.objective.latent_dim != cfg.tokens.latent_dim:
        raise ValueError(f"objective.latent_dim={cfg.objective.latent_dim} must equal tokens.latent_dim={cfg.tokens.latent_dim}")
    ge = cfg.model.resolve()
    size, t = cfg.data.image_size, cfg.tokens
    tokenizer = PatchTokenizer(ge.width, size, t.patch, t.latents, t.tie)
    decoder = PixelDecoder(cfg.decoder, t.latent_dim, t.latents, size, t.patch, perceptual)
    return UNITE(tokenizer, decoder, ge, cfg.objective, cfg.flow, t.latents, num_classes, augment=RandomFlip())


@torch.no_grad()
def generate_images(model: UNITE, labels: torch.Tensor, sampler: SamplerConfig, generator: torch.Generator) -> torch.Tensor:
    """Class-conditional images (B, 3, H, W) in [-1, 1]: ODE over the latent registers, then decode."""
    device = next(model.parameters()).device
    mask = torch.ones(len(labels), model.tokenizer.num_latents, dtype=torch.bool, device=device)  # (B, L)
    z = model.generate(mask, labels.to(device), sampler, generator).x
    return model.decoder(z, mask).float().clamp(-1, 1).cpu()


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean PSNR (dB) of images in [-1, 1]."""
    mse = ((a.clamp(-1, 1) - b) / 2).pow(2).flatten(1).mean(1)
    return float((10 * torch.log10(1 / mse.clamp_min(1e-10))).mean())


class ImageEvaluator:
    """At each evaluation: reconstruction L1 / PSNR of fixed images, a grid of them, and a class-conditional sample grid."""

    def __init__(self, cfg: ImageConfig, data: ImageFolder, num_classes: int, run_dir: Path):
        self.cfg, self.run_dir, self.num_classes = cfg, run_dir, num_classes
        picks = np.linspace(0, len(data) - 1, min(cfg.eval_images, len(data))).astype(int)
        self.batch = collate([data[int(i)] for i in picks])

    def __call__(self, model: UNITE, step: int) -> dict[str, float]:
        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(0)
        recon = model.reconstruct(self.batch.to(device), gen).float().cpu()
        save_grid(torch.cat([self.batch.pixels, recon.clamp(-1, 1)]), self.run_dir / "reconstructions.png", rows=2)
        labels = torch.arange(self.cfg.eval_images) % self.num_classes
        samples = generate_images(model, labels, self.cfg.sampler, gen)
        save_grid(samples, self.run_dir / "samples.png", rows=max(1, self.cfg.eval_images // 8))
        return {"recon_l1": float((recon - self.batch.pixels).abs().mean()), "recon_psnr": psnr(recon, self.batch.pixels)}


def train(cfg: ImageConfig) -> FitResult:
    if cfg.objective.recipe is Recipe.decoder:
        raise cold_start_error("unite-image")
    torch.manual_seed(cfg.trainer.seed)
    perceptual = PerceptualLoss.from_config(cfg.perceptual)  # first: a missing weight file stops before any data work
    if cfg.data.build_demo and not Path(cfg.data.path).exists():
        print(f"building the demo ImageFolder in {build_demo(cfg.data.path)}")
    data = ImageFolder(cfg.data.path, cfg.data.image_size)
    if data.skipped:
        print(f"skipped {len(data.skipped)} unreadable files, e.g. {', '.join(map(str, data.skipped[:3]))}")
    num_classes = cfg.data.num_classes or len(data.classes)
    if num_classes < len(data.classes):
        raise ValueError(f"data.num_classes={num_classes} is fewer than the {len(data.classes)} class folders in {cfg.data.path}")
    run_dir = Path(cfg.run.dir)
    write_text_atomic(run_dir / "classes.txt", "\n".join(data.classes) + "\n")
    model = build_model(cfg, num_classes, perceptual)
    return fit(model, data, collate, cfg.trainer, cfg.optim, cfg.run, to_yaml(cfg), ImageEvaluator(cfg, data, num_classes, run_dir), ImageConfig)


def load(checkpoint: str | Path, device: str = "cpu") -> tuple[ImageConfig, UNITE, list[str], int]:
    """Config, EMA model, class names and step of a run folder (newest checkpoint) or checkpoint file."""
    state, cfg = load_run(checkpoint, ImageConfig, "an image")
    classes = (run_dir_of(checkpoint) / "classes.txt").read_text().splitlines()
    model = build_model(cfg, cfg.data.num_classes or len(classes))
    model.load_state_dict(state.ema)
    return cfg, model.to(device).eval().requires_grad_(False), classes, state.step
