"""Random rotation of each training structure, drawn from the step's BatchRandom (exact on resume / DDP)."""
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
