"""The orientation a molecule model sees: every rotation (a random one each step) or one fixed principal-axes frame."""
from enum import Enum

import numpy as np

from unite_mol.data.packed import Packed


class Frame(str, Enum):
    """`random`: each training step rotates each molecule at random, so the model learns every orientation (ADiT's
    augmentation). `principal`: each molecule is turned once into its own principal-axes frame and never rotated, so
    the latents of one molecule are one point, not a 3-D orbit of them."""

    random = "random"
    principal = "principal"


def principal_rotations(packed: Packed) -> np.ndarray:
    """One proper rotation per molecule (M, 3, 3), rows = its axes: the eigenvectors of the atomic-number-weighted
    second moments about the geometric centre, largest spread first; the first two point where the weighted third
    moment is positive and the third is their cross product (so a mirror image keeps its handedness)."""
    return _axes(packed, *_centred(packed))


def _axes(packed: Packed, owner: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`principal_rotations` from the atoms' molecule (A,) and centred positions (A, 3)."""
    w = packed.numbers.astype(np.float64)  # (A,)
    moments = np.add.reduceat(w[:, None, None] * x[:, :, None] * x[:, None, :], packed.offsets[:-1], axis=0)  # (M, 3, 3)
    axes = np.linalg.eigh(moments)[1][:, :, ::-1].transpose(0, 2, 1)  # (M, 3, 3) rows: axes, largest eigenvalue first
    skew = np.add.reduceat(w[:, None] * np.einsum("ad,akd->ak", x, axes[owner]) ** 3, packed.offsets[:-1], axis=0)  # (M, 3)
    axes[:, :2] *= np.where(skew[:, :2] < 0, -1.0, 1.0)[:, :, None]
    axes[:, 2] = np.cross(axes[:, 0], axes[:, 1])
    return axes


def check_frame(frame: Frame, periodic: bool) -> None:
    """A crystal has no principal frame of its own: its orientation is its cell's."""
    if periodic and frame is Frame.principal:
        raise ValueError("data.frame=principal is for molecules; a crystal's orientation is its cell's")


def to_frame(packed: Packed, frame: Frame) -> Packed:
    """`principal`: the molecules centred and turned into their principal-axes frames; `random`: as they are."""
    check_frame(frame, packed.cells is not None)
    if frame is Frame.random or not len(packed):
        return packed
    owner, x = _centred(packed)  # (A,), (A, 3)
    turned = np.einsum("akd,ad->ak", _axes(packed, owner, x)[owner], x)  # (A, 3)
    return Packed(packed.numbers, turned.astype(np.float32), packed.offsets)


def _centred(packed: Packed) -> tuple[np.ndarray, np.ndarray]:
    """The molecule of each atom (A,) and the atoms' positions about their molecule's geometric centre (A, 3)."""
    if (packed.sizes == 0).any():
        raise ValueError("data.frame=principal: a structure without atoms has no frame")
    owner = np.repeat(np.arange(len(packed)), packed.sizes)  # (A,)
    centre = np.add.reduceat(packed.positions.astype(np.float64), packed.offsets[:-1], axis=0) / packed.sizes[:, None]  # (M, 3)
    return owner, packed.positions - centre[owner]
