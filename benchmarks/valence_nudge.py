"""How far are a QM9 model's samples from EDM-stable? The same draws sampled twice: as the model samples them, and
with the GE's clean prediction x̂ nudged down the gradient of a soft EDM valence energy for t >= --from-t (at each
evaluation, --iters steps x̂ <- x̂ − λ·∇E(decoder(x̂))). E is each atom's expected squared gap between its allowed
valence and the sum of its bond orders, the orders being EDM's length tables with each step of the table softened into a sigmoid
(width --soft Å) and the elements taken as the decoder's probabilities. Paired rows (same counts, same noise; the
nudged path leaves the plain one at --from-t): the EDM and RDKit-native figures (`mol_diagnose.score`) and how far
each atom moved. A diagnostic of the EDM tables' sharpness, not a sampler: it steers toward the very tables EDM
scores with, so its EDM figures are not the model's. Score both files with every protocol to see what else moves:

    python benchmarks/valence_nudge.py --ckpt qm9 --n 1000 --from-t 0.9 --out-dir nudge/ \
        --json benchmarks/results/valence_nudge/shipped_from09_1k.json
    unite-mol evaluate nudge/plain.xyz --posebusters-n 100   # and nudge/nudged.xyz
"""
import argparse
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from unite_core.jsonio import write_json
from unite_mol.batch import ElementVocab
from unite_mol.evaluate.edm import threshold_table
from unite_mol.evaluate.edm_tables import ALLOWED_VALENCE, DOUBLE, MARGINS_PM, SINGLE, TRIPLE
from unite_mol.formats import write_structures
from unite_mol.generator import MolGenerator, load
from unite_mol.structure import SYMBOLS, Structure

from mol_diagnose import Row, score


class SoftValence:
    """E(latents) for a model's decoder: Σ over atoms and their element probabilities p of (Σ_j order_ij − valence)²."""

    def __init__(self, gen: MolGenerator, soft: float):
        numbers = ElementVocab(gen.config.elements).numbers
        pair = np.ix_(numbers, numbers)
        tables = zip((SINGLE, DOUBLE, TRIPLE), MARGINS_PM)
        self.limits = [torch.tensor(threshold_table(t, m)[pair], dtype=torch.float32) for t, m in tables]  # 3 x (T, T) Å
        self.valence = torch.tensor([ALLOWED_VALENCE[SYMBOLS[z]][0] for z in numbers], dtype=torch.float32)  # (T,)
        self.decoder, self.soft = gen.model.decoder, soft

    def __call__(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.decoder(z, mask)
        p = out.logits.softmax(-1) * mask[..., None]  # (B, N, T)
        d = torch.cdist(out.positions, out.positions)[..., None, None]  # (B, N, N, 1, 1)
        within = [torch.sigmoid((lim - d) / self.soft) for lim in self.limits]  # 3 x (B, N, N, T, T); 0 where -inf (no bond)
        order = torch.einsum("bik,bjl,bijkl->bij", p, p, within[0] * (1 + within[1] * (1 + within[2])))  # (B, N, N)
        order = order * (1 - torch.eye(order.shape[1]))  # (B, N, N)
        gap = order.sum(-1)[..., None] - self.valence  # (B, N, T)
        return (p * gap**2).sum()


def nudged(predict, energy: SoftValence, step: float, from_t: float, iters: int):
    """The predictor with its clean prediction moved `iters` gradient steps down `energy` for t >= from_t."""
    def call(x, t, cond, drop, mask, *rest):
        x_hat = predict(x, t, cond, drop, mask, *rest)  # (B, L, C)
        if float(t[0]) < from_t:
            return x_hat
        for _ in range(iters):
            y = x_hat.detach().requires_grad_(True)
            with torch.enable_grad():
                grad, = torch.autograd.grad(energy(y, mask), y)
            x_hat = y.detach() - step * grad  # (B, L, C)
        return x_hat
    return call


@contextmanager
def predicting_with(gen: MolGenerator, wrap: Callable):
    """Inside, the model's sampler (`UNITE.generate`, which calls `self.predict`) predicts with `wrap(model.predict)`:
    the product's own sampling path, batching and noise draws, with only the prediction changed."""
    model = gen.model
    model.predict = wrap(model.predict)  # the bound method, wrapped; the instance attribute shadows it until deleted
    try:
        yield
    finally:
        del model.predict


@dataclass
class Moved:
    same_elements: float  # molecules whose elements the nudge left as they were
    median: float  # per-atom displacement over those molecules, Å
    mean: float
    q90: float


def moved(plain: list[Structure], pushed: list[Structure]) -> Moved:
    same = [(a, b) for a, b in zip(plain, pushed) if np.array_equal(a.numbers, b.numbers)]
    if not same:
        return Moved(0.0, float("nan"), float("nan"), float("nan"))
    d = np.concatenate([np.linalg.norm(a.positions - b.positions, axis=1) for a, b in same])
    return Moved(len(same) / len(plain), float(np.median(d)), float(d.mean()), float(np.quantile(d, 0.9)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default="qm9", help="a QM9 model (run, checkpoint, packed file or 'qm9')")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--step", type=float, default=0.05, help="λ, the gradient step on x̂")
    parser.add_argument("--from-t", type=float, default=0.9, help="nudge the predictions for t >= this")
    parser.add_argument("--iters", type=int, default=1, help="gradient steps per evaluation")
    parser.add_argument("--soft", type=float, default=0.03, help="width of the softened table steps, Å")
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--json", type=str)
    args = parser.parse_args()
    gen = load(args.ckpt)
    if gen.part.periodic or not gen.part.hydrogens:
        raise SystemExit(f"{args.ckpt}: the EDM tables need molecules with explicit hydrogens")
    if gen.config.sampler.guide_scale != 1.0:
        raise SystemExit(f"{args.ckpt}: its sampler is autoguided; this script samples with the model alone")
    plain = gen.sample_with(args.n, gen.config.sampler, args.seed)
    energy = SoftValence(gen, args.soft)
    with predicting_with(gen, lambda predict: nudged(predict, energy, args.step, args.from_t, args.iters)):
        pushed = gen.sample_with(args.n, gen.config.sampler, args.seed)
    rows: list[Row] = [score("as sampled", plain), score(f"nudged from t = {args.from_t:g}", pushed)]
    shift = moved(plain, pushed)
    print(f"same elements {shift.same_elements:.3f}; each atom moved: median {shift.median:.3f} Å, mean {shift.mean:.3f}, "
          f"90 % {shift.q90:.3f}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_structures(args.out_dir / "plain.xyz", plain)
    write_structures(args.out_dir / "nudged.xyz", pushed)
    if args.json:
        write_json(args.json, {"checkpoint": args.ckpt, "n": args.n, "seed": args.seed, "step": args.step, "from_t": args.from_t,
                               "iters": args.iters, "soft": args.soft, "rows": [asdict(r) for r in rows], "moved": asdict(shift)})


if __name__ == "__main__":
    main()
