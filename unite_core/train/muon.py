"""Muon for 2-D weights: heavy-ball momentum whose update is orthogonalised by a Newton–Schulz iteration.

torch.optim.Muon runs the iteration in bf16, fast on GPUs and slow on CPUs (`python benchmarks/muon_speed.py`); this one
runs it in bf16 on GPUs and fp32 on CPUs. Its state and group keys are torch's, so a state torch.optim.Muon wrote loads.
"""
import math

import torch

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # quintic, steep at 0: singular values end near 1 (0.6-1.14), not at 1


def orthogonalised(update: torch.Tensor, steps: int, dtype: torch.dtype, eps: float = 1e-7) -> torch.Tensor:
    """≈ U Vᵀ of update = U S Vᵀ (the singular values pushed towards 1), computed in `dtype`."""
    tall = update.size(0) > update.size(1)
    x = (update.T if tall else update).to(dtype)  # (short, long): the Gram matrix is the small one
    x = x / x.norm().clamp(min=eps)  # spectral norm <= Frobenius norm = 1
    a, b, c = NS_COEFFICIENTS
    for _ in range(steps):
        gram = x @ x.T  # (short, short)
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if tall else x).to(update.dtype)


class Muon(torch.optim.Optimizer):
    """Muon with Nesterov momentum and decoupled weight decay; the update is scaled by 0.2·√max(m, n), the RMS of
    an AdamW update, so one learning rate serves both optimisers (torch's adjust_lr_fn="match_rms_adamw")."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.95, nesterov: bool = True,
                 ns_steps: int = 5):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "nesterov": nesterov,
                                  "ns_steps": ns_steps})
        if bad := [tuple(p.shape) for g in self.param_groups for p in g["params"] if p.dim() != 2]:
            raise ValueError(f"Muon takes 2-D weights only, got shapes {bad[:3]}")

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p.grad))
                buf.lerp_(p.grad, 1 - momentum)
                update = p.grad.lerp(buf, momentum) if group["nesterov"] else buf
                dtype = torch.bfloat16 if p.is_cuda else torch.float32
                p.mul_(1 - lr * group["weight_decay"])
                p.add_(orthogonalised(update, group["ns_steps"], dtype), alpha=-lr * 0.2 * math.sqrt(max(p.shape)))
