"""Models that ship with the package: a run's EMA weights in bf16, with its config and training atom counts,
so sampling needs neither the run folder nor the dataset.

    unite-mol pack --ckpt runs/qm9 --out unite_mol/pretrained/qm9.pt   # replace the shipped model
    unite_mol.load("qm9").sample(100)                                    # use it
"""
import pickle
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from unite_core.train.checkpoint import UnreadableCheckpoint
from unite_core.io import atomic_path

SHIPPED = {"qm9": Path(__file__).parent / "qm9.pt"}
FORMAT = "unite-mol packed model 1"


@dataclass
class PackedModel:
    format: str
    config_yaml: str
    ema: dict[str, torch.Tensor]  # bf16 floating tensors
    atom_counts: torch.Tensor  # (datasets, max_atoms + 1) training histograms the atom counts are drawn from
    step: int
    source: str  # the run it was packed from


def pack(ckpt: str | Path, out: str | Path) -> PackedModel:
    """A run's (or checkpoint's) EMA weights, bf16, with its config and atom-count histograms (one per dataset) -> `out`."""
    from unite_core.train import load_run, run_dir_of
    from unite_mol.data import run_atom_counts
    from unite_mol.run import MolConfig

    state, cfg = load_run(ckpt, MolConfig, "a molecule")
    counts = torch.zeros(len(cfg.parts), cfg.max_atoms + 1, dtype=torch.float64)
    for row, part in zip(counts, cfg.parts):
        histogram = torch.as_tensor(np.asarray(run_atom_counts(run_dir_of(ckpt), part)), dtype=torch.float64)
        row[: len(histogram)] = histogram
    ema = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.ema.items()}
    packed = PackedModel(FORMAT, state.config_yaml, ema, counts, state.step, str(ckpt))
    with atomic_path(out) as tmp:
        torch.save(asdict(packed), tmp)
    return packed


def resolve(name_or_path: str | Path) -> Path | None:
    """The packed file `name_or_path` names (a shipped name such as "qm9", or a packed file), else None."""
    if str(name_or_path) in SHIPPED:
        path = SHIPPED[str(name_or_path)]
        if not path.is_file():
            raise FileNotFoundError(f"the shipped model {name_or_path!r} is missing from this install ({path})")
        return path
    path = Path(name_or_path)
    return path if path.is_file() and _is_packed(path) else None


def read_packed(path: Path) -> PackedModel:
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise UnreadableCheckpoint(f"{path}: not a readable packed model ({type(err).__name__})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.keys() != set(PackedModel.__dataclass_fields__):
        raise UnreadableCheckpoint(f"{path}: not a packed model of this version ({FORMAT!r})")
    raw["ema"] = {k: v.float() if v.is_floating_point() else v for k, v in raw["ema"].items()}
    raw["atom_counts"] = raw["atom_counts"].reshape(-1, raw["atom_counts"].shape[-1])  # files packed before joint runs: one row
    return PackedModel(**raw)


def _is_packed(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:  # torch.save's pickle names its keys in plain text: no unpickling needed to tell
        data = next((n for n in z.namelist() if n.endswith("/data.pkl")), None)
        return data is not None and FORMAT.encode() in z.read(data)
