"""From noise to structures: atom counts (or, condition=formula, formulas) from the training histogram, ODE in latent
space, decode."""
from dataclasses import dataclass

import numpy as np
import torch

from unite_core.flow import SamplerConfig
from unite_core.model import UNITE
from unite_mol.batch import ElementVocab
from unite_mol.closed_shell import even_valence, odd_valence
from unite_mol.data import MolDataConfig
from unite_mol.formula import Formulas
from unite_mol.structure import Structure


def draw_counts(histogram: np.ndarray, n: int, generator: torch.Generator) -> torch.Tensor:
    """n indices drawn from a histogram: atom counts (index = atoms), or a formula model's conditions (index = formula)."""
    return torch.multinomial(torch.as_tensor(histogram, dtype=torch.float), n, replacement=True, generator=generator)


def draw_starts(n: int, histogram: np.ndarray, formulas: Formulas | None, generator: torch.Generator,
                formula: str | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(n,) atom counts and (n,) conditions to sample: counts from the histogram (conditions None: the dataset's), or for
    a formula-conditioned model formulas from its training histogram (or `formula` for all n), their atoms the counts."""
    if formulas is None:
        if formula is not None:
            raise ValueError(f"formula {formula}: this model is not formula-conditioned (it was trained with condition=dataset)")
        return draw_counts(histogram, n, generator), None
    conds = draw_counts(formulas.counts, n, generator) if formula is None else torch.full((n,), formulas.index(formula))  # (n,)
    return formulas.atoms()[conds], conds


@dataclass(frozen=True)
class Kind:
    """What to generate: the dataset id (the condition), crystals or molecules, the element indices that dataset
    holds (None: the whole vocabulary; a joint model's molecules are decoded over H C N O F only, its crystals over
    theirs), and for molecules with explicit hydrogens which vocabulary elements have an odd valence (the sampler's
    even-valence constraint; None where it does not apply)."""

    cond: int
    periodic: bool
    types: tuple[int, ...] | None = None
    odd: tuple[bool, ...] | None = None

    @classmethod
    def of(cls, part: MolDataConfig, vocab: ElementVocab) -> "Kind":
        own = ElementVocab(part.elements).numbers
        types = tuple(vocab.encode(own).tolist())
        odd = None if part.periodic or not part.hydrogens else odd_valence(vocab.numbers.tolist(), own.tolist())
        return cls(part.dataset_id, part.periodic, None if len(types) == len(vocab) else types, odd)


@torch.no_grad()
def sample_latents(
    model: UNITE, counts: torch.Tensor, kind: Kind, sampler: SamplerConfig, generator: torch.Generator,
    guide: UNITE | None = None, conds: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Latents (B, L, C) by the GE's ODE (autoguided by `guide` if sampler.guide_scale != 1, guided toward an even valence
    sum if sampler.constraint_scale > 0), one structure of `kind` per atom count given each one's condition (`conds`;
    None: kind.cond), with their latent mask (B, L)."""
    device = next(model.parameters()).device
    atoms = torch.arange(int(counts.max()), device=device)[None] < counts.to(device)[:, None]  # (B, N)
    mask = model.decoder.latent_mask(atoms, kind.periodic)  # (B, L): a crystal's lattice token, if it has one, then its atoms
    labels = torch.full((len(counts),), kind.cond, dtype=torch.long) if conds is None else conds  # (B,)
    constraint = even_valence(model.decoder, kind.odd, kind.types) if sampler.constraint_scale > 0 else None
    return model.generate(mask, labels.to(device), sampler, generator, guide, constraint).x, mask


@torch.no_grad()
def generate_structures(
    model: UNITE, counts: torch.Tensor, kind: Kind, sampler: SamplerConfig, vocab: ElementVocab, generator: torch.Generator,
    guide: UNITE | None = None, conds: torch.Tensor | None = None,
) -> list[Structure]:
    """One structure of `kind` per atom count: `sample_latents`, then `decode_structures`."""
    z, mask = sample_latents(model, counts, kind, sampler, generator, guide, conds)  # (B, L, C), (B, L)
    return decode_structures(model, z, mask, counts, kind, vocab)


@torch.no_grad()
def decode_structures(model: UNITE, z: torch.Tensor, mask: torch.Tensor, counts: torch.Tensor, kind: Kind,
                      vocab: ElementVocab) -> list[Structure]:
    """Latents (B, L, C) with their mask (B, L) -> one structure of `kind` per atom count: elements by argmax (over the
    kind's elements), positions (Å)."""
    allowed = None if kind.types is None else torch.tensor(kind.types)
    return model.decoder(z, mask).structures(counts.tolist(), vocab, allowed)
