"""Random, label-preserving changes of a training batch (a rotation, the order of the elements), drawn from the step's
BatchRandom (exact on resume / DDP)."""
import torch

from unite_core.rng import BatchRandom
from unite_mol.batch import MolBatch


def quaternion_matrix(q: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (B, 4) as w, x, y, z -> rotation matrices (B, 3, 3)."""
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).view(-1, 3, 3)


class RandomRotation:
    """Uniform random rotations (normalised Gaussian quaternions) of positions and, for crystals, the cell;
    molecules stay centred, fractional coordinates are unchanged."""

    def __call__(self, batch: MolBatch, rng: BatchRandom) -> MolBatch:
        q = rng.randn(4)  # (B, 4)
        R = quaternion_matrix(q / q.norm(dim=-1, keepdim=True)).to(batch.positions.dtype)  # (B, 3, 3)
        with torch.autocast(batch.positions.device.type, enabled=False):  # bf16 would round targets by ~0.01 Å
            positions = torch.einsum("bij,bnj->bni", R, batch.positions)  # (B, N, 3)
            cells = None if batch.cells is None else torch.einsum("bij,bkj->bki", R, batch.cells)  # (B, 3, 3), rows rotated
        return MolBatch(batch.types, positions, batch.mask, batch.cond, cells)


class ShuffledElements:
    """Each structure's elements in a random order along its tokens: a random rank per element and structure, the
    sites sorted by their element's rank (stable, so the sites of one element keep their order), padding last.
    `by_count`: elements with more sites first, the random rank ordering only elements of equal count."""

    def __init__(self, num_types: int, by_count: bool = False):
        self.num_types = num_types
        self.by_count = by_count

    def __call__(self, batch: MolBatch, rng: BatchRandom) -> MolBatch:
        rank = rng.rand(self.num_types)  # (B, T), in [0, 1)
        if self.by_count:
            counts = torch.zeros_like(rank).scatter_add_(1, batch.types, batch.mask.to(rank.dtype))  # (B, T) sites
            rank = rank - counts  # (B, T)
        key = torch.gather(rank, 1, batch.types).masked_fill(~batch.mask, float("inf"))  # (B, N), padding last
        order = torch.sort(key, dim=1, stable=True).indices  # (B, N)
        positions = torch.gather(batch.positions, 1, order[..., None].expand(-1, -1, 3))  # (B, N, 3)
        return MolBatch(torch.gather(batch.types, 1, order), positions, torch.gather(batch.mask, 1, order), batch.cond,
                        batch.cells)


class Chain:
    """Several augmentations, in turn."""

    def __init__(self, *steps):
        self.steps = steps

    def __call__(self, batch: MolBatch, rng: BatchRandom) -> MolBatch:
        for step in self.steps:
            batch = step(batch, rng)
        return batch
