"""UNITE: one Generative Encoder used twice per step, to tokenize and to denoise, with shared weights.

An adapter supplies a `Tokenizer` (batch -> observation tokens + masks) and a `Decoder` (latents -> output
and named reconstruction terms); everything else is here.
"""
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

from unite_core.adapt import AdaptConfig, denoised
from unite_core.config import at_least
from unite_core.flow import (
    AutoGuided, ConstraintGuided, Energy, GuidedDrift, SampleResult, SamplerConfig, TimeSampler, integrate, linear_path, velocity_loss,
)
from unite_core.nn import GEConfig, GenerativeEncoder
from unite_core.rng import BatchRandom


@dataclass
class Observation:
    """What a tokenizer hands the GE for one batch: extra observation tokens, and/or inputs summed into the
    latent tokens one for one (a tokenizer whose latent i stands for item i may tie them that way)."""

    tokens: torch.Tensor | None  # (B, N, Do) extra tokens, or None
    mask: torch.Tensor | None  # (B, N) bool, valid observation tokens
    latent_mask: torch.Tensor  # (B, L) bool, latent slots in use
    cond: torch.Tensor  # (B,) long, condition index for the denoise pass
    positions: torch.Tensor | None = None  # (B, N) RoPE positions; None continues after the latents
    latent_inputs: torch.Tensor | None = None  # (B, L, Do) added to latent token i in the tokenize pass


@dataclass
class ReconLoss:
    total: torch.Tensor  # scalar: the adapter's weighted sum of its terms
    terms: dict[str, torch.Tensor]  # named scalar terms, for logging only


class Tokenizer(Protocol):
    observation_dim: int

    def __call__(self, batch: Any) -> Observation: ...


class Decoder(Protocol):
    def __call__(self, z: torch.Tensor, latent_mask: torch.Tensor) -> Any: ...

    def loss(self, output: Any, batch: Any, weights: torch.Tensor | None = None) -> ReconLoss:
        """Reconstruction terms, each a batch mean of per-item losses (times `weights` (B,) when given)."""


@dataclass
class Latents:
    """Clean latents of a batch, with the slots in use and the condition of each sample."""

    z: torch.Tensor  # (B, L, C)
    mask: torch.Tensor  # (B, L) bool
    cond: torch.Tensor  # (B,) long


class DataCodec(Protocol):
    """For `Recipe.direct`: a fixed, invertible per-item encoding of the data that the flow runs on directly;
    calling it decodes (it stands where the decoder stands)."""

    def encode(self, batch: Any) -> Latents: ...

    def __call__(self, z: torch.Tensor, latent_mask: torch.Tensor) -> Any: ...


class Augmentation(Protocol):
    """A random, label-preserving change of a training batch (e.g. a rotation), drawn from the step's rng."""

    def __call__(self, batch: Any, rng: BatchRandom) -> Any: ...


class KWeighting(str, Enum):
    """How the K flow repeats add up. `sum` is the release's behaviour (the flow term weighs K);
    `mean` keeps the flow term's scale independent of K."""

    sum = "sum"
    mean = "mean"


class Prediction(str, Enum):
    """What the GE outputs in the denoise pass. `x`: the clean latent (the paper). `v`: a velocity, from which
    the clean latent is x_t + (1 − t)·v, so near t = 1 the identity comes for free and the network only
    corrects; with both, the prediction is LayerNormed like z and the loss is the same velocity loss."""

    x = "x"
    v = "v"


class Recipe(str, Enum):
    """What one training step trains. `joint` is UNITE; the others are the paper's equal-compute baselines."""

    joint = "joint"  # one GE tokenizes and denoises; reconstruction + flow in every step
    tokenizer = "tokenizer"  # staged, stage 1: the tokenize pass and the decoder only (an autoencoder, as ADiT's)
    latent_flow = "latent_flow"  # staged, stage 2: a fresh GE learns the flow on a frozen stage-1 tokenizer's latents
    direct = "direct"  # no tokenizer: the GE's flow runs on the adapter's fixed encoding of the data (`DataCodec`)
    decoder = "decoder"  # after training: the decoder alone, adapted to the GE's own denoised latents (`unite_core.adapt`)


