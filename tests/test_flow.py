"""The flow path, loss and ODE samplers against closed-form answers."""
import math

import pytest
import torch

from unite_core.flow import (
    AutoGuided, ConstraintGuided, GuidedDrift, SamplerConfig, Solver, TimeDist, TimeSampler, integrate, linear_path, masked_mean, shift_time, velocity,
    velocity_loss, with_overrides,
)
from unite_core.rng import BatchRandom


def test_euler_is_exact_for_constant_drift():
    a, x0 = torch.randn(2, 3, 5, 4, dtype=torch.float64)
    out = integrate(lambda x, t: a, x0, SamplerConfig(solver=Solver.euler, steps=7))
    assert out.nfe == 7
    torch.testing.assert_close(out.x, x0 + a, rtol=0, atol=1e-12)


@pytest.mark.parametrize("solver", list(Solver))
def test_integration_from_a_later_start_covers_only_the_rest_of_the_path(solver):
    a, x0 = torch.randn(2, 3, 5, 4, dtype=torch.float64)
    seen = []
    drift = lambda x, t: seen.append(t) or a  # noqa: E731
    out = integrate(drift, x0, SamplerConfig(solver=solver, steps=4, sde_noise=0.0), lambda: torch.zeros_like(x0), start=0.6)
    torch.testing.assert_close(out.x, x0 + 0.4 * a, rtol=0, atol=1e-12)
    assert min(seen) == 0.6 and max(seen) <= 1.0
    with pytest.raises(ValueError, match="start at a t in"):
        integrate(drift, x0, SamplerConfig(solver=solver), start=1.0)


def test_heun_is_exact_for_drift_linear_in_time_and_euler_is_not():
    a, b = torch.randn(2, 3, 5, 4, dtype=torch.float64)
    drift = lambda x, t: a + b * t
    exact = a + b / 2  # x(1) from x(0) = 0
    x0 = torch.zeros_like(a)
    heun = integrate(drift, x0, SamplerConfig(solver=Solver.heun, steps=3))
    assert heun.nfe == 6
    torch.testing.assert_close(heun.x, exact, rtol=0, atol=1e-12)
    euler = integrate(drift, x0, SamplerConfig(solver=Solver.euler, steps=3)).x
    assert (euler - exact).abs().max() > 0.01


@pytest.mark.parametrize("solver,order", [(Solver.euler, 1), (Solver.heun, 2)])
def test_solvers_converge_at_their_order(solver, order):
    """dx/dt = x·cos(t): x(1) = x0·e^{sin 1}; halving the step divides the error by 2^order."""
    x0 = torch.ones(1, 1, 1, dtype=torch.float64)
    exact = math.exp(math.sin(1.0))
    errors = [abs(integrate(lambda x, t: x * math.cos(t), x0, SamplerConfig(solver=solver, steps=n)).x.item() - exact) for n in (20, 40, 80)]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(abs(math.log2(r) - order) < 0.1 for r in ratios), ratios


def test_adaptive_meets_its_tolerance_with_few_evaluations():
    x0 = torch.ones(2, 3, 1, dtype=torch.float64)
    out = integrate(lambda x, t: x * math.cos(t), x0, SamplerConfig(solver=Solver.adaptive, steps=4, rtol=1e-6, atol=1e-6))
    torch.testing.assert_close(out.x, x0 * math.exp(math.sin(1.0)), rtol=1e-5, atol=0)
    assert 4 < out.nfe < 200


def gaussian_drift(mu: float, s: float):
    """The exact drift for data ~ N(mu, s²): x̂ = E[x | x_t] = mu + t·s²·(x_t − t·mu) / (t²·s² + (1 − t)²)."""
    def drift(x, t):
        x_hat = mu + t * s**2 * (x - t * mu) / (t**2 * s**2 + (1 - t) ** 2)
        return velocity(x_hat, x, torch.full((x.shape[0],), t, dtype=x.dtype), 1e-3)
    return drift


