"""torch.compile for the transformer blocks only: each block is compiled in place, so parameter names,
checkpoints and the EMA copy stay exactly as without it, and the model's Python-side control flow
(masks, in-context tokens, K flow repeats) never causes a graph break."""
import torch.nn as nn

from unite_core.nn.block import GEBlock
from unite_core.nn.vit import ViTBlock


def compile_blocks(model: nn.Module) -> int:
    """Compile every GE and decoder block of `model` in place; returns how many were compiled."""
    blocks = [m for m in model.modules() if isinstance(m, (GEBlock, ViTBlock))]
    for block in blocks:
        block.compile()
    return len(blocks)
