"""Train UNITE on molecules: the run configuration, the model it builds, and what each evaluation logs."""
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import partial
from pathlib import Path

import numpy as np
import torch

from unite_core.config import at_least, to_yaml
from unite_core.flow import SamplerConfig
from unite_core.model import UNITE, FlowConfig, ObjectiveConfig, Recipe
from unite_core.nn import ModelConfig, TrunkConfig
from unite_core.train import FitResult, OptimConfig, RunConfig, TrainerConfig, fit, is_condition_table, list_checkpoints, load_run
from unite_mol.augment import Chain, RandomRotation, ShuffledElements
from unite_mol.chem import perceive
from unite_mol.data import (Frame, JointDataset, MolData, MolDataConfig, SiteOrder, collate_labelled, load_data,
                            save_atom_counts)
from unite_mol.data.crystals import write_crystals
from unite_mol.decoder import AtomDecoder, FractionalHead, LatticeReadout
from unite_mol.direct import DirectAtoms, DirectConfig
from unite_mol.embed import EnvConfig
from unite_mol.evaluate.crystal import check_crystal
from unite_mol.formula import Condition, Formulas
from unite_mol.metrics import as_dict, reconstruct, reconstruct_crystals, score_crystal_samples, score_edm_samples, score_samples
from unite_mol.sampling import Kind, decode_structures, draw_starts, generate_structures, sample_latents
from unite_mol.batch import ElementVocab
from unite_mol.structure import Structure
from unite_mol.tokenizer import AtomTokenizer, Pairing


@dataclass
class ReconWeights:
    types: float = 1.0  # cross-entropy over elements
    positions: float = 1.0  # squared error per atom, Å² (crystals: fractional coordinates, minimum image)
    lattice: float = 1.0  # crystals: squared error of lengths / N^(1/3) and angles (rad)
    bonds: float = 0.0  # squared error of the distances between atoms closer than 2 Å in the true structure, Å²

    def __post_init__(self):
        at_least("recon", self, 0, "types", "positions", "lattice", "bonds")


