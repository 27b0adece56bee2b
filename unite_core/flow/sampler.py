"""Sampling from noise (t = 0) to data (t = 1): the ODE by Euler, Heun or an adaptive Bogacki–Shampine solver, or
an SDE with the same marginals (Euler–Maruyama); classifier-free guidance on the clean prediction, inside a
t-interval, autoguidance by a weaker model, and guidance toward a constraint the adapter states as an energy."""
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Callable

import torch

from unite_core.flow.loss import velocity
from unite_core.flow.path import shift_time

# predict(x_t (B, L, C), t (B,), cond (B,), drop (B,) bool, mask (B, L)[, self_cond (B, L, C)]) -> clean prediction (B, L, C)
Predictor = Callable[..., torch.Tensor]
Velocity = Callable[[torch.Tensor, float], torch.Tensor]
Noise = Callable[[], torch.Tensor]  # fresh N(0, I) noise shaped like the latents (zero where padded)
Energy = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # energy(x̂ (B, L, C), mask (B, L)) -> () differentiable, lower is better


class Solver(str, Enum):
    """Member names are what configs and the CLI accept (`solver=heun`)."""

    euler = "euler"
    heun = "heun"
    adaptive = "adaptive"
    sde = "sde"


@dataclass
class SamplerConfig:
    solver: Solver = Solver.heun
    steps: int = 50
    cfg_scale: float = 1.0
    cfg_interval: tuple[float, float] = (0.1, 1.0)
    guide_scale: float = 1.0  # autoguidance by a weaker model of the same latent space (1 = off; needs the guide model)
    guide_interval: tuple[float, float] = (0.0, 1.0)  # autoguidance for t in [lo, hi]; the model alone elsewhere
    guide_every: int = 1  # the weak model at every k-th evaluation in the interval; its correction reused in between
    t_clamp: float = 0.05
    grid_shift: float = 1.0
    sde_noise: float = 8.0  # solver sde: diffusion w(t) = sde_noise * (1 - t)
    temperature: float = 1.0  # every noise the sampler draws (the start; the SDE's injections) is scaled by it: < 1 samples nearer the modes
    constraint_scale: float = 0.0  # guidance toward the adapter's constraint (molecules: an even valence sum); 0 = off
    constraint_interval: tuple[float, float] = (0.0, 1.0)  # that guidance for t in [lo, hi]
    rtol: float = 1e-3
    atol: float = 1e-3

    def __post_init__(self):
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise ValueError(f"sampler.steps (--steps) must be a whole number >= 1, got {self.steps}")
        if not self.grid_shift > 0:
            raise ValueError(f"sampler.grid_shift (--grid-shift) must be > 0, got {self.grid_shift}")
        if not self.sde_noise >= 0:
            raise ValueError(f"sampler.sde_noise (--sde-noise) must be >= 0, got {self.sde_noise}")
        if not self.temperature > 0:
            raise ValueError(f"sampler.temperature (--temperature) must be > 0, got {self.temperature}")
        if not self.constraint_scale >= 0:
            raise ValueError(f"sampler.constraint_scale (--constraint-scale) must be >= 0, got {self.constraint_scale}")
        for name in ("cfg_interval", "guide_interval", "constraint_interval"):
            interval = list(getattr(self, name))
            if len(interval) != 2 or not 0 <= interval[0] < interval[1] <= 1:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"sampler.{name} ({flag}) must be LO, HI with 0 <= LO < HI <= 1, got {interval}")
        if not (isinstance(self.guide_every, int) and self.guide_every >= 1):
            raise ValueError(f"sampler.guide_every (--guide-every) must be a whole number >= 1, got {self.guide_every}")


def with_overrides(
    base: SamplerConfig, steps: int | None = None, solver: Solver | None = None, grid_shift: float | None = None,
    cfg_scale: float = 1.0, cfg_interval: tuple[float, float] = (0.1, 1.0), guide_scale: float | None = None,
    sde_noise: float | None = None, guide_interval: tuple[float, float] | None = None, guide_every: int | None = None,
    temperature: float | None = None, constraint_scale: float | None = None, constraint_interval: tuple[float, float] | None = None,
) -> SamplerConfig:
    """A run's sampler settings with the steps / solver / grid shift / autoguidance scale / SDE noise / autoguidance
    interval / weak-model period / temperature / constraint guidance that are given (None keeps the run's) and this
    classifier-free guidance."""
    given = {"steps": steps, "solver": solver and Solver(solver), "grid_shift": grid_shift, "guide_scale": guide_scale,
             "sde_noise": sde_noise, "guide_interval": guide_interval, "guide_every": guide_every, "temperature": temperature,
             "constraint_scale": constraint_scale, "constraint_interval": constraint_interval}
    return replace(base, **{k: v for k, v in given.items() if v is not None}, cfg_scale=cfg_scale, cfg_interval=cfg_interval)


