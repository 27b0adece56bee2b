"""Does a generated cloud look like its class? A rotation- and scale-invariant shape signature (sorted
radii over their mean, and the largest turning angles of the outline walked in order, which count the
corners) and a k-nearest-neighbour judge fitted on real clouds."""
from dataclasses import dataclass

import numpy as np

QUANTILES = np.linspace(0.0, 1.0, 9)


CORNERS = 4


def signature(points: np.ndarray) -> np.ndarray:
    """(n, 2) in outline order -> (13,): radius quantiles over the mean radius, then the 4 largest
    turning angles over 2π (a triangle's three ≈ 1/3 each, a square's four ≈ 1/4, a circle's all small)."""
    r = np.linalg.norm(points - points.mean(0), axis=1)
    edges = np.roll(points, -1, axis=0) - points  # (n, 2)
    heading = np.arctan2(edges[:, 1], edges[:, 0])
    turns = np.abs((np.diff(np.append(heading, heading[0])) + np.pi) % (2 * np.pi) - np.pi)
    corners = np.sort(turns)[::-1][:CORNERS] / (2 * np.pi)
    return np.concatenate([np.quantile(r / max(r.mean(), 1e-8), QUANTILES), corners])


@dataclass
class ShapeScore:
    class_match: float  # fraction the judge assigns to the class they were generated for
    own_class_distance: float  # mean distance to the nearest real cloud of that class (standardised signature)


class ShapeJudge:
    """k-nearest-neighbour vote on standardised signatures of real clouds. Few points make some real
    clouds ambiguous: score real held-out clouds too, for the ceiling (0.83 for 600 default-data clouds)."""

    def __init__(self, clouds: list[np.ndarray], labels: np.ndarray, k: int = 15, max_reference: int = 5000):
        feats = np.stack([signature(c) for c in clouds[:max_reference]])
        self.mean, self.std = feats.mean(0), feats.std(0) + 1e-8
        self.feats = (feats - self.mean) / self.std  # (R, F)
        self.labels = np.asarray(labels[:max_reference])
        self.k = k

    def score(self, clouds: list[np.ndarray], labels: np.ndarray) -> ShapeScore:
        x = (np.stack([signature(c) for c in clouds]) - self.mean) / self.std  # (n, F)
        d2 = (x**2).sum(1)[:, None] + (self.feats**2).sum(1)[None] - 2 * x @ self.feats.T  # (n, R)
        nearest = np.argpartition(d2, self.k, axis=1)[:, : self.k]
        votes = np.stack([(self.labels[nearest] == c).sum(1) for c in range(self.labels.max() + 1)], axis=1)
        own = np.where(self.labels[None] == np.asarray(labels)[:, None], d2, np.inf).min(1)
        return ShapeScore(class_match=float((votes.argmax(1) == labels).mean()), own_class_distance=float(np.sqrt(np.maximum(own, 0)).mean()))
