"""The UNITE objective on the toy point-cloud adapter: weight sharing, gradient routing, masks, CFG."""
import torch

from unite_core.flow import SamplerConfig, Solver, integrate
from unite_core.model import Prediction
from unite_core.rng import BatchRandom
from unite_core.toy.data import ToyShapes, collate
from unite_core.toy.run import build_model

from conftest import tiny_toy


def _model_and_batch(tmp_path):
    cfg = tiny_toy(tmp_path)
    model = build_model(cfg)
    for p in model.parameters():  # leave the zero-init regime so every path carries gradient
        if torch.all(p == 0):
            torch.nn.init.normal_(p, std=0.05)
    batch = collate([ToyShapes(cfg.data)[i] for i in range(8)])
    return model, batch


def _rng():
    return BatchRandom.for_step(0, 0, 0, slice(0, 8), 8, torch.device("cpu"))


def test_one_ge_serves_both_passes(tmp_path):
    model, batch = _model_and_batch(tmp_path)
    seen = []
    model.ge.register_forward_hook(lambda mod, args, kwargs, out: seen.append((id(mod), kwargs.get("observation", args[5] if len(args) > 5 else None) is not None)), with_kwargs=True)
    model(batch, _rng())
    assert len({mod for mod, _ in seen}) == 1  # the very same module (hence parameter objects)
    assert [has_obs for _, has_obs in seen] == [True] + [False] * len(seen[1:]) and len(seen) >= 2
    assert sum(isinstance(m, type(model.ge)) for m in model.modules()) == 1


def test_flow_loss_sends_no_gradient_into_its_target(tmp_path):
    model, batch = _model_and_batch(tmp_path)
    model(batch, _rng()).flow.backward()
    tokenizer_only = [p.grad for p in model.tokenizer.parameters()] + [p.grad for p in model.ge.observation_in.parameters()]
    assert all(g is None or torch.all(g == 0) for g in tokenizer_only)
    assert all(p.grad is None for p in model.decoder.parameters())
    assert model.ge.blocks[0].attn.qkv.weight.grad.abs().sum() > 0  # the denoise pass trains the GE


def test_ge_gets_gradient_from_both_passes(tmp_path):
    model, batch = _model_and_batch(tmp_path)
    recon_grads, flow_grads = {}, {}
    for which, store in (("recon", recon_grads), ("flow", flow_grads)):
        model.zero_grad(set_to_none=True)
        losses = model(batch, _rng())
        getattr(losses, which).backward()
        store.update({n: p.grad.clone() for n, p in model.ge.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0})
    shared = set(recon_grads) & set(flow_grads)
    assert {"blocks.0.attn.qkv.weight", "blocks.1.mlp.w13.weight", "final.linear.weight"} <= shared
    assert "observation_in.weight" in recon_grads and "observation_in.weight" not in flow_grads


def test_padding_never_counts(tmp_path):
    model, batch = _model_and_batch(tmp_path)
    assert (~batch.mask).any()
    losses = model(batch, _rng())
    batch.points[~batch.mask] = 123.0
    again = model(batch, _rng())
    torch.testing.assert_close(again.total, losses.total)
    torch.testing.assert_close(again.flow, losses.flow)


def test_extra_padding_does_not_change_the_loss(tmp_path):
    """Noise is drawn per (sample, slot), so padding a batch further changes nothing."""
    model, _ = _model_and_batch(tmp_path)
    data = ToyShapes(tiny_toy(tmp_path).data)
    batch = collate([item for item in data if len(item[0]) <= 10][:8])
    extra = model.max_latents - batch.mask.shape[1]
    wider = type(batch)(torch.cat([batch.points, torch.zeros(8, extra, 2)], 1), torch.cat([batch.mask, torch.zeros(8, extra, dtype=torch.bool)], 1), batch.label)
    torch.testing.assert_close(model(wider, _rng()).total, model(batch, _rng()).total, atol=1e-5, rtol=1e-5)


def test_k_weighting_is_explicit(tmp_path):
    model, batch = _model_and_batch(tmp_path)
    summed = model(batch, _rng()).flow
    model.flow.k_weighting = type(model.flow.k_weighting).mean
    torch.testing.assert_close(summed / model.flow.k, model(batch, _rng()).flow)