@dataclass
class FlowConfig:
    k: int = 3
    prediction: Prediction = Prediction.x
    k_weighting: KWeighting = KWeighting.sum
    k_chunk: int = 4  # repeats per GE call
    checkpoint: bool = False  # recompute each chunk in backward: memory of one chunk instead of K
    time: TimeSampler = field(default_factory=TimeSampler)
    cond_drop: float = 0.1
    t_clamp: float = 0.05
    self_condition: float = 0.0  # > 0: this fraction of predictions also sees the GE's own detached first estimate
    input_perturbation: float = 0.0  # γ > 0: z_t from ε + γ·ξ, target still z (against exposure bias; Ning et al. 2023)

    def __post_init__(self):
        at_least("flow", self, 1, "k", "k_chunk")
        at_least("flow", self, 0, "input_perturbation", "cond_drop", "self_condition")
        if not (self.cond_drop <= 1 and self.self_condition <= 1 and 0 < self.t_clamp < 1):
            raise ValueError(f"flow.cond_drop and flow.self_condition must lie in [0, 1], flow.t_clamp in (0, 1); got "
                             f"{self.cond_drop}, {self.self_condition}, {self.t_clamp}")


@dataclass
class ObjectiveConfig:
    recipe: Recipe = Recipe.joint
    latent_dim: int = 16
    encode_t_max: float = 0.01  # tokenize pass: t ~ U[0, encode_t_max]
    decoder_noise_prob: float = 0.5
    decoder_noise_t_min: float = 0.7  # decoder input z̃ = t·z + (1−t)·ε, t ~ U[t_min, 1], for that fraction
    recon_weight: float = 1.0
    flow_weight: float = 1.0
    denoised_weight: float = 0.0  # > 0: the decoder's loss on the GE's denoised prediction too (`UNITE.denoised_recon`)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)  # recipe=decoder

    def __post_init__(self):
        at_least("objective", self, 1, "latent_dim")
        if not self.denoised_weight >= 0 or (self.denoised_weight > 0 and self.recipe not in (Recipe.joint, Recipe.latent_flow)):
            raise ValueError(f"objective.denoised_weight={self.denoised_weight:g} needs a value >= 0, and > 0 needs"
                             f" objective.recipe=joint or latent_flow (a decoder), not {Recipe(self.recipe).value}")


@dataclass
class FirstDraw:
    """Each item's first flow draw: the GE's clean prediction and the t it was made at."""

    prediction: torch.Tensor  # (B, L, C)
    t: torch.Tensor  # (B,)


@dataclass
class LossBreakdown:
    total: torch.Tensor
    recon: torch.Tensor
    flow: torch.Tensor  # after the K weighting
    recon_terms: dict[str, torch.Tensor]
    z_std: torch.Tensor  # spread of the clean latents over the batch; near 0 means they collapsed
    denoised: torch.Tensor | None = None  # the decoder's loss on the denoised prediction, when it is trained

    def scalars(self) -> dict[str, float]:
        """Every logged figure, read from the device in one transfer (one host sync per step on a GPU)."""
        named = {"loss": self.total, "recon": self.recon, "flow": self.flow, "z_std": self.z_std,
                 **({} if self.denoised is None else {"denoised": self.denoised}),
                 **{f"recon/{k}": v for k, v in self.recon_terms.items()}}
        return dict(zip(named, torch.stack([v.detach().float() for v in named.values()]).tolist()))


