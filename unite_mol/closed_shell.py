"""The molecules' sampling constraint: a closed-shell composition. Each bond adds its order to two atoms, so a neutral
closed-shell molecule's valences sum to an even number, and an odd count of odd-valence atoms (H, N, F, ...) allows no
such molecule; every QM9 molecule meets it, while about 45 % of the shipped model's samples did not
(docs/molecules.md, "Constraint guidance: an even valence sum"). `EvenValence` is the energy `unite_core`'s
ConstraintGuided steps down."""
import torch

from unite_mol.decoder import AtomDecoder
from unite_mol.evaluate.edm_tables import ALLOWED_VALENCE
from unite_mol.structure import SYMBOLS


def odd_valence(vocabulary: list[int], elements: list[int]) -> tuple[bool, ...] | None:
    """Whether each element of the `vocabulary` (atomic numbers) has an odd valence, for a dataset of `elements` (the
    others are never decoded: False); None when one of `elements` has no valence here or valences of both parities."""
    parities = {z: {v % 2 for v in ALLOWED_VALENCE.get(SYMBOLS[z], [])} for z in elements}
    if any(len(p) != 1 for p in parities.values()):
        return None
    return tuple(parities.get(z) == {1} for z in vocabulary)


def even_valence(decoder: AtomDecoder, odd: tuple[bool, ...] | None, allowed: tuple[int, ...] | None) -> "EvenValence":
    """The constraint for a kind of structure (`odd`: `odd_valence`'s answer for it)."""
    if odd is None:
        raise ValueError("sampler.constraint_scale (--constraint-scale): the even-valence constraint is for molecules with "
                         "explicit hydrogens whose elements each have valences of one parity (H, C, N, O, F, ...)")
    return EvenValence(decoder, odd, allowed)


class EvenValence:
    """E(z) = −Σ_molecules log P(even valence sum), each atom odd with its decoded elements' probability q_i
    (independently): P(even) = (1 + Π_i (1 − 2 q_i)) / 2. Lowest where every composition the decoder reads is even."""

    def __init__(self, decoder: AtomDecoder, odd: tuple[bool, ...], allowed: tuple[int, ...] | None = None):
        self.decoder = decoder
        self.odd = torch.tensor(odd, dtype=torch.float32)  # (T,)
        self.allowed = None if allowed is None else torch.tensor(allowed)  # the elements this dataset decodes to

    def __call__(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.decoder(z, mask).logits  # (B, N, T)
        odd = self.odd.to(logits.device)
        if self.allowed is not None:
            logits, odd = logits[..., self.allowed], odd[self.allowed]  # (B, N, T')
        q = (logits.softmax(-1) * odd).sum(-1)  # (B, N) P(atom i has an odd valence)
        atoms = mask[:, mask.shape[1] - q.shape[1] :]  # (B, N): the atoms' slots (after a joint model's lattice slot)
        factor = torch.where(atoms, 1 - 2 * q, torch.ones_like(q))  # (B, N)
        even = (1 + factor.prod(-1)) / 2  # (B,)
        return -torch.log(even.clamp_min(1e-6)).sum()