def test_sde_keeps_the_odes_marginals_and_forgets_a_wrong_start():
    """Euler–Maruyama on the exact Gaussian drift: every noise level ends at N(1.5, 0.5²); from a start shifted by 2 the
    ODE stays shifted (its map is deterministic), the SDE with enough noise recovers the data distribution."""
    g = torch.Generator().manual_seed(0)
    noise = lambda: torch.randn(40000, 1, 1, generator=g, dtype=torch.float64)  # noqa: E731
    drift = gaussian_drift(1.5, 0.5)
    for shift in (0.0, 2.0):
        x0 = noise() + shift
        ode = integrate(drift, x0, SamplerConfig(solver=Solver.euler, steps=200)).x
        assert abs(ode.mean().item() - 1.5 - shift / 2) < 0.02 and abs(ode.std().item() - 0.5) < 0.02
        for c in (1.0, 8.0):
            sde = integrate(drift, x0, SamplerConfig(solver=Solver.sde, steps=200, sde_noise=c), noise)
            assert sde.nfe == 200 and abs(sde.x.std().item() - 0.5) < 0.02
            assert abs(sde.x.mean().item() - 1.5) < (0.02 if shift == 0 or c == 8 else 0.6)


def test_temperature_narrows_what_the_ode_samples_by_its_factor():
    """The exact drift's ODE maps N(0, 1) to the data N(1.5, 0.5²) affinely, so a start drawn at temperature τ
    (N(0, τ²)) ends at N(1.5, (0.5·τ)²): the mode stays, the spread shrinks by τ."""
    x0 = torch.randn(40000, 1, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for tau in (1.0, 0.5):
        x = integrate(gaussian_drift(1.5, 0.5), tau * x0, SamplerConfig(solver=Solver.heun, steps=100)).x
        assert abs(x.mean().item() - 1.5) < 0.02 and abs(x.std().item() - 0.5 * tau) < 0.01
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"sampler.temperature \(--temperature\) must be > 0"):
            with_overrides(SamplerConfig(), temperature=bad)


def test_a_sampler_without_steps_or_with_a_non_positive_grid_shift_is_refused():
    """--steps 0 decoded the starting noise as if it were a sample (every figure 0, no error)."""
    for steps in (0, -2, 2.5):
        with pytest.raises(ValueError, match=r"^sampler.steps \(--steps\) must be a whole number >= 1"):
            with_overrides(SamplerConfig(), steps=steps)
    for shift in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"^sampler.grid_shift \(--grid-shift\) must be > 0"):
            with_overrides(SamplerConfig(), grid_shift=shift)


def test_sde_without_noise_is_euler_and_needs_a_noise_source():
    a, x0 = torch.randn(2, 3, 5, 4, dtype=torch.float64)
    drift = lambda x, t: a * x + t  # noqa: E731
    euler = integrate(drift, x0, SamplerConfig(solver=Solver.euler, steps=9)).x
    sde = integrate(drift, x0, SamplerConfig(solver=Solver.sde, steps=9, sde_noise=0.0), lambda: torch.randn_like(x0)).x
    torch.testing.assert_close(sde, euler, rtol=0, atol=0)
    with pytest.raises(ValueError, match="noise source"):
        integrate(drift, x0, SamplerConfig(solver=Solver.sde))
    with pytest.raises(ValueError, match="sampler.sde_noise"):
        with_overrides(SamplerConfig(), sde_noise=-1.0)


def test_grid_shift_keeps_endpoints_and_step_count():
    seen = []
    integrate(lambda x, t: seen.append(t) or torch.zeros_like(x), torch.zeros(1, 1, 1), SamplerConfig(solver=Solver.euler, steps=10, grid_shift=0.3))
    assert len(seen) == 10 and seen[0] == 0.0
    assert all(b > a for a, b in zip(seen, seen[1:]))
    assert seen[1] < 0.1 * 0.5  # a shift < 1 spends more steps near noise


