"""Figures of an evaluation: sample distributions against training, and a grid of sample molecules."""
from pathlib import Path

import numpy as np

from unite_core.io import atomic_path
from unite_mol.evaluate.distribution import DistributionScore, Reference


def plot_distributions(score: DistributionScore, ref: Reference, path: Path) -> None:
    """Atom counts and element fractions (samples vs training), and the per-bond-type length distances."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    size = max(len(score.atom_counts), len(ref.atom_counts))
    for counts, label in ((np.array(score.atom_counts), "samples"), (ref.atom_counts, "training")):
        counts = np.pad(counts, (0, size - len(counts)))
        axes[0].step(np.arange(size), counts / max(counts.sum(), 1), where="mid", label=label)
    axes[0].set(xlabel="atoms per molecule", ylabel="fraction", title=f"atom counts (TV {score.atom_count_tv:.3f})")
    axes[0].legend()
    symbols = sorted(set(score.elements) | set(ref.elements), key=lambda s: -ref.elements.get(s, 0))
    x = np.arange(len(symbols))
    for offset, counts, label in ((-0.2, score.elements, "samples"), (0.2, ref.elements, "training")):
        total = max(sum(counts.values()), 1)
        axes[1].bar(x + offset, [counts.get(s, 0) / total for s in symbols], width=0.4, label=label)
    axes[1].set(xticks=x, xticklabels=symbols, ylabel="fraction of atoms", title=f"elements (TV {score.element_tv:.3f})")
    axes[1].legend()
    types = list(score.bond_length_w1_by_type)
    axes[2].bar(types, [score.bond_length_w1_by_type[t] for t in types])
    axes[2].set(ylabel="Wasserstein-1 (Å)", title=f"bond lengths vs training (mean {score.bond_length_w1:.4f} Å)")
    axes[2].tick_params(axis="x", rotation=45)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
