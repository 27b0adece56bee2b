"""`unite-mol train [overrides]`, `sample --n N --out FILE`, `evaluate PATH...`, `export --split test --out FILE`,
`pack --ckpt RUN --out FILE`, `relax FILE --out FILE` and `reconstruct FILE --ckpt RUN --out FILE`."""
import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from unite_core.cli import add_commands, run_cli, sampler_from_args, train_command

if TYPE_CHECKING:
    from unite_core.flow import SamplerConfig


def _sample(args: argparse.Namespace) -> int:
    from unite_mol.data.crystals import CRYSTAL_OUTPUTS
    from unite_mol.formats import STRUCTURE_SUFFIXES, FileFormat
    from unite_mol.generator import load

    out = Path(args.out)
    if out.suffix.lower() not in (*STRUCTURE_SUFFIXES, *CRYSTAL_OUTPUTS):  # fail before loading anything
        FileFormat.of(out)
    ckpt = args.ckpt
    if ckpt is None:
        ckpt = "runs/qm9" if Path("runs/qm9").is_dir() else "qm9"
        print(f"no --ckpt: using {'your run runs/qm9' if ckpt == 'runs/qm9' else 'the shipped QM9 model (unite_mol/pretrained/qm9.pt)'}",
              file=sys.stderr)
    if args.guide is not None and args.guide_scale is None:
        raise ValueError("--guide needs --guide-scale W (the prediction is weak + W·(model − weak); 2 is a good start)")
    generator = load(ckpt, args.device, args.dataset_id, args.raw_weights, args.guide)
    crystals = _check_output(out, generator.part.periodic)
    sampler = sampler_from_args(generator.config.sampler, args, args.guide_scale, args.guide_interval, args.guide_every,
                                args.constraint_scale, args.constraint_interval)  # sample()'s
    if sampler.guide_scale != 1.0 and generator.guide is not None:
        print(f"{_guidance(sampler, args.guide or 'the weaker model packed with it')} (--guide-scale 1: off)", file=sys.stderr)
    start = time.perf_counter()
    structures = generator.sample_with(args.n, sampler, args.seed, args.batch_size, progress=True, formula=args.formula)
    seconds = time.perf_counter() - start
    print(f"{args.n} {'crystals' if crystals else 'molecules'} in {seconds:.1f} s ({args.n / seconds:.1f}/s, {_integration(sampler)}) "
          f"from step {generator.step} -> {out}")
    if crystals:
        _write_crystals(out, structures)
    else:
        _write_molecules(out, structures, implicit_hydrogens=not generator.part.hydrogens)
    return 0


def _integration(sampler: "SamplerConfig") -> str:
    """How the sampler integrates, in one phrase (sample's and pack's messages)."""
    from unite_core.flow import Solver

    sde = f" noise {sampler.sde_noise:g}" if sampler.solver is Solver.sde else ""
    temperature = f", temperature {sampler.temperature:g}" if sampler.temperature != 1.0 else ""
    lo, hi = sampler.constraint_interval
    constraint = (f", guided toward even valence sums at {sampler.constraint_scale:g} for t in [{lo:g}, {hi:g}]"
                  if sampler.constraint_scale else "")
    return f"{sampler.solver.value}{sde}, {sampler.steps} steps, grid shift {sampler.grid_shift:g}{temperature}{constraint}"


def _add_constraint_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--constraint-scale", type=float, help="molecules with explicit hydrogens: guide each prediction toward an even "
                   "valence sum (a closed-shell composition), one gradient step of this size; 0 = off (default: the model's own)")
    p.add_argument("--constraint-interval", help="LO,HI: that guidance for t in [LO, HI] only (default: the model's own)")


def _guidance(sampler: "SamplerConfig", guide: str) -> str:
    """What autoguides the sampler, in one phrase (sample's and pack's messages)."""
    lo, hi = sampler.guide_interval
    every = "" if sampler.guide_every == 1 else f", run at one evaluation in {sampler.guide_every}"
    return f"autoguided at scale {sampler.guide_scale:g} for t in [{lo:g}, {hi:g}] by {guide}{every}"