def test_shift_time_maps_unit_interval_onto_itself():
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    torch.testing.assert_close(shift_time(t, 1.0), t)
    shifted = shift_time(t, 0.5)
    assert shifted[0] == 0 and shifted[-1] == 1 and torch.all(shifted[1:] > shifted[:-1])
    assert torch.all(shifted[1:-1] < t[1:-1])


def test_time_sampler_distributions():
    rng = BatchRandom.whole(torch.Generator().manual_seed(0), 20000)
    uniform = TimeSampler(dist=TimeDist.uniform, shift=1.0).sample(rng)
    assert abs(uniform.mean().item() - 0.5) < 0.01
    logit = TimeSampler(dist=TimeDist.logit_normal, shift=1.0).sample(rng)
    assert logit.min() > 0 and logit.max() < 1 and abs(logit.median().item() - 0.5) < 0.02
    shifted = TimeSampler(dist=TimeDist.logit_normal, shift=0.5).sample(rng)
    assert abs(shifted.median().item() - 1 / 3) < 0.02  # median 0.5 -> 0.5·0.5 / (1 − 0.5·0.5)


def test_padded_slots_stay_zero_and_never_count():
    x1, noise = torch.randn(2, 2, 6, 3)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], dtype=torch.bool)
    t = torch.tensor([0.3, 0.8])
    path = linear_path(x1, noise, t, mask)
    assert torch.all(path.x_t[~mask] == 0)
    pred = torch.randn(2, 6, 3)
    loss = velocity_loss(pred, path, mask)
    garbage = pred.clone()
    garbage[~mask] = 1e6
    torch.testing.assert_close(velocity_loss(garbage, path, mask), loss)
    manual = ((pred - x1) / (1 - t)[:, None, None]).pow(2)  # v̂ − v = (x̂ − x1)/(1 − t)
    torch.testing.assert_close(loss, torch.stack([manual[0, :4].mean(), manual[1, :2].mean()]))


def test_masked_mean_weights_each_sample_by_its_own_slots():
    values = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [2.0], [2.0]]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    torch.testing.assert_close(masked_mean(values, mask), torch.tensor([2.0, 2.0]))


def test_velocity_clamp_bounds_the_weight_near_data():
    x1 = torch.ones(1, 1, 1)
    path = linear_path(x1, torch.zeros(1, 1, 1), torch.tensor([0.999]), torch.ones(1, 1, dtype=torch.bool))
    loss = velocity_loss(torch.zeros(1, 1, 1), path, torch.ones(1, 1, dtype=torch.bool), t_clamp=0.05)
    torch.testing.assert_close(loss, torch.tensor([1 / 0.05**2]))


class _Recorder:
    """A predictor whose answer depends on the condition, recording how it was called."""

    def __init__(self):
        self.calls = []

    def __call__(self, x, t, cond, drop, mask):
        self.calls.append(x.shape[0])
        return (x * 0.5 + torch.where(drop, -1.0, cond.float())[:, None, None]) * mask[..., None]


def test_cfg_scale_one_is_the_plain_model_with_one_branch():
    x0, cond, mask = torch.randn(4, 3, 2), torch.tensor([0, 1, 2, 1]), torch.ones(4, 3, dtype=torch.bool)
    rec = _Recorder()
    guided = integrate(GuidedDrift(rec, cond, mask, SamplerConfig(cfg_scale=1.0, steps=5)), x0, SamplerConfig(steps=5))
    plain_pred = lambda x, t: rec(x, torch.full((4,), t), cond, torch.zeros(4, dtype=torch.bool), mask)
    plain = integrate(lambda x, t: (plain_pred(x, t) - x) / max(1 - t, 0.05), x0, SamplerConfig(steps=5))
    torch.testing.assert_close(guided.x, plain.x)
    assert set(rec.calls) == {4}


