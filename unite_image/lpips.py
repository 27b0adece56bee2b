"""LPIPS-VGG (Zhang et al. 2018, v0.1), the perceptual half of the image reconstruction loss.

    d(x, y) = Σ_l mean_hw ‖ w_l ⊙ (f̂_l(x) − f̂_l(y)) ‖²,   f̂_l = VGG16 relu{1_2, 2_2, 3_3, 4_3, 5_3}, unit-normalised over channels

Neither weight file ships offline: the ImageNet VGG16 is torchvision's `vgg16-397923af.pth` (a plain
state_dict, `features.N.weight` / `.bias`), the linear heads w_l are LPIPS v0.1's `vgg.pth` (`linL.model.1.weight`),
which the `lpips` wheel carries (found without importing it). `PerceptualLoss` holds the frozen network
outside the model: it never enters checkpoints, the optimiser, the EMA copy or DDP's buffer broadcast.
"""
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from unite_core.config import at_least
from unite_core.flow import item_mean

# VGG16's five stages of 3x3 convs (output channels), a 2x2 max-pool between stages; LPIPS taps each stage's last ReLU.
_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
_SHIFT = (-0.030, -0.088, -0.188)  # LPIPS ScalingLayer: inputs in [-1, 1] -> ImageNet-normalised
_SCALE = (0.458, 0.448, 0.450)


@dataclass
class PerceptualConfig:
    weight: float = 0.0  # LPIPS term beside L1 (the paper: L1 + LPIPS); 0 = L1 alone
    vgg16: str | None = None  # torchvision's ImageNet VGG16 state_dict, vgg16-397923af.pth (does not ship offline)
    lin: str | None = None  # LPIPS v0.1 heads, vgg.pth; None: the file inside the installed `lpips` wheel

    def __post_init__(self):
        at_least("perceptual", self, 0, "weight")


def _conv_indices() -> list[list[int]]:
    """Index of every conv in torchvision's `features` Sequential, stage by stage (conv, ReLU pairs, a pool between)."""
    out, i = [], 0
    for stage in _STAGES:
        out.append([i + 2 * j for j in range(len(stage))])
        i += 2 * len(stage) + 1
    return out


class LPIPS(nn.Module):
    """forward(x, y) images (B, 3, H, W) in [-1, 1] -> perceptual distance (B,); gradients flow to both inputs."""

    def __init__(self, vgg: dict[str, torch.Tensor], lin: dict[str, torch.Tensor]):
        super().__init__()
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))
        self.stages = [[f"features.{i}" for i in stage] for stage in _conv_indices()]
        for name in (n for stage in self.stages for n in stage):
            for part in ("weight", "bias"):
                self.register_buffer(f"{name}.{part}".replace(".", "_"), vgg[f"{name}.{part}"].float())
        for level in range(len(_STAGES)):
            self.register_buffer(f"lin{level}", lin[f"lin{level}.model.1.weight"].float())

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        for level, stage in enumerate(self.stages):
            if level:
                x = F.max_pool2d(x, 2)
            for name in stage:
                prefix = name.replace(".", "_")
                x = F.relu(F.conv2d(x, getattr(self, f"{prefix}_weight"), getattr(self, f"{prefix}_bias"), padding=1))
            taps.append(x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10))  # (B, C_l, H_l, W_l), unit over channels
        return taps

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx, fy = self.features((x - self.shift) / self.scale), self.features((y - self.shift) / self.scale)
        per_level = [F.conv2d((a - b).pow(2), getattr(self, f"lin{i}")).mean((1, 2, 3)) for i, (a, b) in enumerate(zip(fx, fy))]
        return torch.stack(per_level).sum(0)  # (B,)


def lpips_lin_path() -> Path:
    """LPIPS v0.1 `vgg.pth` inside the installed `lpips` wheel (not imported: it would import torchvision)."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("perceptual.lin: no path given and the PyPI wheel lpips is not installed (pip install --no-deps lpips==0.1.4)")
    return Path(spec.submodule_search_locations[0]) / "weights" / "v0.1" / "vgg.pth"


def _read(path: Path, key: str, needed: list[str]) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"{key}={path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{key}={path}: not a PyTorch state_dict ({type(e).__name__})") from None
    missing = [k for k in needed if k not in state]
    if missing:
        raise ValueError(f"{key}={path}: missing {len(missing)} tensors, e.g. {missing[0]!r}")
    return state


def random_vgg16(seed: int = 0) -> dict[str, torch.Tensor]:
    """A He-initialised VGG16 state_dict in torchvision's layout: the same arithmetic as the real one, for timing and tests."""
    g = torch.Generator().manual_seed(seed)
    state, cin = {}, 3
    for stage, channels in zip(_conv_indices(), _STAGES):
        for i, c in zip(stage, channels):
            state[f"features.{i}.weight"] = torch.randn(c, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
            state[f"features.{i}.bias"] = torch.randn(c, generator=g) * 0.01
            cin = c
    return state


def load_lpips(vgg16: str | Path, lin: str | Path | None = None) -> LPIPS:
    """The frozen LPIPS-VGG network from torchvision's VGG16 state_dict and LPIPS' linear heads."""
    vgg_keys = [f"features.{i}.{part}" for stage in _conv_indices() for i in stage for part in ("weight", "bias")]
    vgg = _read(Path(vgg16), "perceptual.vgg16", vgg_keys)
    heads = _read(Path(lin) if lin else lpips_lin_path(), "perceptual.lin", [f"lin{i}.model.1.weight" for i in range(len(_STAGES))])
    for stage, channels in zip(_conv_indices(), _STAGES):
        for i, c in zip(stage, channels):
            if vgg[f"features.{i}.weight"].shape[0] != c:
                raise ValueError(f"perceptual.vgg16={vgg16}: features.{i} has {vgg[f'features.{i}.weight'].shape[0]} channels, VGG16 has {c}")
    return LPIPS(vgg, heads).eval()


class PerceptualLoss:
    """weight x mean LPIPS(output, target), a training criterion kept outside the model (see the module doc)."""

    def __init__(self, net: LPIPS, weight: float):
        self.net, self.weight = net.requires_grad_(False), weight

    @classmethod
    def from_config(cls, cfg: PerceptualConfig) -> "PerceptualLoss | None":
        if cfg.weight <= 0:
            return None
        if cfg.vgg16 is None:
            raise ValueError(f"perceptual.weight={cfg.weight} needs perceptual.vgg16=PATH: torchvision's ImageNet VGG16 "
                             "state_dict (vgg16-397923af.pth), which does not ship offline; or perceptual.weight=0 for L1 alone")
        return cls(load_lpips(cfg.vgg16, cfg.lin), cfg.weight)

    def __call__(self, output: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        if self.net.shift.device != output.device:
            self.net.to(output.device)
        return item_mean(self.net(output, target), weights)

    def __deepcopy__(self, memo: dict) -> "PerceptualLoss":
        return self  # frozen: the EMA copy of the model shares it rather than holding a second VGG