def _check_output(out: Path, crystals: bool) -> bool:
    """`crystals`, after checking that `out` is a file type for them (or, for molecules, for molecules)."""
    from unite_mol.data.crystals import CRYSTAL_OUTPUTS, require_new_folder
    from unite_mol.formats import FileFormat

    if crystals and out.suffix.lower() not in CRYSTAL_OUTPUTS:
        raise ValueError(f"{out}: crystals are written as .cif, .extxyz, .zip or a folder")
    if crystals and not out.suffix:
        require_new_folder(out)  # before any sampling
    if not crystals:
        FileFormat.of(out)
    return crystals


def _write_molecules(out: Path, structures: list, implicit_hydrogens: bool) -> None:
    from unite_core.jsonio import figure
    from unite_mol.chem import perceive
    from unite_mol.formats import write_structures
    from unite_mol.metrics import score_samples

    perceived = [perceive(s, implicit_hydrogens) for s in structures]
    write_structures(out, structures, perceived)
    score = score_samples(perceived)
    if implicit_hydrogens:
        print("a model without hydrogens: bonds from EDM's length tables, valences filled with implicit hydrogens")
    print(f"RDKit-sanitisable {figure(score.sanitized, '.3f')} (unique {figure(score.unique, '.3f')} of those); sanitisable and one "
          f"fragment {figure(score.connected, '.3f')}; and with no charged or radical atom {figure(score.clean, '.3f')}")
    print("every sample is written; `unite_sanitized` (SDF) / `sanitized=` (xyz) flags the ones RDKit could not sanitise")


def _write_crystals(out: Path, structures: list) -> None:
    from unite_mol.data.crystals import write_crystals
    from unite_mol.evaluate.crystal import check_crystal
    from unite_mol.metrics import score_crystal_samples

    checks = [check_crystal(s) for s in structures]
    write_crystals(out, structures, checks)
    score = score_crystal_samples(checks)
    print(f"CDVAE validity: structural {score.structural:.3f}, compositional {score.compositional:.3f}, both {score.valid:.3f}; "
          f"every sample is written, `_unite_valid_*` (CIF) / `valid_*=` (extxyz) flag the invalid ones "
          f"(`unite-mol evaluate {out}` for the whole protocol)")


def _export(argv: list[str]) -> int:
    from unite_mol.data.qm9 import load_qm9
    from unite_mol.formats import FileFormat, write_structures

    parser = argparse.ArgumentParser(prog="unite-mol export", description="write a split of the fixed QM9 split to a file")
    parser.add_argument("--split", choices=["train", "val", "test"], default="test")
    parser.add_argument("--out", type=Path, required=True, help=".sdf, .xyz or .extxyz")
    parser.add_argument("--first", type=int, help="only the split's first N molecules (e.g. a small set to overfit)")
    parser.add_argument("--no-hydrogens", action="store_true", help="heavy atoms only (what dataset=qm9_heavy trains on)")
    parser.add_argument("--cache", type=Path, default=Path("data/cache"))
    args = parser.parse_args(argv)
    fmt = FileFormat.of(args.out)  # an unknown suffix fails before QM9 is loaded
    if args.first is not None and args.first < 1:
        raise ValueError(f"--first must be at least 1, got {args.first}")  # a slice [:-5] would drop the last five
    qm9 = load_qm9(args.cache)
    structures = [qm9.packed[i] for i in qm9.split[args.split][: args.first]]
    structures = [s.heavy_atoms() for s in structures] if args.no_hydrogens else structures
    if fmt is FileFormat.sdf:
        from unite_mol.chem import perceive

        write_structures(args.out, structures, [perceive(s, args.no_hydrogens) for s in structures])
    else:
        write_structures(args.out, structures)
    print(f"QM9 {args.split}: {len(structures)} molecules -> {args.out}")
    return 0