def test_cfg_combines_branches_only_inside_its_interval():
    x, cond, mask = torch.randn(2, 3, 2), torch.tensor([1, 2]), torch.ones(2, 3, dtype=torch.bool)
    rec = _Recorder()
    drift = GuidedDrift(rec, cond, mask, SamplerConfig(cfg_scale=3.0, cfg_interval=(0.2, 0.6)))
    inside = drift(x, 0.4)
    x_cond, x_null = x * 0.5 + cond.float()[:, None, None], x * 0.5 - 1.0
    torch.testing.assert_close(inside, (x_null + 3.0 * (x_cond - x_null) - x) / 0.6)
    outside = drift(x, 0.8)
    torch.testing.assert_close(outside, (x_cond - x) / (1 - 0.8))
    assert rec.calls == [4, 2]


def test_self_conditioning_feeds_each_prediction_the_previous_estimate():
    x0, cond, mask = torch.randn(2, 3, 2), torch.tensor([1, 2]), torch.ones(2, 3, dtype=torch.bool)
    seen, made = [], []

    def predict(x, t, cond, drop, mask, self_cond):
        seen.append(self_cond.clone())
        made.append(x * 0.5 + self_cond * 0.1)
        return made[-1]

    result = integrate(GuidedDrift(predict, cond, mask, SamplerConfig(), self_condition=True), x0, SamplerConfig(steps=3))
    assert result.nfe == 6 and len(seen) == 6
    assert torch.all(seen[0] == 0)  # nothing to condition on at the first evaluation
    for before, now in zip(made[:-1], seen[1:]):
        torch.testing.assert_close(now, before)


def test_autoguidance_extrapolates_from_the_weak_prediction_and_scale_one_is_the_strong_model():
    x, cond, mask = torch.randn(2, 3, 2), torch.tensor([1, 2]), torch.ones(2, 3, dtype=torch.bool)
    strong, weak = _Recorder(), lambda x, t, cond, drop, mask: x * 0.25 * mask[..., None]
    args = (x, torch.full((2,), 0.5), cond, torch.zeros(2, dtype=torch.bool), mask)
    x_strong, x_weak = strong(*args), weak(*args)
    torch.testing.assert_close(AutoGuided(strong, weak, 2.5)(*args), x_weak + 2.5 * (x_strong - x_weak))
    torch.testing.assert_close(AutoGuided(strong, weak, 1.0)(*args), x_strong)
    both = GuidedDrift(AutoGuided(strong, weak, 2.0), cond, mask, SamplerConfig(cfg_scale=3.0))(x, 0.5)  # CFG of the autoguided x̂
    x_cond, x_null = x * 0.5 + cond.float()[:, None, None], x * 0.5 - 1.0
    guided = lambda s: x * 0.25 + 2.0 * (s - x * 0.25)  # noqa: E731
    torch.testing.assert_close(both, (guided(x_null) + 3.0 * (guided(x_cond) - guided(x_null)) - x) / 0.5)


def test_autoguidance_outside_its_interval_is_the_strong_model_alone_and_the_weak_one_is_not_run():
    x, cond, mask = torch.randn(2, 3, 2), torch.tensor([1, 2]), torch.ones(2, 3, dtype=torch.bool)
    weak_times = []
    weak = lambda x, t, cond, drop, mask: weak_times.append(float(t[0])) or x * 0.25  # noqa: E731
    strong, guided = _Recorder(), AutoGuided(_Recorder(), weak, 2.0, interval=(0.2, 0.7))
    rest = (cond, torch.zeros(2, dtype=torch.bool), mask)
    for t in (0.1, 0.2, 0.5, 0.7, 0.9):
        at = (x, torch.full((2,), t), *rest)
        want = strong(*at) if not 0.2 <= t <= 0.7 else torch.lerp(weak(*at), strong(*at), 2.0)
        torch.testing.assert_close(guided(*at), want)
    assert weak_times == pytest.approx([0.2, 0.2, 0.5, 0.5, 0.7, 0.7])  # the weak model only inside [0.2, 0.7] (once for `want`, once guided)
    for bad in [(0.5, 0.5), (-0.1, 1.0), (0.2, 1.5)]:
        with pytest.raises(ValueError, match=r"^sampler.guide_interval \(--guide-interval\) must be LO, HI with 0 <= LO < HI <= 1"):
            with_overrides(SamplerConfig(), guide_interval=bad)


