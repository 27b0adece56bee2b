"""TrainState: everything a run needs to continue exactly, written atomically, loaded weights-only."""
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from unite_core.io import atomic_path

_NAME = re.compile(r"^step-(\d{8})\.pt$")


@dataclass
class TrainState:
    step: int
    model: dict
    ema: dict
    optimizers: list[dict]
    schedulers: list[dict]
    rng_cpu: torch.Tensor
    rng_cuda: list[torch.Tensor]
    config_yaml: str  # the resolved run configuration, for reproducing and for loading the model


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = checkpoint_dir(run_dir)
    found = [p for p in folder.iterdir() if _NAME.match(p.name)] if folder.is_dir() else []
    return sorted(found)


def save_checkpoint(run_dir: str | Path, state: TrainState, keep: int) -> Path:
    """Write step-XXXXXXXX.pt atomically, then drop all but the newest `keep`."""
    path = checkpoint_dir(run_dir) / f"step-{state.step:08d}.pt"
    with atomic_path(path) as tmp:
        torch.save(asdict(state), tmp)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink()
    return path


def run_dir_of(path: str | Path) -> Path:
    """The run folder of a run folder or of one of its checkpoint files (`<run>/checkpoints/step-*.pt`)."""
    path = Path(path)
    return path if path.is_dir() else path.parents[1]


def load_checkpoint(path: str | Path) -> TrainState:
    """Load a checkpoint file, or the newest checkpoint of a run folder."""
    path = Path(path)
    if path.is_dir():
        found = list_checkpoints(path)
        if not found:
            raise FileNotFoundError(f"{path}: no checkpoints (looked in {checkpoint_dir(path)})")
        path = found[-1]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
        return TrainState(**raw)
    except Exception as err:
        raise ValueError(f"{path}: not a readable unite checkpoint ({type(err).__name__}: {str(err).splitlines()[0]})") from None
