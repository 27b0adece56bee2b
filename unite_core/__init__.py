"""unite_core: the modality-free UNITE engine (Generative Encoder, flow matching, joint training).

Nothing here knows what an atom or a pixel is: adapters supply a tokenizer and a decoder.
"""
from unite_core.lazy import lazy_exports

_FLOW, _MODEL, _NN = "unite_core.flow", "unite_core.model", "unite_core.nn"
_EXPORTS = {
    **dict.fromkeys(["SampleResult", "SamplerConfig", "Solver", "TimeDist", "TimeSampler"], _FLOW),
    **dict.fromkeys(["UNITE", "Augmentation", "FlowConfig", "KWeighting", "LossBreakdown", "ObjectiveConfig", "Prediction",
                     "Observation", "ReconLoss"], _MODEL),
    **dict.fromkeys(["GEConfig", "GenerativeEncoder", "presets"], _NN),
    "AdaptConfig": "unite_core.adapt",
    "BatchRandom": "unite_core.rng",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