@dataclass
class MolConfig:
    data: MolDataConfig = field(default_factory=MolDataConfig)
    joint: list[MolDataConfig] = field(default_factory=list)  # more datasets for one model (each its own dataset_id)
    model: ModelConfig = field(default_factory=ModelConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    pairing: Pairing = Pairing.sum
    lattice: LatticeReadout = LatticeReadout.pooled  # crystals: the cell from pooled atom features (ADiT) or a latent token
    fractional: FractionalHead = FractionalHead.linear  # crystals: fractional coordinates as three numbers or on circles
    decoder: TrunkConfig = field(default_factory=lambda: TrunkConfig(depth=4, width=256, heads=4))
    recon: ReconWeights = field(default_factory=ReconWeights)
    objective: ObjectiveConfig = field(default_factory=lambda: ObjectiveConfig(latent_dim=8))
    flow: FlowConfig = field(default_factory=FlowConfig)
    condition: Condition = Condition.dataset  # formula: the GE is told each structure's formula, sampling draws one
    num_conditions: int = 1  # condition vocabulary: dataset ids (condition=formula: set to the training formulas' number)
    tokenizer_run: str | None = None  # objective.recipe=latent_flow: the stage-1 run whose frozen tokenizer it learns on
    init_from: str | None = None  # a new run starts from these EMA weights (a run, checkpoint, packed file or "qm9")
    direct: DirectConfig = field(default_factory=DirectConfig)  # objective.recipe=direct
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    run: RunConfig = field(default_factory=lambda: RunConfig(dir="runs/mol"))
    eval_samples: int = 300  # molecules generated at each evaluation
    eval_molecules: int = 1000  # validation molecules reconstructed at each evaluation

    @property
    def parts(self) -> list[MolDataConfig]:
        """The datasets the model is trained on: `data`, then the `joint` ones."""
        return [self.data, *self.joint]

    @property
    def elements(self) -> list[str]:
        """The model's element vocabulary: every dataset's elements, in first-seen order."""
        return list(dict.fromkeys(e for part in self.parts for e in part.elements))

    @property
    def max_atoms(self) -> int:
        return max(part.max_atoms for part in self.parts)

    def part(self, dataset_id: int | None) -> MolDataConfig:
        """The dataset with this id (None: `data`)."""
        found = [p for p in self.parts if dataset_id in (None, p.dataset_id)]
        if not found:
            raise ValueError(f"dataset id {dataset_id}: this model knows {[p.dataset_id for p in self.parts]}")
        return found[0]


def _check_parts(cfg: MolConfig) -> None:
    if cfg.condition is Condition.formula and cfg.joint:
        raise ValueError("condition=formula conditions one dataset on its formulas; a joint run's condition is the dataset id")
    ids = [part.dataset_id for part in cfg.parts]
    if len(set(ids)) < len(ids) or not all(0 <= i < cfg.num_conditions for i in ids):
        raise ValueError(f"data.dataset_id / joint[*].dataset_id {ids} must differ and lie below num_conditions={cfg.num_conditions}")
    if cfg.sampler.constraint_scale > 0 and any(Kind.of(part, ElementVocab(cfg.elements)).odd is None for part in cfg.parts):
        raise ValueError("sampler.constraint_scale: the even-valence constraint is for molecules with explicit hydrogens, and "
                         "this run's evaluations sample each of its datasets with it")


def build_model(cfg: MolConfig) -> UNITE:
    _check_parts(cfg)
    ge = cfg.model.resolve()
    types = len(cfg.elements)
    periodic = any(part.periodic for part in cfg.parts)
    joint = periodic and not all(part.periodic for part in cfg.parts)  # molecules and crystals
    token = cfg.lattice is LatticeReadout.token
    if token and not periodic:
        raise ValueError("lattice=token is for crystals (a crystal dataset or data.crystal_files=true)")
    if joint and not token:
        raise ValueError("molecules and crystals in one model (joint=...) need lattice=token")
    args = (ge, cfg.objective, cfg.flow, cfg.max_atoms + int(token), cfg.num_conditions)
    frames = {part.frame for part in cfg.parts}
    if len(frames) > 1:
        raise ValueError(f"data.frame / joint[*].frame must agree, got {sorted(f.value for f in frames)}")
    orders = {part.site_order for part in cfg.parts}
    if len(orders) > 1:
        raise ValueError(f"data.site_order / joint[*].site_order must agree, got {sorted(o.value for o in orders)}")
    steps = [RandomRotation()] if Frame.random in frames else []
    order = orders.pop()
    shuffled = order in (SiteOrder.shuffled_elements, SiteOrder.by_count)
    steps += [ShuffledElements(types, by_count=order is SiteOrder.by_count)] if shuffled else []
    augment = Chain(*steps) if steps else None
    if cfg.objective.recipe is Recipe.direct:
        if periodic:
            raise ValueError("objective.recipe=direct is for molecules; crystals need the tokenizer (its lattice head)")
        if cfg.objective.latent_dim != types + 3:
            raise ValueError(f"objective.latent_dim must be {types + 3} ({types} elements + 3 coordinates) with objective.recipe=direct")
        return UNITE(None, DirectAtoms(types, cfg.direct.position_scale), *args, augment=augment)
    tokenizer = AtomTokenizer(types, ge.width, cfg.max_atoms, cfg.env, cfg.pairing, periodic, token, joint)
    decoder = AtomDecoder(cfg.decoder, cfg.objective.latent_dim, cfg.max_atoms, types, cfg.recon.types, cfg.recon.positions,
                          periodic, cfg.recon.lattice, cfg.lattice, joint, cfg.recon.bonds, cfg.fractional)
    return UNITE(tokenizer, decoder, *args, augment=augment)


STAGE_ONE_KEYS = ("data.source", "data.frame", "data.origin", "data.site_order", "elements", "max_atoms", "model", "env",
                  "pairing", "lattice", "fractional", "decoder", "objective.latent_dim")


def load_stage_one(model: UNITE, cfg: MolConfig) -> None:
    """objective.recipe=latent_flow: freeze the tokenizer of `tokenizer_run` (EMA weights) into `model`."""
    if cfg.tokenizer_run is None:
        raise ValueError("objective.recipe=latent_flow needs tokenizer_run=RUN (a run trained with objective.recipe=tokenizer)")
    state, stage_one = load_run(cfg.tokenizer_run, MolConfig, "a molecule")
    if stage_one.objective.recipe is Recipe.direct:
        raise ValueError(f"tokenizer_run={cfg.tokenizer_run}: a recipe=direct run has no tokenizer")
    require_same(cfg, stage_one, STAGE_ONE_KEYS, f"tokenizer_run={cfg.tokenizer_run}")
    model.load_tokenizer(state.ema)


WEIGHT_KEYS = ("elements", "max_atoms", "model", "env", "pairing", "lattice", "fractional", "decoder", "objective.latent_dim",
               "num_conditions")
# what a guide model (autoguidance) must share with the model it guides: the latent slots and what the GE is given
GUIDE_KEYS = ("data.frame", "data.origin", "data.site_order", "elements", "max_atoms", "lattice", "objective.latent_dim",
              "condition", "num_conditions", "flow.self_condition")


def load_init(model: UNITE, cfg: MolConfig) -> int:
    """init_from: copy another model's EMA weights into `model` (same architecture, or one condition where `model` has
    several: each starts as it); its training step is returned. The optimiser, schedule and EMA of the new run start
    afresh (a warm start, not a resume)."""
    from unite_mol.generator import load

    source = load(cfg.init_from)
    weights, widen = source.model.state_dict(), source.config.num_conditions == 1 < cfg.num_conditions
    keys = tuple(k for k in WEIGHT_KEYS if k != "num_conditions") if widen else WEIGHT_KEYS
    require_same(cfg, source.config, keys, f"init_from={cfg.init_from}")
    if widen:  # e.g. an unconditional model -> condition=formula: every condition starts as its one
        for key in [k for k in weights if is_condition_table(k)]:
            one, null = weights[key][:1], weights[key][1:]  # (1, D), (1, D)
            weights[key] = torch.cat([one.expand(cfg.num_conditions, -1), null])  # (num_conditions + 1, D)
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:  # e.g. another objective.recipe: other modules, same settings
        raise ValueError(f"init_from={cfg.init_from}: its weights do not fit this model ({str(err).splitlines()[0]})") from None
    return source.step


def require_same(cfg: MolConfig, other: MolConfig, keys: tuple[str, ...], source: str) -> None:
    """Each of `keys` (dotted) must be equal in `cfg` and `other`, the config of `source`; else one line naming it."""
    for key in keys:
        ours, theirs = _get(cfg, key), _get(other, key)
        if ours != theirs:
            raise ValueError(f"{key}={_shown(ours)} differs from {source}'s {_shown(theirs)}")


def _shown(value):
    """A setting as it is written in a config: an Enum by its value."""
    return value.value if isinstance(value, Enum) else value


def _get(cfg: MolConfig, dotted: str):
    value = cfg
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


HELD_OUT_SEED = 1_000_003  # recipe=decoder's evaluation draw: not a seed the sampling commands default to (0) or sweep (0, 1)


class MolEvaluator:
    """At each evaluation, for each dataset of the run: reconstruct validation structures, generate a few hundred, write
    them and a grid (the first dataset as samples.*; dataset k of a joint run as samples_dk.*, its figures prefixed dk_).
    A formula-conditioned run (`formulas`) samples formulas drawn from their training histogram."""

    def __init__(self, cfg: MolConfig, sets: list[tuple[MolDataConfig, MolData]], run_dir: Path,
                 formulas: Formulas | None = None):
        self.cfg, self.run_dir, self.vocab, self.formulas = cfg, run_dir, ElementVocab(cfg.elements), formulas
        self.sets = [(part, data, self._val(data)) for part, data in sets]
        self.latents: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}  # recipe=decoder: z, mask, counts by dataset

    def _val(self, data: MolData) -> list[Structure]:
        n = min(self.cfg.eval_molecules, len(data.val))
        return [data.val[i] for i in np.linspace(0, len(data.val) - 1, n).astype(int)] if n else []

    def __call__(self, model: UNITE, step: int) -> dict[str, float]:
        metrics = {}
        for k, (part, data, val) in enumerate(self.sets):
            prefix, stem = (f"d{part.dataset_id}_", f"samples_d{part.dataset_id}") if k else ("", "samples")
            scores = self._one(model, step, part, data.atom_counts, val, stem)
            metrics.update({prefix + key: value for key, value in scores.items()})
        return metrics

    def _one(self, model: UNITE, step: int, part: MolDataConfig, atom_counts: np.ndarray, val: list[Structure],
             stem: str) -> dict[str, float]:
        from unite_mol.formats import write_structures
        from unite_mol.plot import draw_crystal_grid, draw_grid

        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(0)
        crystals, args = part.periodic, (model, val, self.vocab, part.dataset_id, gen)
        metrics = {}
        if val:
            metrics = as_dict(reconstruct_crystals(*args) if crystals else reconstruct(*args)[0], "recon_")
        if self.cfg.objective.recipe is Recipe.tokenizer:
            return metrics  # no flow to sample from
        structures = self._samples(model, step, part, atom_counts, gen)
        if crystals:
            checks = [check_crystal(s) for s in structures]
            write_crystals(self.run_dir / f"{stem}.extxyz", structures, checks)
            draw_crystal_grid(structures, self.run_dir / f"{stem}.png")
            return {**metrics, **as_dict(score_crystal_samples(checks), "sample_")}
        perceived = [perceive(s, implicit_hydrogens=not part.hydrogens) for s in structures]
        write_structures(self.run_dir / f"{stem}.sdf", structures, perceived)
        draw_grid(perceived, self.run_dir / f"{stem}.png")
        edm = score_edm_samples(structures, implicit_hydrogens=not part.hydrogens)
        return {**metrics, **as_dict(score_samples(perceived), "sample_"), **as_dict(edm, "sample_edm_")}

    def _samples(self, model: UNITE, step: int, part: MolDataConfig, atom_counts: np.ndarray,
                 gen: torch.Generator) -> list[Structure]:
        """eval_samples structures: fresh atom counts at each step; a decoder adaptation (its GE frozen) decodes the same
        latents at every evaluation, sampled once from a held-out draw, so its figures compare the decoder's checkpoints
        on equal terms (an early-stopping signal that does not peek at the draws the sampling commands use)."""
        kind = Kind.of(part, self.vocab)
        if self.cfg.objective.recipe is not Recipe.decoder:
            counts, conds = draw_starts(self.cfg.eval_samples, atom_counts, self.formulas, torch.Generator().manual_seed(step))
            return generate_structures(model, counts, kind, self.cfg.sampler, self.vocab, gen, conds=conds)
        if part.dataset_id not in self.latents:
            counts, conds = draw_starts(self.cfg.eval_samples, atom_counts, self.formulas, torch.Generator().manual_seed(HELD_OUT_SEED))
            held_out = torch.Generator(device=gen.device).manual_seed(HELD_OUT_SEED)
            self.latents[part.dataset_id] = (*sample_latents(model, counts, kind, self.cfg.sampler, held_out, conds=conds), counts)
        return decode_structures(model, *self.latents[part.dataset_id], kind, self.vocab)


