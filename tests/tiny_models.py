"""The tiny molecule model the molecule and crystal tests share: as CLI overrides (TINY) and as a MolConfig (tiny_mol),
with the QM9 element vocabulary and one step's random draws."""
import torch

from unite_core.rng import BatchRandom
from unite_mol.batch import ElementVocab
from unite_mol.run import MolConfig
from unite_mol.tokenizer import Pairing

TINY = ["model=tiny", "decoder.depth=1", "decoder.width=32", "decoder.heads=2", "env.scalars=8", "env.hidden_irreps=4x0e+2x1o+2x2e"]
VOCAB = ElementVocab(["H", "C", "N", "O", "F"])


def tiny_mol(pairing: Pairing = Pairing.sum) -> MolConfig:
    cfg = MolConfig(pairing=pairing)
    cfg.model.preset = "tiny"
    cfg.decoder.depth, cfg.decoder.width, cfg.decoder.heads = 1, 32, 2
    cfg.env.hidden_irreps, cfg.env.scalars = "4x0e + 2x1o + 2x2e", 8
    return cfg


def step_random(B: int, step: int = 0) -> BatchRandom:
    """The random draws of step `step` for a batch of B rows on one process (seed 0)."""
    return BatchRandom.for_step(0, step, 0, slice(0, B), B, torch.device("cpu"))