def test_chunking_and_checkpointing_do_not_change_the_flow_loss(tmp_path):
    model, batch = _model_and_batch(tmp_path)
    model.flow.k, model.flow.k_chunk = 5, 5
    whole = model(batch, _rng()).flow
    model.flow.k_chunk, model.flow.checkpoint = 2, True
    torch.testing.assert_close(model(batch, _rng()).flow, whole, atol=1e-5, rtol=1e-5)


def test_the_denoised_reconstruction_trains_the_ge_through_a_fixed_decoder(tmp_path):
    """objective.denoised_weight > 0: the decoder's loss on the first draw's clean prediction joins the total; its
    gradient reaches the GE and the latent norm, never the decoder or the tokenizer, and a perfect prediction makes it
    the round trip's own per-item losses, each times its draw's t² / (1 − t)²."""
    model, batch = _model_and_batch(tmp_path)
    plain = model(batch, _rng())
    assert plain.denoised is None and "denoised" not in plain.scalars()
    model.objective.denoised_weight = 0.5
    out = model(batch, _rng())
    torch.testing.assert_close(out.flow, plain.flow)  # the same draws: the term only reads the first prediction
    torch.testing.assert_close(out.total, plain.total + 0.5 * out.denoised)
    assert out.scalars()["denoised"] == float(out.denoised.detach()) > 0
    out.denoised.backward()
    assert all(p.grad is None for p in model.decoder.parameters())
    assert all(p.grad is None or torch.all(p.grad == 0) for p in model.tokenizer.parameters())
    assert model.ge.blocks[0].attn.qkv.weight.grad.abs().sum() > 0 and model.latent_norm.weight.grad.abs().sum() > 0
    lat = model.latents(batch, _rng())
    model.predict = lambda x_t, *rest: lat.z.repeat_interleave(len(x_t) // len(lat.z), 0)  # perfect, (B*k, L, C) item-major
    _, first = model.flow_loss(lat.z, lat.mask, lat.cond, _rng())
    torch.testing.assert_close(first.prediction, lat.z)
    snr = (first.t / (1 - first.t).clamp(min=model.flow.t_clamp)) ** 2  # each item weighs its signal-to-noise ratio
    one = lambda i: type(batch)(batch.points[i:i + 1], batch.mask[i:i + 1], batch.label[i:i + 1])  # noqa: E731
    per_item = torch.stack([model.decoder.loss(model.decoder(lat.z[i:i + 1], lat.mask[i:i + 1]), one(i)).total for i in range(8)])
    torch.testing.assert_close(model.denoised_recon(first, lat.mask, batch), (snr * per_item).mean())


def test_the_denoised_reconstruction_needs_a_decoder_and_a_sign(tmp_path):
    import dataclasses

    import pytest

    objective = tiny_toy(tmp_path).objective
    for recipe, weight in (("decoder", 1.0), ("tokenizer", 1.0), ("joint", -1.0)):
        with pytest.raises(ValueError, match="objective.denoised_weight"):
            dataclasses.replace(objective, recipe=type(objective.recipe)(recipe), denoised_weight=weight)


def test_generate_with_cfg_one_equals_the_unguided_ode(tmp_path):
    model, batch = _model_and_batch(tmp_path)
    model.eval()
    mask, cond = batch.mask, batch.label
    sampler = SamplerConfig(steps=4, cfg_scale=1.0)
    out = model.generate(mask, cond, sampler, torch.Generator().manual_seed(1))
    x0 = torch.randn(*mask.shape, model.objective.latent_dim, generator=torch.Generator().manual_seed(1)) * mask[..., None]
    keep = torch.zeros_like(cond, dtype=torch.bool)
    drift = lambda x, t: (model.predict(x, torch.full((8,), t), cond, keep, mask) - x) / max(1 - t, 0.05) * mask[..., None]
    with torch.no_grad():
        torch.testing.assert_close(out.x, integrate(drift, x0, sampler).x)
    assert out.nfe == 8 and torch.all(out.x[~mask] == 0)
    guided = model.generate(mask, cond, SamplerConfig(steps=4, cfg_scale=4.0), torch.Generator().manual_seed(1))
    assert not torch.allclose(guided.x, out.x)


def test_generate_by_sde_is_seeded_keeps_padding_zero_and_differs_from_the_ode(tmp_path):
    model, batch = _model_and_batch(tmp_path)
    model.eval()
    mask, cond = batch.mask, batch.label
    sde = SamplerConfig(solver=Solver.sde, steps=6, sde_noise=4.0)
    out = model.generate(mask, cond, sde, torch.Generator().manual_seed(1))
    again = model.generate(mask, cond, sde, torch.Generator().manual_seed(1))
    torch.testing.assert_close(out.x, again.x, rtol=0, atol=0)
    assert out.nfe == 6 and torch.all(out.x[~mask] == 0) and out.x[mask].abs().sum() > 0
    ode = model.generate(mask, cond, SamplerConfig(solver=Solver.euler, steps=6), torch.Generator().manual_seed(1))
    assert not torch.allclose(out.x, ode.x)


def test_generate_guided_toward_a_constraint_needs_one_and_moves_the_samples_toward_it(tmp_path):
    import pytest

    model, batch = _model_and_batch(tmp_path)
    model.eval()
    mask, cond = batch.mask, batch.label
    sampler = SamplerConfig(steps=4, constraint_scale=0.2)
    with pytest.raises(ValueError, match=r"^constraint_scale=0.2 needs a constraint, which this kind of data has not"):
        model.generate(mask, cond, sampler, torch.Generator().manual_seed(1))
    toward_one = lambda x_hat, mask: ((x_hat - 1.0) ** 2 * mask[..., None]).sum()  # noqa: E731
    plain = model.generate(mask, cond, SamplerConfig(steps=4), torch.Generator().manual_seed(1)).x
    pulled = model.generate(mask, cond, sampler, torch.Generator().manual_seed(1), constraint=toward_one).x
    assert (pulled[mask] - 1).abs().mean() < (plain[mask] - 1).abs().mean() and torch.all(pulled[~mask] == 0)


def test_temperature_scales_the_start_and_every_sde_injection(tmp_path):
    model, batch = _model_and_batch(tmp_path)
    model.eval()
    mask, cond = batch.mask, batch.label
    keep = torch.zeros_like(cond, dtype=torch.bool)
    drift = lambda x, t: (model.predict(x, torch.full((8,), t), cond, keep, mask) - x) / max(1 - t, 0.05) * mask[..., None]
    for solver in (Solver.heun, Solver.sde):
        sampler = SamplerConfig(solver=solver, steps=4, sde_noise=4.0, temperature=0.3)
        out = model.generate(mask, cond, sampler, torch.Generator().manual_seed(1))
        g = torch.Generator().manual_seed(1)
        noise = lambda: 0.3 * torch.randn(*mask.shape, model.objective.latent_dim, generator=g) * mask[..., None]  # noqa: E731
        with torch.no_grad():
            torch.testing.assert_close(out.x, integrate(drift, noise(), sampler, noise).x)
        assert torch.all(out.x[~mask] == 0)


def test_v_prediction_adds_the_network_output_to_x_t_scaled_by_1_minus_t(tmp_path):
    model, batch = _model_and_batch(tmp_path)
    model.flow.prediction = Prediction.v
    mask, cond = batch.mask, batch.label
    keep = torch.zeros_like(cond, dtype=torch.bool)
    x_t = torch.randn(*mask.shape, model.objective.latent_dim) * mask[..., None]
    t = torch.full((8,), 0.9)
    with torch.no_grad():
        raw = model.ge(x_t, t, cond, keep, mask)
        torch.testing.assert_close(model.predict(x_t, t, cond, keep, mask), model.normalise(x_t + 0.1 * raw, mask))
        model.ge.final.linear.weight.zero_()
        model.ge.final.linear.bias.zero_()
        torch.testing.assert_close(model.predict(x_t, t, cond, keep, mask), model.normalise(x_t, mask))  # zero output: identity
    assert torch.isfinite(model(batch, _rng()).flow)


def test_self_conditioning_starts_as_the_plain_model_and_trains_its_input(tmp_path):
    cfg = tiny_toy(tmp_path)
    cfg.flow.self_condition = 0.5
    model = build_model(cfg)
    batch = collate([ToyShapes(cfg.data)[i] for i in range(8)])
    x_t, t = torch.randn(8, cfg.data.max_points, cfg.objective.latent_dim), torch.rand(8)
    cond, keep, mask = batch.label, torch.zeros(8, dtype=torch.bool), batch.mask
    plain = model.predict(x_t, t, cond, keep, mask)
    torch.testing.assert_close(model.predict(x_t, t, cond, keep, mask, torch.randn_like(x_t)), plain)  # zero-initialised input
    chosen = torch.tensor([True, False] * 4)
    estimate = model.first_estimate(x_t, t, cond, keep, mask, chosen=chosen)
    assert torch.all(estimate[~chosen] == 0) and not estimate.requires_grad
    torch.testing.assert_close(estimate[chosen], plain[chosen])
    model(batch, _rng()).flow.backward()
    assert model.ge.self_cond_in.weight.grad.abs().sum() > 0  # the estimate reaches the loss


def test_input_perturbation_moves_only_what_the_ge_sees(tmp_path):
    """γ > 0: z_t is built from ε + γ·ξ (on top of the unperturbed draws), the target stays the clean z."""
    model, batch = _model_and_batch(tmp_path)
    K, L, C = model.flow.k, batch.mask.shape[1], model.objective.latent_dim
    z, mask, cond = torch.randn(8, L, C), batch.mask, batch.label
    z_k, mask_k = z.repeat_interleave(K, 0), mask.repeat_interleave(K, 0)  # (8*K, L, C), (8*K, L): one row per draw
    seen = []

    def perfect(x_t, t, *rest):  # records what the GE is shown and predicts the clean z exactly
        seen.append((x_t, t))
        return z_k

    model.predict, model.flow.k_chunk = perfect, K  # one GE call sees all K draws
    implied = {}
    for gamma in (0.0, 0.5):
        model.flow.input_perturbation, seen[:] = gamma, []
        assert model.flow_loss(z, mask, cond, _rng())[0] == 0  # a perfect clean prediction costs nothing either way
        x_t, t = seen[0]
        tt = t[:, None, None]
        implied[gamma] = ((x_t - tt * z_k) / (1 - tt))[mask_k]  # the noise behind each z_t
    rng = _rng()
    model.flow.time.sample(rng, K)
    drawn = model.slot_noise(rng, (K,), L).reshape(8 * K, L, C)[mask_k]
    torch.testing.assert_close(implied[0.0], drawn, atol=1e-4, rtol=1e-4)  # γ = 0 draws exactly what it drew before
    extra = (implied[0.5] - drawn) / 0.5
    assert 0.8 < extra.std() < 1.2 and abs(extra.mean()) < 0.1  # γ·ξ with fresh ξ ~ N(0, I)


def test_decoder_noise_mixes_z_with_fresh_noise_for_its_share_of_the_batch(tmp_path):
    """objective.decoder_noise_prob of the rows decode t·z + (1 − t)·ε, t ~ U[decoder_noise_t_min, 1]; the rest decode z."""
    model, _ = _model_and_batch(tmp_path)
    B, L, C = 400, 6, model.objective.latent_dim
    z, mask = torch.randn(B, L, C), torch.ones(B, L)
    rng = lambda: BatchRandom.whole(torch.Generator().manual_seed(3), B)  # noqa: E731

    model.objective.decoder_noise_prob = 0.0
    torch.testing.assert_close(model.noise_for_decoder(z, mask, rng()), z)

    model.objective.decoder_noise_prob, model.objective.decoder_noise_t_min = 1.0, 0.7
    out, replay = model.noise_for_decoder(z, mask, rng()), rng()
    replay.rand()  # the share's draw
    t = 0.7 + 0.3 * replay.rand()  # (B,)
    eps = model.slot_noise(replay, (), L)  # (B, L, C)
    torch.testing.assert_close(out, t[:, None, None] * z + (1 - t[:, None, None]) * eps)

    model.objective.decoder_noise_prob = 0.5
    unchanged = (model.noise_for_decoder(z, mask, rng()) == z).flatten(1).all(1).float().mean()
    assert 0.4 < unchanged < 0.6