def _pack(argv: list[str]) -> int:
    from unite_core.cli import add_solver_options, t_interval
    from unite_core.config import from_yaml
    from unite_core.flow import Solver
    from unite_mol.pretrained import pack
    from unite_mol.run import MolConfig

    parser = argparse.ArgumentParser(prog="unite-mol pack", description="a run's EMA weights (bf16) + config + atom counts in one file")
    parser.add_argument("--ckpt", required=True, help="run folder (newest checkpoint) or checkpoint file; or a packed model (a "
                        "file, qm9, perov5): its weights and guide again, with the sampler settings given here")
    parser.add_argument("--out", type=Path, required=True, help="e.g. unite_mol/pretrained/qm9.pt to replace the shipped model")
    parser.add_argument("--guide", help="also pack this weaker model of the same run (run, checkpoint or packed file) to autoguide with")
    parser.add_argument("--guide-scale", type=float, default=2.0, help="the autoguidance scale the packed model samples with")
    parser.add_argument("--guide-interval", default="0,1", help="LO,HI: the packed model is autoguided for t in [LO, HI]")
    parser.add_argument("--guide-every", type=int, default=1, help="K: the packed model runs its guide at every K-th evaluation")
    add_solver_options(parser)  # what the packed model samples with by default
    _add_constraint_options(parser)
    args = parser.parse_args(argv)
    constrained = args.constraint_interval and t_interval(args.constraint_interval, "--constraint-interval")
    packed = pack(args.ckpt, args.out, args.guide, args.guide_scale, args.solver and Solver[args.solver], args.steps, args.grid_shift,
                  args.sde_noise, t_interval(args.guide_interval, "--guide-interval"), args.guide_every, args.temperature,
                  args.constraint_scale, constrained)
    sampler = from_yaml(packed.config_yaml, MolConfig).sampler
    guided = ""
    if packed.guide is not None:
        guide = f"{args.guide or packed.guide.source} (step {packed.guide.step})"
        on = sampler.guide_scale != 1.0
        guided = f", {_guidance(sampler, guide)}" if on else f", with its guide {guide}, off unless sampled with --guide-scale W"
    print(f"{args.ckpt} (step {packed.step}{guided}) -> {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB); samples with "
          f"{_integration(sampler)}")
    return 0


