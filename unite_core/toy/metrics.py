"""Does a generated cloud look like its class? A rotation- and scale-invariant shape signature
(sorted radii over their mean) and a nearest-centroid classifier fitted on real clouds."""
from dataclasses import dataclass

import numpy as np

QUANTILES = np.linspace(0.0, 1.0, 9)


def signature(points: np.ndarray) -> np.ndarray:
    """(n, 2) -> (9,): quantiles of distance-to-centroid divided by its mean."""
    r = np.linalg.norm(points - points.mean(0), axis=1)
    return np.quantile(r / max(r.mean(), 1e-8), QUANTILES)


@dataclass
class ShapeScore:
    class_match: float  # fraction classified as the class they were generated for
    signature_error: float  # mean distance to own-class centroid, relative to real clouds' (1.0 = as real)


class ShapeJudge:
    def __init__(self, clouds: list[np.ndarray], labels: np.ndarray):
        feats = np.stack([signature(c) for c in clouds])
        self.centroids = np.stack([feats[labels == k].mean(0) for k in range(labels.max() + 1)])
        self.real_error = np.linalg.norm(feats - self.centroids[labels], axis=1).mean()

    def score(self, clouds: list[np.ndarray], labels: np.ndarray) -> ShapeScore:
        feats = np.stack([signature(c) for c in clouds])
        dists = np.linalg.norm(feats[:, None] - self.centroids[None], axis=2)  # (n, classes)
        return ShapeScore(
            class_match=float((dists.argmin(1) == labels).mean()),
            signature_error=float(dists[np.arange(len(labels)), labels].mean() / self.real_error),
        )
