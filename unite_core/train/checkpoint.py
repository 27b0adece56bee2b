"""TrainState: everything a run needs to continue exactly, written atomically, loaded weights-only and checked;
an unreadable newest checkpoint falls back to the one before it."""
import dataclasses
import os
import pickle
import re
import warnings
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import torch

from unite_core.config import ConfigError, from_yaml
from unite_core.io import atomic_path

C = TypeVar("C")

_NAME = re.compile(r"^step-(\d{8})\.pt$")


class UnreadableCheckpoint(ValueError):
    """A checkpoint file that exists but cannot be used."""


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


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}.pt"


def save_checkpoint(run_dir: str | Path, state: TrainState, keep: int) -> Path:
    """Write step-XXXXXXXX.pt atomically, then drop all but the newest `keep`."""
    path = checkpoint_dir(run_dir) / checkpoint_name(state.step)
    try:
        with atomic_path(path) as tmp:
            torch.save(asdict(state), tmp)
    except OSError as err:
        message = f"{path}: checkpoint not written ({err.strerror or err}); the earlier checkpoints are intact"
        raise (OSError(err.errno, message) if err.errno else OSError(message)) from None
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink()
    return path


def run_dir_of(path: str | Path) -> Path:
    """The run folder of a run folder or of one of its checkpoint files (`<run>/checkpoints/step-*.pt`)."""
    path = Path(path)
    return path if path.is_dir() else path.parents[1]


def read_checkpoint(path: Path) -> TrainState:
    """One checkpoint file, checked; anything else is `UnreadableCheckpoint` with a reason of our own (never
    torch's advice to unpickle arbitrary objects, which a user must not follow for a file they did not write)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    if path.stat().st_size == 0:
        raise UnreadableCheckpoint(f"{path}: not a readable unite checkpoint (empty file)")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; a cut one has lost its directory
        raise UnreadableCheckpoint(f"{path}: not a readable unite checkpoint (truncated, or not a file torch.save wrote)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UnreadableCheckpoint(f"{path}: not a unite checkpoint (it holds Python objects unite never writes; not unpickled, for safety)") from None
    except Exception as err:
        raise UnreadableCheckpoint(f"{path}: not a readable unite checkpoint ({type(err).__name__})") from None
    fields = {f.name for f in dataclasses.fields(TrainState)}
    if not isinstance(raw, dict) or raw.keys() != fields:
        found = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise UnreadableCheckpoint(f"{path}: not a unite checkpoint (holds {found}, not the fields of a TrainState)")
    return TrainState(**raw)


def load_checkpoint(path: str | Path) -> TrainState:
    """Load a checkpoint file, or the newest readable checkpoint of a run folder (saying which it skipped)."""
    path = Path(path)
    if not path.is_dir():
        return read_checkpoint(path)
    found = list_checkpoints(path)
    if not found:
        raise FileNotFoundError(f"{path}: no checkpoints (looked in {checkpoint_dir(path)})")
    errors = []
    for candidate in reversed(found):
        try:
            state = read_checkpoint(candidate)
        except UnreadableCheckpoint as err:
            errors.append(str(err))
            continue
        for skipped in errors:
            warnings.warn(f"{skipped}; using {candidate.name}", stacklevel=2)
        return state
    raise UnreadableCheckpoint(f"{path}: no readable checkpoint; newest: {errors[0]}")


def resume_checkpoint(run_dir: str | Path) -> tuple[TrainState, Path] | None:
    """The newest readable checkpoint of a run to continue from, or None for a new run. An unreadable
    newer one is moved aside to `<name>.corrupt` (never deleted), so that new checkpoints follow the good one;
    temporary files of a write that was killed half-way are removed."""
    for torn in checkpoint_dir(run_dir).glob(".step-*.tmp"):
        torn.unlink()
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return read_checkpoint(path), path
        except UnreadableCheckpoint as err:
            aside = path.with_name(path.name + ".corrupt")
            os.replace(path, aside)
            warnings.warn(f"{err}; moved to {aside.name}, resuming from the checkpoint before it", stacklevel=2)
    return None


def load_run(path: str | Path, schema: type[C], kind: str) -> tuple[TrainState, C]:
    """A checkpoint and its run configuration as `schema`; a checkpoint of another kind of run (`kind`, e.g.
    "a molecule") is one line."""
    state = load_checkpoint(path)
    try:
        return state, from_yaml(state.config_yaml, schema)
    except ConfigError as err:
        raise UnreadableCheckpoint(f"{path}: not {kind} run's checkpoint (its config does not fit: {err})") from None
