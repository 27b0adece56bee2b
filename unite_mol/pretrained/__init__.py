"""Models that ship with the package: a run's EMA weights in bf16, with its config and training atom counts,
so sampling needs neither the run folder nor the dataset. "qm9" (molecules, the default of `unite-mol sample`) and
"perov5" (Perov-5 crystals); their model cards are in the README.

    unite-mol pack --ckpt runs/qm9 --out unite_mol/pretrained/qm9.pt   # replace the shipped model
    unite-mol pack --ckpt runs/qm9 --guide runs/qm9/checkpoints/step-00002000.pt --guide-scale 2 --out FILE  # autoguided
    unite-mol pack --ckpt runs/qm9 --solver sde --steps 40 --out FILE     # samples with these settings by default
    unite-mol pack --ckpt qm9 --constraint-scale 0 --out FILE            # a packed model again, with other sampler settings
    unite_mol.load("qm9").sample(100)                                    # use it
    unite-mol sample --ckpt perov5 --n 1000 --out crystals.cif           # the shipped crystal model
"""
import pickle
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from unite_core.flow import Solver, with_overrides
from unite_core.train.checkpoint import UnreadableCheckpoint
from unite_core.io import atomic_path

SHIPPED = {name: Path(__file__).parent / f"{name}.pt" for name in ("qm9", "perov5")}
FORMAT = "unite-mol packed model 1"


@dataclass
class PackedGuide:
    """The weaker model that autoguides a packed one (its scale is in the packed config's sampler.guide_scale)."""

    config_yaml: str
    ema: dict[str, torch.Tensor]  # bf16 floating tensors
    step: int
    source: str


@dataclass
class PackedModel:
    format: str
    config_yaml: str
    ema: dict[str, torch.Tensor]  # bf16 floating tensors
    atom_counts: torch.Tensor  # (datasets, max_atoms + 1) training histograms the atom counts are drawn from
    step: int
    source: str  # the run it was packed from
    guide: PackedGuide | None = None  # files packed before autoguidance have none
    formulas: dict[str, list] | None = None  # condition=formula: the training formulas (Formulas.to_dict)


def pack(
    ckpt: str | Path, out: str | Path, guide: str | Path | None = None, guide_scale: float = 2.0,
    solver: Solver | None = None, steps: int | None = None, grid_shift: float | None = None, sde_noise: float | None = None,
    guide_interval: tuple[float, float] = (0.0, 1.0), guide_every: int = 1, temperature: float | None = None,
    constraint_scale: float | None = None, constraint_interval: tuple[float, float] | None = None,
) -> PackedModel:
    """A run's (or checkpoint's) EMA weights, bf16, with its config and atom-count histograms (one per dataset; and a
    formula-conditioned run's training formulas) -> `out`; `ckpt` may also be a packed model (a shipped name or a file),
    whose weights, guide and settings are kept but for the sampler settings given here;
    with `guide` (a run, checkpoint or packed model of the same latent space) also its weights, and the packed model
    samples autoguided at `guide_scale` (1: packed but off) for t in `guide_interval`, the guide run at one evaluation in
    `guide_every`.
    `solver`, `steps`, `grid_shift`, `sde_noise`, `temperature`, `constraint_scale`, `constraint_interval`: the sampler
    settings the packed model uses by default, where given (else the run's)."""
    from unite_core.config import from_yaml, to_yaml
    from unite_mol.formula import Formulas
    from unite_mol.generator import load_guide
    from unite_mol.run import MolConfig

    packed = _packed_source(ckpt)
    cfg = from_yaml(packed.config_yaml, MolConfig)
    if guide is not None:
        weak = load_guide(cfg, None if packed.formulas is None else Formulas(**packed.formulas), guide)
        packed.guide = PackedGuide(to_yaml(weak.config), _bf16(weak.model.state_dict()), weak.step, str(guide))
    guided = guide is not None  # the autoguidance settings count only with a (new) guide
    sampler = with_overrides(cfg.sampler, steps, solver, grid_shift, cfg.sampler.cfg_scale, cfg.sampler.cfg_interval,
                             guide_scale=guide_scale if guided else None, sde_noise=sde_noise,
                             guide_interval=guide_interval if guided else None, guide_every=guide_every if guided else None,
                             temperature=temperature, constraint_scale=constraint_scale, constraint_interval=constraint_interval)
    if sampler != cfg.sampler:
        packed.config_yaml = to_yaml(replace(cfg, sampler=sampler))
    with atomic_path(out) as tmp:
        torch.save(asdict(packed), tmp)
    return packed


def _packed_source(ckpt: str | Path) -> PackedModel:
    """What `pack` starts from: a packed model as it is (bf16 again), or a run's (or checkpoint's) EMA weights in bf16
    with its config, atom-count histograms and, formula-conditioned, its training formulas."""
    from unite_core.train import load_run, run_dir_of
    from unite_mol.data import run_atom_counts
    from unite_mol.formula import Condition, Formulas
    from unite_mol.run import MolConfig

    path = resolve(ckpt)
    if path is not None:
        p = read_packed(path)
        guide = None if p.guide is None else replace(p.guide, ema=_bf16(p.guide.ema))
        return replace(p, ema=_bf16(p.ema), guide=guide)
    state, cfg = load_run(ckpt, MolConfig, "a molecule")
    counts = torch.zeros(len(cfg.parts), cfg.max_atoms + 1, dtype=torch.float64)
    for row, part in zip(counts, cfg.parts):
        histogram = torch.as_tensor(np.asarray(run_atom_counts(run_dir_of(ckpt), part)), dtype=torch.float64)
        row[: len(histogram)] = histogram
    formulas = Formulas.load(run_dir_of(ckpt)).to_dict() if cfg.condition is Condition.formula else None
    return PackedModel(FORMAT, state.config_yaml, _bf16(state.ema), counts, state.step, str(ckpt), None, formulas)


def _bf16(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in weights.items()}


def _float(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}


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
    if isinstance(raw, dict):
        raw.setdefault("guide", None)  # packed before autoguidance
        raw.setdefault("formulas", None)  # packed before condition=formula
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.keys() != set(PackedModel.__dataclass_fields__):
        raise UnreadableCheckpoint(f"{path}: not a packed model of this version ({FORMAT!r})")
    raw["ema"] = _float(raw["ema"])
    raw["atom_counts"] = raw["atom_counts"].reshape(-1, raw["atom_counts"].shape[-1])  # files packed before joint runs: one row
    if raw["guide"] is not None:
        raw["guide"] = PackedGuide(**{**raw["guide"], "ema": _float(raw["guide"]["ema"])})
    return PackedModel(**raw)


def _is_packed(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:  # torch.save's pickle names its keys in plain text: no unpickling needed to tell
        data = next((n for n in z.namelist() if n.endswith("/data.pkl")), None)
        return data is not None and FORMAT.encode() in z.read(data)
