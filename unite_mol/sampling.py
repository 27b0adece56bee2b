"""From noise to structures: atom counts from the training histogram, ODE in latent space, decode."""
import numpy as np
import torch

from unite_core.flow import SamplerConfig
from unite_core.model import UNITE
from unite_mol.batch import ElementVocab
from unite_mol.structure import Structure


def draw_counts(histogram: np.ndarray, n: int, generator: torch.Generator) -> torch.Tensor:
    """n atom counts drawn from a histogram (index = atoms)."""
    return torch.multinomial(torch.as_tensor(histogram, dtype=torch.float), n, replacement=True, generator=generator)


@torch.no_grad()
def generate_structures(
    model: UNITE, counts: torch.Tensor, cond: int, periodic: bool, sampler: SamplerConfig, vocab: ElementVocab,
    generator: torch.Generator,
) -> list[Structure]:
    """One structure per atom count (crystals where `periodic`, the kind of dataset `cond`): latents by the GE's ODE,
    then elements (argmax) and positions (Å)."""
    device = next(model.parameters()).device
    atoms = torch.arange(int(counts.max()), device=device)[None] < counts.to(device)[:, None]  # (B, N)
    mask = model.decoder.latent_mask(atoms, periodic)  # (B, L): a crystal's lattice token, if it has one, then its atoms
    labels = torch.full((len(counts),), cond, dtype=torch.long, device=device)
    z = model.generate(mask, labels, sampler, generator).x  # (B, L, C)
    return model.decoder(z, mask).structures(counts.tolist(), vocab)