def _relax(argv: list[str]) -> int:
    from unite_mol.formats import is_crystal_input
    from unite_mol.relax import ForceField

    parser = argparse.ArgumentParser(prog="unite-mol relax", description="post-processing, scored as its own row: molecules get a short "
                                     "force-field relaxation (bonds perceived by OpenBabel, kept fixed), crystals a CHGNet one (positions and cell)")
    parser.add_argument("path", type=Path, help="molecules (.sdf / .xyz / .extxyz) or crystals (.cif, extxyz with a Lattice, .zip, POSCAR, a folder)")
    parser.add_argument("--out", type=Path, required=True, help="the same kinds of file as unite-mol sample writes")
    parser.add_argument("--forcefield", choices=[f.value for f in ForceField], help="molecules: uff (default) or mmff94")
    parser.add_argument("--steps", type=int, default=200, help="conjugate-gradient steps (molecules), FIRE steps (crystals)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.workers < 1 or args.steps < 0:
        raise ValueError("--workers must be at least 1 and --steps at least 0")
    if not args.path.exists():
        raise FileNotFoundError(f"{args.path}: no such file or folder")
    if is_crystal_input(args.path):
        if args.forcefield is not None:
            parser.error("crystals are relaxed with CHGNet; --forcefield is for molecules")
        return _relax_crystals(args.path, args.out, args.steps, args.workers)
    return _relax_molecules(args.path, args.out, args.forcefield or ForceField.uff.value, args.steps, args.workers)


def _relax_molecules(path: Path, out: Path, forcefield: str, steps: int, workers: int) -> int:
    import numpy as np

    from unite_mol.chem import perceive
    from unite_mol.formats import FileFormat, read_structures, write_structures
    from unite_mol.relax import ForceField, relax

    fmt = FileFormat.of(out)
    done = relax(read_structures(path).structures, ForceField(forcefield), steps, workers)
    relaxed = [r.structure for r in done]
    write_structures(out, relaxed, [perceive(s) for s in relaxed] if fmt is FileFormat.sdf else None)
    moved = [r.rmsd for r in done if r.relaxed]
    print(f"{len(moved)} of {len(done)} molecules relaxed ({forcefield}, {steps} steps; median {np.median(moved) if moved else 0:.3f} Å "
          f"moved); the rest written unchanged -> {out}")
    return 0


def _relax_crystals(path: Path, out: Path, steps: int, workers: int) -> int:
    import numpy as np

    from unite_mol.data.crystals import read_crystals
    from unite_mol.relax import relax_crystals

    _check_output(out, crystals=True)
    structures = read_crystals(path, check=False).structures
    done = relax_crystals(structures, steps, workers)
    _write_crystals(out, [r.structure if r else s for r, s in zip(done, structures)])
    relaxed = [r for r in done if r]
    matched = [r.rmsd for r in relaxed if r.rmsd is not None]
    drop = [r.energy - r.relaxed_energy for r in relaxed]
    print(f"{len(relaxed)} of {len(done)} crystals relaxed (CHGNet, FIRE, at most {steps} steps; {sum(r.converged for r in relaxed)} "
          f"converged); median energy drop {np.median(drop) if drop else 0:.3f} eV/atom; median RMSD {np.median(matched) if matched else 0:.3f} Å "
          f"over the {len(matched)} StructureMatcher pairs; the rest written unchanged -> {out}")
    return 0


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """--device, --dataset-id, --raw-weights: how `sample` and `reconstruct` load a model (`unite_mol.load`)."""
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset-id", type=int, help="a joint run: which of its datasets (default: its first, data)")
    parser.add_argument("--raw-weights", action="store_true", help="a run's raw weights instead of its EMA (to compare the two)")


def _reconstruct(argv: list[str]) -> int:
    from unite_mol.chem import perceive
    from unite_mol.data.crystals import read_crystals, write_crystals
    from unite_mol.formats import FileFormat, read_structures, write_structures
    from unite_mol.generator import load

    parser = argparse.ArgumentParser(prog="unite-mol reconstruct", description="encode then decode structures with a run's "
                                     "tokenizer (its round trip); score with `unite-mol evaluate OUT --reference PATH`")
    parser.add_argument("path", type=Path, help="molecules (.sdf / .xyz / .extxyz) or crystals (CDVAE .csv, .cif, POSCAR, extxyz "
                        "with a Lattice, or a folder of them), matching the model")
    parser.add_argument("--ckpt", required=True, help="run folder, checkpoint or packed file, or a shipped "
                        "model: 'qm9' (molecules) or 'perov5' (crystals)")
    parser.add_argument("--out", type=Path, required=True, help="same kinds of file as unite-mol sample writes")
    parser.add_argument("--seed", type=int, default=0)
    _add_model_options(parser)
    args = parser.parse_args(argv)
    generator = load(args.ckpt, args.device, args.dataset_id, args.raw_weights)
    crystals = _check_output(args.out, generator.part.periodic)
    read = read_crystals(args.path) if crystals else read_structures(args.path)  # every record: the output pairs with the input
    start = time.perf_counter()
    rebuilt = generator.reconstruct(read.structures, args.seed, progress=True)
    seconds = time.perf_counter() - start
    if crystals:
        from unite_mol.evaluate.crystal import check_crystal

        write_crystals(args.out, rebuilt, [check_crystal(s) for s in rebuilt])
    else:
        implicit = not generator.part.hydrogens
        write_structures(args.out, rebuilt, [perceive(s, implicit) for s in rebuilt] if FileFormat.of(args.out) is FileFormat.sdf else None)
    print(f"{len(rebuilt)} {'crystals' if crystals else 'molecules'} encoded and decoded in {seconds:.1f} s -> {args.out}; "
          f"score with: unite-mol evaluate {args.out} --reference {args.path}")
    return 0


TOOLS = """more commands:
  unite-mol evaluate PATH...   score molecules (EDM, ADiT/OpenBabel, RDKit, PoseBusters) or crystals (CDVAE, coverage, CHGNet)
  unite-mol export --split S --out FILE   write a split of QM9 (e.g. to evaluate the data itself)
  unite-mol pack --ckpt RUN [--guide MODEL] --out FILE   a run's EMA weights as one small file (how the shipped models are made)
  unite-mol relax FILE --out FILE         post-processing: UFF / MMFF94 (molecules) or CHGNet (crystals) relaxation; its own row
  unite-mol reconstruct FILE --ckpt RUN --out FILE   the tokenizer's round trip (then evaluate with --reference FILE)"""


def main(argv: list[str]) -> int:
    if argv[:1] == ["evaluate"]:  # before the parser below, whose sampler options import torch (3 s)
        from unite_mol.evaluate.cli import main as evaluate

        return evaluate(argv[1:])
    if argv[:1] == ["export"]:
        return _export(argv[1:])
    if argv[:1] == ["pack"]:
        return _pack(argv[1:])
    if argv[:1] == ["relax"]:
        return _relax(argv[1:])
    if argv[:1] == ["reconstruct"]:
        return _reconstruct(argv[1:])
    parser = argparse.ArgumentParser(prog="unite-mol", description="UNITE for 3-D molecules and crystals: single-stage tokenizer + latent flow.",
                                     epilog=TOOLS, formatter_class=argparse.RawDescriptionHelpFormatter)
    _, p_sample = add_commands(parser, "train; Hydra overrides such as dataset=qm9 trainer=smoke model=S run.dir=runs/x",
                               "generate molecules (.sdf / .xyz / .extxyz) or crystals (.cif / .extxyz / .zip / a folder of "
                               "CIFs) from a run's EMA weights", batch_size=None,
                               batch_help="structures per batch (default: 100 on a CPU, where small batches stay in cache, 1000 on a GPU)")
    p_sample.add_argument("--n", type=int, default=1000)
    p_sample.add_argument("--out", default="samples.sdf", help="output file; the suffix picks the format")
    p_sample.add_argument("--ckpt", help="run folder (newest checkpoint), checkpoint or packed file, or a shipped model: 'qm9' "
                          "(molecules) or 'perov5' (crystals); default: runs/qm9 if it exists, else the shipped model")
    p_sample.add_argument("--guide", help="autoguidance: a less trained checkpoint (or packed model) of the same run")
    p_sample.add_argument("--guide-scale", type=float, help="autoguidance scale W: weak + W·(model − weak); 1 = off (default: the "
                          "model's own, 1 unless it was packed with a guide)")
    p_sample.add_argument("--guide-interval", help="LO,HI: autoguide only for t in [LO, HI], the model alone elsewhere (default: the "
                          "model's own, 0,1 unless it was packed with another)")
    p_sample.add_argument("--guide-every", type=int, help="K: run the guide at every K-th evaluation only and reuse its correction in "
                          "between (1 + 1/K model calls an evaluation; default: the model's own, 1 unless it was packed with another)")
    p_sample.add_argument("--formula", help="a condition=formula model: every sample of this training formula, e.g. C7H10O2 "
                          "(default: formulas drawn from the training histogram)")
    _add_constraint_options(p_sample)
    _add_model_options(p_sample)
    args = parser.parse_args(argv)
    if args.command == "train":
        from unite_mol.run import MolConfig, train

        return train_command("mol", MolConfig, train, args.overrides, args.print_config, "train.csv, eval.csv, loss.png, atom_counts.json, samples.sdf, samples.png, samples.extxyz")
    if args.n < 1:
        parser.error("--n must be at least 1")
    return _sample(args)


def entry() -> None:
    sys.exit(run_cli("unite-mol", main))
