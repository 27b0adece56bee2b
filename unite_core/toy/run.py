"""Train, sample and score the toy point-cloud UNITE: the end-to-end path that needs no data download."""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from unite_core.adapt import cold_start_error
from unite_core.config import to_yaml
from unite_core.flow import SamplerConfig
from unite_core.io import atomic_path
from unite_core.model import UNITE, FlowConfig, ObjectiveConfig, Recipe
from unite_core.nn import ModelConfig, TrunkConfig
from unite_core.toy.adapter import PointDecoder, PointTokenizer
from unite_core.toy.data import CLASSES, ToyDataConfig, ToyShapes, collate, heldout_shapes
from unite_core.toy.metrics import ShapeJudge
from unite_core.train import FitResult, OptimConfig, RunConfig, TrainerConfig, fit, load_run


@dataclass
class ToyConfig:
    data: ToyDataConfig = field(default_factory=ToyDataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    decoder: TrunkConfig = field(default_factory=lambda: TrunkConfig(depth=2, width=64, heads=2))
    objective: ObjectiveConfig = field(default_factory=lambda: ObjectiveConfig(latent_dim=4))
    flow: FlowConfig = field(default_factory=FlowConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    run: RunConfig = field(default_factory=lambda: RunConfig(dir="runs/toy"))
    eval_samples: int = 300  # generated at each evaluation (and held-out clouds reconstructed)


def build_model(cfg: ToyConfig) -> UNITE:
    ge = cfg.model.resolve()
    tokenizer = PointTokenizer(ge.width)
    decoder = PointDecoder(cfg.decoder, cfg.objective.latent_dim, cfg.data.max_points)
    return UNITE(tokenizer, decoder, ge, cfg.objective, cfg.flow, max_latents=cfg.data.max_points, num_classes=len(CLASSES))


@torch.no_grad()
def sample_clouds(model: UNITE, sizes: torch.Tensor, labels: torch.Tensor, sampler: SamplerConfig, generator: torch.Generator) -> list[np.ndarray]:
    """Generate one cloud per (size, label): ODE in latent space, then decode."""
    device = next(model.parameters()).device
    mask = torch.arange(int(sizes.max()), device=device)[None] < sizes.to(device)[:, None]  # (B, N)
    z = model.generate(mask, labels.to(device), sampler, generator).x
    points = model.decoder(z, mask).float().cpu()
    return [p[: int(n)].numpy() for p, n in zip(points, sizes)]


def draw_sizes(histogram: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.multinomial(histogram.float(), n, replacement=True, generator=generator)


def plot_clouds(clouds: list[np.ndarray], labels: np.ndarray, path: Path, per_class: int = 8) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(CLASSES), per_class, figsize=(1.4 * per_class, 1.4 * len(CLASSES)))
    for row, name in enumerate(CLASSES):
        picks = [c for c, lab in zip(clouds, labels) if lab == row][:per_class]
        for col, ax in enumerate(axes[row]):
            ax.set_axis_off()
            if col < len(picks):
                closed = np.vstack([picks[col], picks[col][:1]])
                ax.plot(closed[:, 0], closed[:, 1], "-o", ms=2, lw=0.8)
                ax.set_aspect("equal")
        axes[row][0].set_title(name, fontsize=8, loc="left")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


class ToyEvaluator:
    """Held-out reconstruction RMSE and generated-shape scores, plus a sample grid, at each evaluation."""

    def __init__(self, cfg: ToyConfig, train: ToyShapes, run_dir: Path):
        self.cfg, self.run_dir = cfg, run_dir
        self.histogram = train.size_histogram()
        self.judge = ShapeJudge(train.clouds, train.labels)
        heldout = heldout_shapes(cfg.data, cfg.eval_samples)
        self.heldout = collate(list(heldout))
        self.real = self.judge.score(heldout.clouds, heldout.labels)  # what real clouds score: the ceiling

    def __call__(self, model: UNITE, step: int) -> dict[str, float]:
        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(0)
        batch = self.heldout.to(device)
        recon = model.reconstruct(batch, gen).float()
        rmse = ((recon - batch.points).pow(2).sum(-1)[batch.mask].mean().sqrt()).item()
        cpu_gen = torch.Generator().manual_seed(step)
        labels = torch.arange(self.cfg.eval_samples) % len(CLASSES)
        clouds = sample_clouds(model, draw_sizes(self.histogram, self.cfg.eval_samples, cpu_gen), labels, self.cfg.sampler, gen)
        plot_clouds(clouds, labels.numpy(), self.run_dir / "samples.png")
        score = self.judge.score(clouds, labels.numpy())
        return {
            "recon_rmse": rmse, "class_match": score.class_match, "class_match_real": self.real.class_match,
            "own_class_distance": score.own_class_distance, "own_class_distance_real": self.real.own_class_distance,
        }


def train(cfg: ToyConfig) -> FitResult:
    if cfg.objective.recipe is Recipe.decoder:
        raise cold_start_error("the toy")
    torch.manual_seed(cfg.trainer.seed)
    data = ToyShapes(cfg.data)
    model = build_model(cfg)
    evaluator = ToyEvaluator(cfg, data, Path(cfg.run.dir))
    return fit(model, data, collate, cfg.trainer, cfg.optim, cfg.run, to_yaml(cfg), evaluator, ToyConfig)


def load(checkpoint: str | Path, device: str = "cpu") -> tuple[ToyConfig, UNITE]:
    """The config and EMA model of a run folder (newest checkpoint) or a checkpoint file."""
    state, cfg = load_run(checkpoint, ToyConfig, "a toy")
    model = build_model(cfg)
    model.load_state_dict(state.ema)
    return cfg, model.to(device).eval().requires_grad_(False)
