"""Flow matching on the linear path: time sampling, the velocity objective and ODE samplers."""
from unite_core.flow.loss import item_mean, masked_mean, velocity, velocity_loss
from unite_core.flow.path import PathSample, TimeDist, TimeSampler, linear_path, shift_time
from unite_core.flow.sampler import (
    AutoGuided, ConstraintGuided, Energy, GuidedDrift, SampleResult, SamplerConfig, Solver, integrate, with_overrides,
)

__all__ = [
    "AutoGuided", "ConstraintGuided", "Energy", "GuidedDrift", "PathSample", "SampleResult", "SamplerConfig", "Solver", "TimeDist",
    "TimeSampler", "integrate", "item_mean", "linear_path", "masked_mean", "shift_time", "velocity", "velocity_loss", "with_overrides",
]