def train(cfg: MolConfig) -> FitResult:
    if cfg.sampler.guide_scale != 1.0:
        raise ValueError("sampler.guide_scale: autoguidance needs a trained guide model, so it is for sampling (unite-mol sample "
                         "--guide MODEL --guide-scale W); a run's own evaluations sample unguided")
    if cfg.objective.recipe is Recipe.decoder and cfg.init_from is None and not list_checkpoints(Path(cfg.run.dir)):
        raise ValueError("objective.recipe=decoder adapts a trained model's decoder to its GE: give init_from=MODEL "
                         "(a run, checkpoint, packed file or qm9)")
    torch.manual_seed(cfg.trainer.seed)
    model = build_model(cfg)  # a bad model setting fails before the data is read
    sets = [(part, load_data(part)) for part in cfg.parts]
    save_atom_counts(Path(cfg.run.dir), cfg.parts, [data for _, data in sets])
    formulas, conds = None, [part.dataset_id for part in cfg.parts]
    if cfg.condition is Condition.formula:
        formulas, labels = Formulas.of(sets[0][1].train)
        formulas.save(Path(cfg.run.dir))
        conds, cfg = [labels], replace(cfg, num_conditions=len(formulas))
        model = build_model(cfg)  # one condition per training formula
    if cfg.objective.recipe is Recipe.latent_flow:
        load_stage_one(model, cfg)
    if cfg.init_from is not None and not list_checkpoints(Path(cfg.run.dir)):
        print(f"init_from={cfg.init_from}: starting from its EMA weights (step {load_init(model, cfg)})")
    evaluator = MolEvaluator(cfg, sets, Path(cfg.run.dir), formulas)
    dataset = JointDataset([data.train for _, data in sets], conds, [part.repeat for part in cfg.parts])
    collate_fn = partial(collate_labelled, vocab=ElementVocab(cfg.elements))
    groups = dataset.groups if cfg.joint else None  # one dataset per batch
    return fit(model, dataset, collate_fn, cfg.trainer, cfg.optim, cfg.run, to_yaml(cfg), evaluator, MolConfig, dataset.sizes, groups)
