"""The Python API: `unite_mol.load(run_or_checkpoint).sample(n)` -> structures, mirroring `unite-mol sample`."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from unite_core.config import from_yaml
from unite_core.flow import SamplerConfig, Solver, with_overrides
from unite_core.model import UNITE, Recipe
from unite_core.train import load_run, run_dir_of
from unite_mol.data import MolDataConfig, Packed, place, run_atom_counts
from unite_mol.pretrained import read_packed, resolve
from unite_mol.run import GUIDE_KEYS, MolConfig, build_model, require_same
from unite_mol.formula import Condition, Formulas
from unite_mol.sampling import Kind, draw_starts, generate_structures
from unite_mol.batch import ElementVocab, collate
from unite_mol.structure import Structure

CPU_BATCH, GPU_BATCH = 100, 1000  # 10,000 QM9 samples on 2 CPU cores, whole command: 93-98 s in batches of 100, 130 s of 500


@dataclass
class MolGenerator:
    config: MolConfig
    model: UNITE  # EMA weights, eval mode
    atom_counts: np.ndarray  # training histogram the atom counts are drawn from
    step: int  # training step of the checkpoint
    part: MolDataConfig  # the dataset it samples (a joint run has several; its dataset_id is the condition)
    guide: UNITE | None = None  # autoguidance: a less trained model of the same latent space (EMA weights, eval mode)
    formulas: Formulas | None = None  # condition=formula: the training formulas (condition k is the k-th)

    def sample(
        self, n: int, steps: int | None = None, solver: Solver | None = None, cfg: float = 1.0, seed: int = 0,
        batch_size: int | None = None, progress: bool = False, cfg_interval: tuple[float, float] = (0.1, 1.0), grid_shift: float | None = None,
        guide_scale: float | None = None, sde_noise: float | None = None, guide_interval: tuple[float, float] | None = None,
        guide_every: int | None = None, formula: str | None = None, temperature: float | None = None,
        constraint_scale: float | None = None, constraint_interval: tuple[float, float] | None = None,
    ) -> list[Structure]:
        """n structures: atom counts from the histogram (a formula-conditioned model: training formulas from theirs, or
        all of `formula`), ODE (or SDE) from noise (`steps`, `solver`, `grid_shift`, `guide_scale`, `sde_noise`,
        `guide_interval`, `guide_every`, `temperature`, `constraint_scale` and `constraint_interval` default to the run's
        sampler settings; a guide scale other than 1 needs `guide`; `cfg` > 1 is classifier-free guidance by the
        condition; a constraint scale > 0 guides molecules toward even valence sums), decode."""
        sampler = with_overrides(self.config.sampler, steps, solver, grid_shift, cfg, cfg_interval, guide_scale, sde_noise,
                                 guide_interval, guide_every, temperature, constraint_scale, constraint_interval)
        return self.sample_with(n, sampler, seed, batch_size, progress, formula)

    def sample_with(self, n: int, sampler: SamplerConfig, seed: int = 0, batch_size: int | None = None,
                    progress: bool = False, formula: str | None = None) -> list[Structure]:
        """`sample` with every sampler setting given at once. Batches (`batch_size`, default CPU_BATCH on a CPU, else
        GPU_BATCH) are formed from similar atom counts (less padding); the result keeps the drawn order."""
        counts, conds = draw_starts(n, self.atom_counts, self.formulas, torch.Generator().manual_seed(seed), formula)
        device = next(self.model.parameters()).device
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        batch_size = batch_size or (CPU_BATCH if device.type == "cpu" else GPU_BATCH)
        gen = torch.Generator(device=device).manual_seed(seed)
        vocab = ElementVocab(self.config.elements)
        kind = Kind.of(self.part, vocab)
        order = torch.argsort(counts, stable=True)
        out: list[Structure | None] = [None] * n
        with tqdm(total=n, unit="crystal" if self.part.periodic else "mol", desc="sampling", disable=not progress) as bar:
            for lo in range(0, n, batch_size):
                rows = order[lo : lo + batch_size]
                made = generate_structures(self.model, counts[rows], kind, sampler, vocab, gen, self.guide,
                                           None if conds is None else conds[rows])
                for i, s in zip(rows.tolist(), made):
                    out[i] = s
                bar.update(len(rows))
        return out

    @torch.no_grad()
    def reconstruct(self, structures: list[Structure], seed: int = 0, batch_size: int = 250, progress: bool = False) -> list[Structure]:
        """Encode then decode each structure (the tokenizer's round trip, no decoder noise), in input order; a model
        trained without hydrogens takes (and returns) the heavy atoms only."""
        if self.config.objective.recipe is Recipe.direct:
            raise ValueError("a recipe=direct model has no tokenizer to reconstruct with")
        vocab, cond = ElementVocab(self.config.elements), self.part.dataset_id
        if not self.part.hydrogens:
            structures = [s.heavy_atoms() for s in structures]
        for i, s in enumerate(structures, start=1):
            if len(s.numbers) > self.config.max_atoms or (vocab.encode(s.numbers) < 0).any():
                raise ValueError(f"structure {i}: {len(s.numbers)} atoms of {sorted(set(s.symbols))}; the model holds at most "
                                 f"{self.config.max_atoms} atoms of {self.config.elements}")
            if s.is_crystal != self.part.periodic:
                kinds = ("a crystal", "molecules") if s.is_crystal else ("a molecule", "crystals")
                raise ValueError(f"structure {i} is {kinds[0]} but dataset {cond} of the model holds {kinds[1]}")
        # as the training structures: molecules centred in the model's frame, crystals placed at the model's origin
        packed = Packed.from_structures(structures if self.part.periodic else [s.centred() for s in structures])
        placed = place(packed, self.part)
        structures = [placed[i] for i in range(len(placed))]
        gen = torch.Generator(device=next(self.model.parameters()).device).manual_seed(seed)
        out: list[Structure] = []
        for lo in tqdm(range(0, len(structures), batch_size), unit="batch", desc="reconstructing", disable=not progress):
            batch = collate(structures[lo : lo + batch_size], vocab, cond).to(gen.device)
            out += self.model.reconstruct(batch, gen).structures(batch.mask.sum(1).tolist(), vocab)
        return out


def load(checkpoint: str | Path, device: str = "cpu", dataset_id: int | None = None, raw: bool = False,
         guide: str | Path | None = None, packed_guide: bool = True) -> MolGenerator:
    """The EMA model of a run folder (newest checkpoint), a checkpoint file, a packed model file, or a shipped
    model by name (`"qm9"`, `"perov5"`), with its training atom counts; `dataset_id` picks the dataset of a joint run (default: its
    first, `data`); `raw` takes a checkpoint's raw (non-EMA) weights instead, for comparing the two. `guide` (any of
    the same kinds) is the weaker model for autoguidance; a packed model may carry its own (and its scale), which
    `packed_guide=False` leaves unbuilt."""
    packed = resolve(checkpoint)
    guide_model = None
    if packed is not None:
        if raw:
            raise ValueError(f"{checkpoint}: a packed model holds the EMA weights only; use a run folder or checkpoint for raw weights")
        p = read_packed(packed)
        cfg, weights, step = from_yaml(p.config_yaml, MolConfig), p.ema, p.step
        part = cfg.part(dataset_id)
        counts = np.trim_zeros(p.atom_counts[cfg.parts.index(part)].numpy(), "b")  # rows are padded to one length
        formulas = None if p.formulas is None else Formulas(**p.formulas)
        if p.guide is not None and guide is None and packed_guide:
            guide_model = _eval_model(from_yaml(p.guide.config_yaml, MolConfig), p.guide.ema, device)
    else:
        state, cfg = load_run(checkpoint, MolConfig, "a molecule")
        part = cfg.part(dataset_id)
        weights, counts, step = state.model if raw else state.ema, run_atom_counts(run_dir_of(checkpoint), part), state.step
        formulas = Formulas.load(run_dir_of(checkpoint)) if cfg.condition is Condition.formula else None
    if guide is not None:
        guide_model = load_guide(cfg, formulas, guide, device, dataset_id).model
    return MolGenerator(cfg, _eval_model(cfg, weights, device), counts, step, part, guide_model, formulas)


def load_guide(cfg: MolConfig, formulas: Formulas | None, guide: str | Path, device: str = "cpu",
               dataset_id: int | None = None) -> MolGenerator:
    """The weaker model (anything `load` takes) that autoguides a model of config `cfg` (and, formula-conditioned, these
    `formulas`): its latent slots and conditions must be cfg's."""
    weak = load(guide, device, dataset_id, packed_guide=False)  # a guide's own guide is never used
    require_same(cfg, weak.config, GUIDE_KEYS, f"guide {guide}")
    if weak.formulas != formulas:
        raise ValueError(f"guide {guide}: its training formulas (its conditions) differ from the model's")
    return weak


def _eval_model(cfg: MolConfig, weights: dict[str, torch.Tensor], device: str) -> UNITE:
    model = build_model(cfg)
    model.load_state_dict(weights)
    return model.to(device).eval().requires_grad_(False)
