"""Layers of the Generative Encoder and of decoder trunks."""
from unite_core.nn.compile import compile_blocks
from unite_core.nn.encoder import GEConfig, GenerativeEncoder, ModelConfig, presets
from unite_core.nn.layers import Attention, RMSNorm, SwiGLU
from unite_core.nn.vit import LatentTrunk, TrunkConfig, ViTBlock

__all__ = ["Attention", "GEConfig", "GenerativeEncoder", "LatentTrunk", "ModelConfig", "RMSNorm", "SwiGLU", "TrunkConfig", "ViTBlock", "compile_blocks", "presets"]
