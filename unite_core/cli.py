"""Shared command-line plumbing: user errors become one line on stderr, never a deep traceback."""
import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from unite_core.config import ConfigError, compose, to_yaml, validate
from unite_core.errors import NonFiniteLoss, RunLocked

if TYPE_CHECKING:
    from unite_core.flow import SamplerConfig
    from unite_core.train import FitResult

USER_ERRORS = (ConfigError, NonFiniteLoss, OSError, ValueError, RunLocked)


def run_cli(prog: str, main: Callable[[list[str]], int], argv: list[str] | None = None) -> int:
    """Call main(argv); a user error prints `prog: error: ...` and exits 2 (UNITE_DEBUG=1 shows the traceback);
    warnings print as one line, `prog: warning: ...`."""
    shown, warnings.showwarning = warnings.showwarning, lambda message, *_, **__: print(f"{prog}: warning: {message}", file=sys.stderr)
    try:
        return main(sys.argv[1:] if argv is None else argv)
    except USER_ERRORS as err:
        if os.environ.get("UNITE_DEBUG"):
            raise
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: aborted; the newest checkpoint is kept and the same command continues from it", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = shown


def train_command(config_name: str, schema: type, train: Callable[[Any], "FitResult"], overrides: list[str], print_config: bool, outputs: str) -> int:
    """`<prog> train [overrides] [--print-config]`: compose + validate configs/<config_name>.yaml, then train."""
    cfg = validate(compose(config_name, overrides, schema), schema)
    if print_config:
        print(to_yaml(cfg), end="")
        return 0
    from unite_core.train import STOPPED_EXIT

    result = train(cfg)
    if result.stopped:
        print(f"stopped by {result.stopped} at step {result.step}; checkpoint {result.checkpoint}; run the same command to continue",
              file=sys.stderr)
        return STOPPED_EXIT
    print(f"trained to step {result.step}{' (time budget spent)' if result.out_of_time else ''}; checkpoint {result.checkpoint}")
    written = [name for name in outputs.split(", ") if (Path(cfg.run.dir) / name).exists()]
    print(f"run folder {cfg.run.dir}: {', '.join(written)}")
    return 0


def add_solver_options(p: argparse.ArgumentParser) -> None:
    """--steps, --solver, --grid-shift, --sde-noise, --temperature: how to integrate, each defaulting to the run's sampler
    settings."""
    from unite_core.flow import Solver

    p.add_argument("--steps", type=int, help="ODE steps (default: the run's sampler.steps)")
    p.add_argument("--solver", choices=[s.name for s in Solver], help="default: the run's sampler.solver")
    p.add_argument("--grid-shift", type=float, help="> 1 puts the steps closer to the data end (default: the run's sampler.grid_shift)")
    p.add_argument("--sde-noise", type=float, help="--solver sde: diffusion w(t) = C (1 - t) (default: the run's sampler.sde_noise)")
    p.add_argument("--temperature", type=float, help="scale of the noise the sampler draws (start, SDE injections); < 1 samples "
                   "nearer the modes (default: the run's sampler.temperature)")


def add_sampler_options(p: argparse.ArgumentParser, batch_size: int | None = 500, batch_help: str | None = None) -> None:
    """The solver options, --cfg, --cfg-interval, --seed, --batch-size: what every generating command takes
    (`batch_size` None leaves the choice to the adapter)."""
    add_solver_options(p)
    p.add_argument("--cfg", type=float, default=1.0, help="classifier-free guidance scale (1 = off)")
    p.add_argument("--cfg-interval", default="0.1,1.0", help="guidance applies for t in [LO, HI]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=batch_size, help=batch_help)


def t_interval(text: str, flag: str) -> tuple[float, float]:
    """`FLAG LO,HI` (--cfg-interval, --guide-interval) with 0 <= LO < HI <= 1."""
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"{flag} {text!r}: want two numbers LO,HI") from None
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"{flag} {text!r}: want LO,HI with 0 <= LO < HI <= 1")
    return lo, hi


def sampler_from_args(
    base: "SamplerConfig", args: argparse.Namespace, guide_scale: float | None = None, guide_interval: str | None = None,
    guide_every: int | None = None, constraint_scale: float | None = None, constraint_interval: str | None = None,
) -> "SamplerConfig":
    """A run's sampler settings with the command line's --steps, --solver, --grid-shift, --sde-noise and --temperature (and an
    adapter's autoguidance scale, --guide-interval and --guide-every, and its constraint's --constraint-scale and
    --constraint-interval) where given, and its --cfg and --cfg-interval."""
    from unite_core.flow import Solver, with_overrides

    solver = args.solver and Solver[args.solver]
    interval = t_interval(args.cfg_interval, "--cfg-interval")
    guided = None if guide_interval is None else t_interval(guide_interval, "--guide-interval")
    constrained = None if constraint_interval is None else t_interval(constraint_interval, "--constraint-interval")
    return with_overrides(base, args.steps, solver, args.grid_shift, args.cfg, interval, guide_scale, args.sde_noise, guided, guide_every,
                         args.temperature, constraint_scale, constrained)


def add_commands(
    parser: argparse.ArgumentParser, train_help: str, sample_help: str, batch_size: int | None = 500, batch_help: str | None = None,
) -> tuple[Any, argparse.ArgumentParser]:
    """The `train [overrides] [--print-config]` subcommand and `sample` with the sampler options (`batch_size`: the
    default of `--batch-size`); returns the subparsers (for more commands) and `sample`."""
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help=train_help)
    p_train.add_argument("overrides", nargs="*")
    p_train.add_argument("--print-config", action="store_true", help="print the composed, validated config and exit")
    p_sample = sub.add_parser("sample", help=sample_help)
    add_sampler_options(p_sample, batch_size, batch_help)
    return sub, p_sample