def test_a_cfg_interval_out_of_range_is_refused_by_the_config_itself():
    for bad in [(0.5, 0.5), (-0.1, 1.0), (0.2, 1.5)]:
        with pytest.raises(ValueError, match=r"^sampler.cfg_interval \(--cfg-interval\) must be LO, HI with 0 <= LO < HI <= 1"):
            SamplerConfig(cfg_interval=bad)  # as from a YAML file; the command line's is checked when parsed


def test_autoguidance_every_k_runs_the_weak_model_once_in_k_evaluations_and_reuses_its_correction():
    x, cond, mask = torch.randn(2, 3, 2), torch.tensor([1, 2]), torch.ones(2, 3, dtype=torch.bool)
    weak_times = []
    weak = lambda x, t, cond, drop, mask: weak_times.append(float(t[0])) or x * 0.25  # noqa: E731
    strong, guided = _Recorder(), AutoGuided(_Recorder(), weak, 2.0, interval=(0.2, 1.0), every=3)
    rest = (cond, torch.zeros(2, dtype=torch.bool), mask)
    for i, t in enumerate((0.1, 0.3, 0.4, 0.5, 0.6, 0.7)):
        at = (x + i, torch.full((2,), t), *rest)  # a new state at each evaluation
        if t in (0.3, 0.6):  # evaluations 0 and 3 of the interval: the weak model's correction is renewed
            correction = strong(*at) - at[0] * 0.25
        want = strong(*at) if t < 0.2 else strong(*at) + correction
        torch.testing.assert_close(guided(*at), want)
    assert weak_times == pytest.approx([0.3, 0.6])
    with pytest.raises(ValueError, match=r"^sampler.guide_every \(--guide-every\) must be a whole number >= 1, got 0$"):
        with_overrides(SamplerConfig(), guide_every=0)


def test_constraint_guidance_steps_the_prediction_down_the_energy_inside_its_interval_only():
    x, cond, mask = torch.randn(2, 3, 2), torch.tensor([1, 2]), torch.tensor([[True, True, False], [True, True, True]])
    strong = _Recorder()
    energy = lambda x_hat, mask: ((x_hat - 1.0) ** 2 * mask[..., None]).sum()  # noqa: E731  lowest at x̂ = 1 on real slots
    guided = ConstraintGuided(strong, energy, 0.1, interval=(0.2, 0.7))
    rest = (cond, torch.zeros(2, dtype=torch.bool), mask)
    for t in (0.1, 0.2, 0.5, 0.9):
        at = (x, torch.full((2,), t), *rest)
        x_hat = strong(*at)
        want = x_hat - 0.1 * 2 * (x_hat - 1.0) * mask[..., None] if 0.2 <= t <= 0.7 else x_hat  # one gradient step
        with torch.no_grad():  # as the samplers call it: the step takes its gradient all the same
            torch.testing.assert_close(guided(*at), want)
    assert torch.all(want[~mask] == 0)  # padded slots stay as predicted
    with pytest.raises(ValueError, match=r"^sampler.constraint_scale \(--constraint-scale\) must be >= 0, got -1"):
        with_overrides(SamplerConfig(), constraint_scale=-1.0)
    with pytest.raises(ValueError, match=r"^sampler.constraint_interval \(--constraint-interval\) must be LO, HI"):
        with_overrides(SamplerConfig(), constraint_interval=(0.7, 0.2))