class UNITE(nn.Module):
    """`tokenizer` may be None with `Recipe.direct`, where `decoder` is the adapter's `DataCodec`."""

    def __init__(
        self, tokenizer: nn.Module | None, decoder: nn.Module, ge: GEConfig, objective: ObjectiveConfig, flow: FlowConfig,
        max_latents: int, num_classes: int, augment: Augmentation | None = None,
    ):
        super().__init__()
        self.tokenizer = tokenizer
        self.decoder = decoder
        self.augment = augment
        self.objective = objective
        self.flow = flow
        self.max_latents = max_latents
        recipe = objective.recipe
        if (tokenizer is None) != (recipe is Recipe.direct):
            raise ValueError(f"objective.recipe={recipe.value} {'needs' if tokenizer is None else 'takes no'} tokenizer")
        observation_dim = None if tokenizer is None else tokenizer.observation_dim
        self.ge = GenerativeEncoder(ge, objective.latent_dim, max_latents, num_classes, observation_dim, flow.self_condition > 0)
        self.latent_norm = nn.LayerNorm(objective.latent_dim)  # affine matters: paper ablation FID 2.71 -> 19.48 without
        self.encoder_ge = None  # the frozen stage-1 GE that tokenizes for `Recipe.latent_flow`
        if recipe is Recipe.latent_flow:
            self.encoder_ge = GenerativeEncoder(ge, objective.latent_dim, max_latents, num_classes, observation_dim)
            for frozen in (self.encoder_ge, self.tokenizer, self.decoder, self.latent_norm):
                frozen.requires_grad_(False)
        if recipe is Recipe.decoder:
            for frozen in (self.ge, self.tokenizer, self.latent_norm):
                frozen.requires_grad_(False)

    def load_tokenizer(self, state: dict[str, torch.Tensor]) -> None:
        """`Recipe.latent_flow`: take tokenizer, decoder, latent norm and (as the frozen encoder) GE from a
        stage-1 model's state dict; the denoising GE keeps its fresh weights."""
        if self.encoder_ge is None:
            raise ValueError(f"load_tokenizer needs objective.recipe=latent_flow, not {self.objective.recipe.value}")
        own = {k: v for k, v in state.items() if k.split(".")[0] in ("tokenizer", "decoder", "latent_norm")}
        own |= {"encoder_ge." + k[len("ge."):]: v for k, v in state.items() if k.startswith("ge.")}
        missing = [k for k in self.state_dict() if not k.startswith("ge.") and k not in own]
        if missing:
            raise ValueError(f"the stage-1 weights lack {len(missing)} tensors, e.g. {missing[0]}")
        self.load_state_dict(own, strict=False)

    def normalise(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.latent_norm(x) * mask[..., None]  # (B, L, C)

    def slot_noise(self, rng: BatchRandom, repeats: tuple[int, ...], L: int) -> torch.Tensor:
        """ε of shape (B, *repeats, L, C), drawn for all `max_latents` slots and cut to L, so a sample's
        noise does not depend on how far its batch happens to be padded."""
        if L > self.max_latents:
            raise ValueError(f"{L} latent tokens exceed max_latents={self.max_latents}")
        return rng.randn(*repeats, self.max_latents, self.objective.latent_dim)[..., :L, :]

    def encode(self, obs: Observation, rng: BatchRandom) -> torch.Tensor:
        """Tokenize: noise latents, t ≈ 0, null condition, observation appended (or summed in) -> LayerNormed z."""
        B, L = obs.latent_mask.shape
        noise = self.slot_noise(rng, (), L) * obs.latent_mask[..., None]  # (B, L, C)
        t = rng.rand() * self.objective.encode_t_max  # (B,)
        drop = torch.ones(B, dtype=torch.bool, device=noise.device)
        ge = self.ge if self.encoder_ge is None else self.encoder_ge
        out = ge(noise, t, obs.cond, drop, obs.latent_mask, obs.tokens, obs.mask, obs.positions, obs.latent_inputs)
        return self.normalise(out, obs.latent_mask)

    def latents(self, batch: Any, rng: BatchRandom) -> Latents:
        """The clean latents the flow is trained on, whatever the recipe."""
        if self.objective.recipe is Recipe.direct:
            return self.decoder.encode(batch)
        obs = self.tokenizer(batch)
        return Latents(self.encode(obs, rng), obs.latent_mask, obs.cond)

    def noise_for_decoder(self, z: torch.Tensor, mask: torch.Tensor, rng: BatchRandom) -> torch.Tensor:
        """For a random fraction of samples decode a partly noised z, so the decoder tolerates sampler error."""
        obj = self.objective
        chosen = rng.rand() < obj.decoder_noise_prob  # (B,)
        t = obj.decoder_noise_t_min + (1 - obj.decoder_noise_t_min) * rng.rand()  # (B,)
        noisy = linear_path(z, self.slot_noise(rng, (), z.shape[1]), t, mask).x_t  # (B, L, C)
        return torch.where(chosen[:, None, None], noisy, z)

    def adapted_inputs(self, lat: Latents, rng: BatchRandom) -> torch.Tensor:
        """`Recipe.decoder`: the joint recipe's decoder inputs, a random fraction of them replaced by the GE's own
        denoised latents (the true z noised to t0, integrated back to t = 1)."""
        adapt = self.objective.adapt
        inputs = self.noise_for_decoder(lat.z, lat.mask, rng)  # (B, L, C)
        chosen = (rng.rand() < adapt.prob).nonzero().squeeze(1)  # (b,)
        t0 = adapt.t_min + (adapt.t_max - adapt.t_min) * rng.rand()  # (B,)
        noise = self.slot_noise(rng, (), lat.z.shape[1])  # (B, L, C)
        if not len(chosen):
            return inputs
        mask, cond = lat.mask[chosen], lat.cond[chosen]
        keep = torch.zeros_like(cond, dtype=torch.bool)  # the condition is never dropped, as in unguided sampling
        predict = lambda x, t: self.predict(x, t, cond, keep, mask)  # noqa: E731
        inputs[chosen] = denoised(predict, lat.z[chosen], noise[chosen], t0[chosen], mask, adapt.steps, self.flow.t_clamp)
        return inputs

    def predict(self, x_t, t, cond, drop, mask, self_cond=None) -> torch.Tensor:
        """Denoise: the GE's clean prediction from z_t (and, self-conditioned, its previous estimate), normalised
        like z (a fixed data encoding is not)."""
        out = self.ge(x_t, t, cond, drop, mask, self_cond=self_cond)  # (B, L, C)
        if self.flow.prediction is Prediction.v:
            out = x_t + (1 - t)[:, None, None] * out
        return out if self.objective.recipe is Recipe.direct else self.normalise(out, mask)

    def flow_loss(self, z: torch.Tensor, mask: torch.Tensor, cond: torch.Tensor, rng: BatchRandom) -> tuple[torch.Tensor, FirstDraw]:
        """Flow matching on z (already detached), K independent (t, ε) per latent, in chunks of GE calls ->
        (the loss, each item's first draw: the GE's clean prediction (B, L, C) and its t (B,))."""
        flow = self.flow
        B, L, C = z.shape
        K = flow.k
        t = flow.time.sample(rng, K)  # (B, K)
        noise = self.slot_noise(rng, (K,), L)  # (B, K, L, C)
        if flow.input_perturbation > 0:
            noise = noise + flow.input_perturbation * self.slot_noise(rng, (K,), L)  # (B, K, L, C)
        drop = rng.rand(K) < flow.cond_drop  # (B, K)
        use_estimate = rng.rand(K) < flow.self_condition if flow.self_condition > 0 else None  # (B, K)
        per_repeat = []
        for k0 in range(0, K, flow.k_chunk):
            k1 = min(K, k0 + flow.k_chunk)
            n = B * (k1 - k0)
            z_k = z[:, None].expand(B, k1 - k0, L, C).reshape(n, L, C)  # (B*k, L, C)
            mask_k = mask.repeat_interleave(k1 - k0, dim=0)  # (B*k, L)
            path = linear_path(z_k, noise[:, k0:k1].reshape(n, L, C), t[:, k0:k1].reshape(n), mask_k)
            args = (path.x_t, path.t, cond.repeat_interleave(k1 - k0), drop[:, k0:k1].reshape(n), mask_k)
            if flow.self_condition > 0:
                args += (self.first_estimate(*args, chosen=use_estimate[:, k0:k1].reshape(n)),)
            pred = checkpoint(self.predict, *args, use_reentrant=False) if flow.checkpoint and self.training else self.predict(*args)
            per_repeat.append(velocity_loss(pred, path, mask_k, flow.t_clamp).view(B, k1 - k0).mean(0))  # (k,)
            if k0 == 0:
                first = FirstDraw(pred.view(B, k1 - k0, L, C)[:, 0], t[:, 0])  # (B, L, C), (B,)
        per_repeat = torch.cat(per_repeat)  # (K,)
        return (per_repeat.sum() if flow.k_weighting is KWeighting.sum else per_repeat.mean()), first

    def denoised_recon(self, draw: FirstDraw, mask: torch.Tensor, batch: Any) -> torch.Tensor:
        """The decoder's reconstruction loss on the GE's clean prediction from a noised latent, the decoder's weights
        held fixed for this term. The latent MSE weighs every latent direction alike; this weighs them as the decoder
        reads them, and its gradient reaches the denoiser only. Each item weighs its path's signal-to-noise ratio
        t² / (1 − t)² (clamped as the velocity loss is): the noisy end, where no prediction can place atoms, adds little."""
        frozen = {name: p.detach() for name, p in self.decoder.named_parameters()}
        snr = (draw.t / (1 - draw.t).clamp(min=self.flow.t_clamp)).pow(2)  # (B,)
        return self.decoder.loss(torch.func.functional_call(self.decoder, frozen, (draw.prediction, mask)), batch, snr).total

    @torch.no_grad()
    def first_estimate(self, x_t, t, cond, drop, mask, chosen) -> torch.Tensor:
        """Self-conditioning input: the GE's own clean estimate (no gradient) for the `chosen` rows, zeros elsewhere."""
        estimate = torch.zeros_like(x_t)  # (n, L, C)
        rows = chosen.nonzero().squeeze(1)
        if len(rows):
            estimate[rows] = self.predict(x_t[rows], t[rows], cond[rows], drop[rows], mask[rows])
        return estimate

    def forward(self, batch: Any, rng: BatchRandom) -> LossBreakdown:
        """One training objective: reconstruction through the tokenize pass and/or flow on detached z."""
        if self.augment is not None and self.training:
            batch = self.augment(batch, rng)
        recipe = self.objective.recipe
        with torch.set_grad_enabled(torch.is_grad_enabled() and recipe in (Recipe.joint, Recipe.tokenizer)):
            lat = self.latents(batch, rng)
        zero = lat.z.new_zeros(())
        recon = ReconLoss(zero, {})
        if recipe in (Recipe.joint, Recipe.tokenizer):
            recon = self.decoder.loss(self.decoder(self.noise_for_decoder(lat.z, lat.mask, rng), lat.mask), batch)
        elif recipe is Recipe.decoder:
            recon = self.decoder.loss(self.decoder(self.adapted_inputs(lat, rng), lat.mask), batch)
        flow, denoised = zero, None
        if recipe in (Recipe.joint, Recipe.latent_flow, Recipe.direct):
            flow, first = self.flow_loss(lat.z.detach(), lat.mask, lat.cond, rng)
            if self.objective.denoised_weight > 0:
                denoised = self.denoised_recon(first, lat.mask, batch)
        total = self.objective.recon_weight * recon.total + self.objective.flow_weight * flow
        if denoised is not None:
            total = total + self.objective.denoised_weight * denoised
        z_std = lat.z.detach()[lat.mask].float().std(0).mean()
        return LossBreakdown(total=total, recon=recon.total, flow=flow, recon_terms=recon.terms, z_std=z_std, denoised=denoised)

    @torch.no_grad()
    def reconstruct(self, batch: Any, generator: torch.Generator) -> Any:
        """Encode then decode without decoder noise: the tokenizer's round trip (`len(batch)` = its samples)."""
        lat = self.latents(batch, BatchRandom.whole(generator, len(batch)))
        return self.decoder(lat.z, lat.mask)

    @torch.no_grad()
    def generate(self, latent_mask: torch.Tensor, cond: torch.Tensor, sampler: SamplerConfig, generator: torch.Generator,
                 guide: "UNITE | None" = None, constraint: Energy | None = None) -> SampleResult:
        """ODE (or SDE) from noise to latents (B, L, C); the adapter decodes them with `self.decoder`. With `guide` (a weaker
        model of this latent space) and sampler.guide_scale != 1, the predictions are autoguided; with the adapter's
        `constraint` and sampler.constraint_scale > 0, they are then guided toward it. Every noise drawn (the start, the
        SDE's injections) is scaled by sampler.temperature."""
        if sampler.guide_scale != 1.0 and guide is None:
            raise ValueError(f"guide_scale={sampler.guide_scale:g} needs a guide model (a less trained checkpoint of the same run)")
        if sampler.constraint_scale > 0 and constraint is None:
            raise ValueError(f"constraint_scale={sampler.constraint_scale:g} needs a constraint, which this kind of data has not")
        shape, device = (*latent_mask.shape, self.objective.latent_dim), latent_mask.device
        scale = sampler.temperature * latent_mask[..., None]  # (B, L, 1)
        noise = lambda: torch.randn(shape, generator=generator, device=device) * scale  # noqa: E731  (B, L, C)
        predict = self.predict
        if sampler.guide_scale != 1.0:
            predict = AutoGuided(self.predict, guide.predict, sampler.guide_scale, sampler.guide_interval, sampler.guide_every)
        if sampler.constraint_scale > 0:
            predict = ConstraintGuided(predict, constraint, sampler.constraint_scale, sampler.constraint_interval)
        drift = GuidedDrift(predict, cond, latent_mask, sampler, self_condition=self.flow.self_condition > 0)
        return integrate(drift, noise(), sampler, noise)
