"""unite_core: the modality-free UNITE engine (Generative Encoder, flow matching, joint training).

Nothing here knows what an atom or a pixel is: adapters supply a tokenizer and a decoder.
"""
from unite_core.flow import SampleResult, SamplerConfig, Solver, TimeDist, TimeSampler
from unite_core.model import UNITE, Augmentation, FlowConfig, KWeighting, LossBreakdown, ObjectiveConfig, Observation, ReconLoss
from unite_core.nn import GEConfig, GenerativeEncoder, presets
from unite_core.rng import BatchRandom

__all__ = [
    "UNITE", "Augmentation", "BatchRandom", "FlowConfig", "GEConfig", "GenerativeEncoder", "KWeighting", "LossBreakdown",
    "ObjectiveConfig", "Observation", "ReconLoss", "SampleResult", "SamplerConfig", "Solver", "TimeDist",
    "TimeSampler", "presets",
]