@dataclass
class SampleResult:
    x: torch.Tensor  # (B, L, C)
    nfe: int  # velocity evaluations (a guided evaluation is one, though it runs two branches)


@dataclass
class AutoGuided:
    """Autoguidance (Karras et al. 2024, "Guiding a diffusion model with a bad version of itself"): the clean
    prediction x̂ = x̂_weak + s·(x̂_strong − x̂_weak), where `weak` is a less trained (or smaller) model of the same
    latent space; s = 1 is the strong model alone. Only for t in `interval` (as guidance in a limited interval,
    Kynkäänniemi et al. 2024); elsewhere the strong model alone, and the weak one is not run. With `every` = k > 1 the
    weak model runs at every k-th evaluation in the interval only, and the correction x̂_strong − x̂_weak it gave is
    reused until the next (the correction changes slowly along the path): 1 + 1/k model calls an evaluation, not 2.
    One instance per sampling run: it keeps the last correction."""

    strong: Predictor
    weak: Predictor
    scale: float
    interval: tuple[float, float] = (0.0, 1.0)
    every: int = 1
    calls: int = field(default=0, init=False)  # evaluations in the interval so far
    correction: torch.Tensor | None = field(default=None, init=False)  # the last x̂_strong − x̂_weak (B, L, C)

    def __call__(self, x: torch.Tensor, t: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        lo, hi = self.interval
        strong = self.strong(x, t, *rest)  # (B, L, C)
        if not lo <= float(t[0]) <= hi:  # one t per evaluation
            return strong
        if self.calls % self.every == 0:
            self.correction = strong - self.weak(x, t, *rest)  # (B, L, C)
        self.calls += 1
        return strong + (self.scale - 1) * self.correction  # (B, L, C)


@dataclass
class ConstraintGuided:
    """Guidance toward a constraint that every training sample meets and the model may still miss (molecules: an even
    valence sum): the adapter states it as a differentiable energy E of the clean prediction (through its decoder), and
    each prediction takes one gradient step down it, x̂ <- x̂ - λ·∇E(x̂), for t in `interval` (guidance on x̂, as in
    universal guidance, Bansal et al. 2023, with E in place of a classifier's loss); elsewhere x̂ as predicted."""

    predict: Predictor
    energy: Energy
    scale: float
    interval: tuple[float, float] = (0.0, 1.0)

    def __call__(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, drop: torch.Tensor, mask: torch.Tensor,
                 *rest: torch.Tensor) -> torch.Tensor:
        x_hat = self.predict(x, t, cond, drop, mask, *rest)  # (B, L, C)
        lo, hi = self.interval
        if not lo <= float(t[0]) <= hi:  # one t per evaluation
            return x_hat
        with torch.enable_grad():
            y = x_hat.detach().requires_grad_(True)
            grad, = torch.autograd.grad(self.energy(y, mask), y)  # (B, L, C)
        return x_hat - self.scale * grad * mask[..., None]  # (B, L, C)


@dataclass
class GuidedDrift:
    """Drift (x̂ − x)/max(1 − t, clamp) with x̂ = x̂_u + s·(x̂_c − x̂_u) for t in the CFG interval, else x̂_c.
    Both branches come already normalised from `predict` (per-branch normalisation, as the release). With
    `self_condition`, each prediction also sees the previous evaluation's x̂ (zeros at the first)."""

    predict: Predictor
    cond: torch.Tensor  # (B,)
    mask: torch.Tensor  # (B, L)
    cfg: SamplerConfig
    self_condition: bool = False
    estimate: torch.Tensor | None = None  # the last x̂ (self-conditioning)

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        tt = torch.full((x.shape[0],), t, device=x.device)
        keep = torch.zeros_like(self.cond, dtype=torch.bool)
        lo, hi = self.cfg.cfg_interval
        sc = () if not self.self_condition else (torch.zeros_like(x) if self.estimate is None else self.estimate,)
        if self.cfg.cfg_scale != 1.0 and lo <= t <= hi:
            two = lambda a: torch.cat([a, a])  # noqa: E731
            both = self.predict(two(x), two(tt), two(self.cond), torch.cat([keep, ~keep]), two(self.mask), *map(two, sc))
            x_cond, x_null = both.chunk(2)  # 2 x (B, L, C)
            x_hat = x_null + self.cfg.cfg_scale * (x_cond - x_null)
        else:
            x_hat = self.predict(x, tt, self.cond, keep, self.mask, *sc)
        if self.self_condition:
            self.estimate = x_hat
        return velocity(x_hat, x, tt, self.cfg.t_clamp) * self.mask[..., None]  # (B, L, C)


def integrate(drift: Velocity, x0: torch.Tensor, cfg: SamplerConfig, noise: Noise | None = None, start: float = 0.0) -> SampleResult:
    """Integrate dx/dt = drift(x, t) from t = `start` (x0 is the state there; 0: pure noise) to 1 (solver sde: its
    stochastic counterpart, drawing `noise`)."""
    if not 0.0 <= start < 1.0:
        raise ValueError(f"integration must start at a t in [0, 1), got {start}")
    if cfg.solver is Solver.adaptive:
        return _adaptive(drift, x0, cfg, start)
    grid = (start + (1.0 - start) * shift_time(torch.linspace(0, 1, cfg.steps + 1, dtype=torch.float64), cfg.grid_shift)).tolist()
    if cfg.solver is Solver.sde:
        if noise is None:
            raise ValueError("solver sde needs a noise source")
        return _sde(drift, x0, grid, cfg.sde_noise, noise)
    x, nfe = x0, 0
    for t0, t1 in zip(grid[:-1], grid[1:]):
        h = t1 - t0
        k1 = drift(x, t0)
        nfe += 1
        if cfg.solver is Solver.euler:
            x = x + h * k1
        else:
            k2 = drift(x + h * k1, t1)
            nfe += 1
            x = x + 0.5 * h * (k1 + k2)
    return SampleResult(x, nfe)


def _sde(drift: Velocity, x: torch.Tensor, grid: list[float], c: float, noise: Noise) -> SampleResult:
    """Euler–Maruyama for dx = [v + w/2 · score] dt + √w dW with w(t) = c·(1 − t) (SiT's "sigma" diffusion): the ODE's
    marginals, plus Langevin moves that let the sampler forget earlier errors. On the linear path the score is
    −ε̂/(1 − t) with the predicted noise ε̂ = x − t·v, so the drift is v − c/2 · ε̂. The last step is the ODE's (x̂)."""
    for i, (t0, t1) in enumerate(zip(grid[:-1], grid[1:])):
        h, v = t1 - t0, drift(x, t0)
        if i == len(grid) - 2:
            x = x + h * v
        else:
            x = x + h * (v - 0.5 * c * (x - t0 * v)) + (c * (1 - t0) * h) ** 0.5 * noise()  # (B, L, C)
    return SampleResult(x, len(grid) - 1)


def _adaptive(drift: Velocity, x: torch.Tensor, cfg: SamplerConfig, start: float) -> SampleResult:
    """Bogacki–Shampine 3(2) with first-same-as-last and a standard step-size controller."""
    t, h = start, (1.0 - start) / cfg.steps
    k1, nfe = drift(x, t), 1
    while t < 1.0 - 1e-12:
        h = min(h, 1.0 - t)
        k2 = drift(x + 0.5 * h * k1, t + 0.5 * h)
        k3 = drift(x + 0.75 * h * k2, t + 0.75 * h)
        x_new = x + h * (2 / 9 * k1 + 1 / 3 * k2 + 4 / 9 * k3)
        k4 = drift(x_new, t + h)
        nfe += 3
        err = h * (-5 / 72 * k1 + 1 / 12 * k2 + 1 / 9 * k3 - 1 / 8 * k4)
        tol = cfg.atol + cfg.rtol * torch.maximum(x.abs(), x_new.abs())
        ratio = (err / tol).pow(2).mean().sqrt().item()
        if ratio <= 1.0:
            t, x, k1 = t + h, x_new, k4
        h *= min(5.0, max(0.2, 0.9 * max(ratio, 1e-10) ** (-1 / 3)))
    return SampleResult(x, nfe)
