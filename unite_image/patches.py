"""Images <-> sequences of flattened patches."""
import torch


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, H/p * W/p, p * p * C), patches in row-major order."""
    B, C, H, W = x.shape
    if H % patch or W % patch:
        raise ValueError(f"image {H}x{W} is not a whole number of {patch}-pixel patches")
    x = x.reshape(B, C, H // patch, patch, W // patch, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(B, (H // patch) * (W // patch), patch * patch * C)


def unpatchify(tokens: torch.Tensor, patch: int, size: int, channels: int = 3) -> torch.Tensor:
    """(B, N, p * p * C) -> (B, C, size, size): the inverse of `patchify` for square images."""
    B = tokens.shape[0]
    side = size // patch
    x = tokens.reshape(B, side, side, patch, patch, channels)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(B, channels, size, size)
