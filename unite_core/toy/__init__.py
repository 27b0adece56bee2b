"""The reference adapter: UNITE on synthetic 2-D point-cloud shapes (read it before writing your own)."""
from unite_core.toy.adapter import PointDecoder, PointTokenizer
from unite_core.toy.data import CLASSES, PointBatch, ToyDataConfig, ToyShapes, collate
from unite_core.toy.metrics import ShapeJudge, ShapeScore
from unite_core.toy.run import ToyConfig, build_model, load, sample_clouds, train

__all__ = [
    "CLASSES", "PointBatch", "PointDecoder", "PointTokenizer", "ShapeJudge", "ShapeScore", "ToyConfig",
    "ToyDataConfig", "ToyShapes", "build_model", "collate", "load", "sample_clouds", "train",
]
