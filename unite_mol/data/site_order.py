"""The order of a structure's sites along its tokens (RoPE positions): as stored, or its elements shuffled each step."""
from enum import Enum


class SiteOrder(str, Enum):
    """`stored`: crystals in their canonical order (by atomic number, then by fractional coordinates), molecules as read.
    `shuffled_elements`: each training step puts each structure's elements in a random order, the sites of one element
    staying together and in their order. With the atomic-number order two elements of equal standing (Perov-5's A and
    B cations) always arrive lighter first, so the denoiser has to learn the pair as an ordered (min, max) pair, whose
    coupling it misses: its samples pair a heavy cation with a light one (docs/crystals.md, "Why the density EMD stays
    above CDVAE's")."""

    stored = "stored"
    shuffled_elements = "shuffled_elements"
