"""The training loop: accumulation, clipping, schedule, EMA, bf16, DDP, logging, evaluation, checkpoints."""
import math
import sys
import time
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from unite_core.config import changed_keys
from unite_core.errors import NonFiniteLoss
from unite_core.model import UNITE
from unite_core.nn import compile_blocks
from unite_core.rng import BatchRandom
from unite_core.train.batches import StepBatches
from unite_core.train.checkpoint import TrainState, checkpoint_name, list_checkpoints, resume_checkpoint, save_checkpoint
from unite_core.train.config import NonFinite, OptimConfig, Precision, RunConfig, TrainerConfig
from unite_core.train.dist import DistEnv, any_rank, barrier, distributed, mean_over_ranks
from unite_core.train.lock import RunLock
from unite_core.train.ema import EMA
from unite_core.train.logger import RunLogger
from unite_core.train.optim import build_optimizers, build_schedulers
from unite_core.train.stop import StopRequest, ignore_stop_signals

# Settings a resumed run may change: when to stop, log, evaluate and save, and where to run (not the maths).
RESUMABLE = (
    "trainer.max_steps", "trainer.minutes", "trainer.compile", "trainer.progress", "trainer.log_every", "trainer.eval_every",
    "trainer.eval_at_start", "trainer.ckpt_every", "trainer.keep_ckpts", "trainer.num_workers", "trainer.wandb",
    "trainer.nonfinite", "run.", "sampler.", "eval_",
)

# evaluate(ema_model, step) -> metrics; runs on rank 0 with the EMA weights in eval mode
Evaluator = Callable[[UNITE, int], dict[str, float]]


class Batch(Protocol):
    def to(self, device: torch.device) -> "Batch": ...


@dataclass
class FitResult:
    step: int
    checkpoint: Path | None
    out_of_time: bool
    stopped: str | None = None  # the signal that stopped the run early, or "a signal to another rank" (`step` was checkpointed)


class Trainer:
    """Model, EMA, optimisers and schedules of one rank, and one optimiser step on them."""

    def __init__(self, model: UNITE, cfg: TrainerConfig, optim: OptimConfig, env: DistEnv, device: torch.device,
                 partial: bool = False):
        """`partial`: a step may leave parameters unused (batches of one group, e.g. a molecule batch of a joint model)."""
        self.model = model.to(device)
        self.cfg, self.optim_cfg, self.env, self.device = cfg, optim, env, device
        self.ema = EMA(self.model, cfg.ema_decay, cfg.ema_warmup)
        if cfg.compile:
            compile_blocks(self.model)
        self.optimizers = build_optimizers(self.model, optim)
        self.schedulers = build_schedulers(self.optimizers, optim, cfg.max_steps)
        ddp_devices = [device.index] if device.type == "cuda" else None
        self.net = DistributedDataParallel(self.model, device_ids=ddp_devices, find_unused_parameters=partial) if env.enabled else self.model

    def step(self, step: int, batches: Any, rows: slice, micro_batch: int) -> dict[str, float] | None:
        """Accumulate `accum_steps` micro-batches (gradients synchronised on the last only), clip, update.
        A non-finite loss on any rank raises NonFiniteLoss (`trainer.nonfinite=stop`) or skips the update and
        returns None (`skip`); either way before any optimiser step, so the weights stay as they were."""
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        totals: dict[str, float] = {}
        accum = self.cfg.accum_steps
        for micro in range(accum):
            batch = next(batches).to(self.device)
            rng = BatchRandom.for_step(self.cfg.seed, step, micro, rows, micro_batch, self.device)
            sync = nullcontext() if micro == accum - 1 or not self.env.enabled else self.net.no_sync()
            with sync:
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision is Precision.bf16):
                    losses = self.net(batch, rng)
                (losses.total / accum).backward()  # queued before the host reads any figure: one sync per micro-step
            for k, v in losses.scalars().items():
                totals[k] = totals.get(k, 0.0) + v / accum
        (nonfinite,) = any_rank((not math.isfinite(totals["loss"]),), self.env, self.device)
        if nonfinite:
            if self.cfg.nonfinite is NonFinite.stop:
                raise NonFiniteLoss(f"step {step}: loss is not finite ({totals})")
            return None
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.optim_cfg.grad_clip)
        for opt, sched in zip(self.optimizers, self.schedulers):
            opt.step()
            sched.step()
        self.ema.update(self.model, step + 1)
        return {**totals, "grad_norm": grad_norm.item(), "lr": self.schedulers[-1].get_last_lr()[0]}

    def state(self, step: int, config_yaml: str) -> TrainState:
        cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        return TrainState(
            step=step, model=self.model.state_dict(), ema=self.ema.module.state_dict(),
            optimizers=[o.state_dict() for o in self.optimizers], schedulers=[s.state_dict() for s in self.schedulers],
            rng_cpu=torch.get_rng_state(), rng_cuda=cuda_rng, config_yaml=config_yaml,
        )

    def restore(self, state: TrainState) -> None:
        self.model.load_state_dict(state.model)
        self.ema.module.load_state_dict(state.ema)
        for obj, saved in zip([*self.optimizers, *self.schedulers], [*state.optimizers, *state.schedulers]):
            obj.load_state_dict(saved)
        torch.set_rng_state(state.rng_cpu)
        if state.rng_cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state.rng_cuda)


def _resume(run_dir: Path, resume: bool, env: DistEnv) -> tuple[TrainState, Path] | None:
    """The checkpoint to continue from (rank 0 first: it moves unreadable ones aside), or None."""
    if list_checkpoints(run_dir) and not resume:
        raise FileExistsError(f"{run_dir} already holds checkpoints; set run.resume=true to continue it or choose another run.dir")
    found = resume_checkpoint(run_dir) if env.is_main else None
    barrier(env)
    return found if env.is_main else resume_checkpoint(run_dir)


def _continue(t: Trainer, run_dir: Path, resume: bool, config_yaml: str, schema: type | None) -> tuple[int, Path | None]:
    """Restore `t` from the run's newest readable checkpoint if there is one: (first step, that checkpoint)."""
    resumed = _resume(run_dir, resume, t.env)
    if not resumed:
        return 0, None
    state, ckpt = resumed
    changed = [k for k in changed_keys(state.config_yaml, config_yaml, schema) if not k.startswith(RESUMABLE)]
    if changed:
        raise ValueError(f"{run_dir} holds a run with other settings ({', '.join(changed[:4])}); resume it unchanged or choose another run.dir")
    t.restore(state)
    if t.env.is_main:
        print(f"resuming {run_dir} at step {state.step} from {ckpt}", file=sys.stderr, flush=True)
    return state.step, ckpt


@dataclass
class _Tally:
    """Between two log lines: samples/s, and the steps skipped for a non-finite loss (in all, and in a row)."""

    tick: float
    tick_step: int
    skipped: int = 0
    in_row: int = 0

    def count(self, scalars: dict | None, step: int, limit: int) -> None:
        self.in_row = self.in_row + 1 if scalars is None else 0
        self.skipped += scalars is None
        if self.in_row >= limit:
            raise NonFiniteLoss(f"step {step - 1}: {self.in_row} steps in a row had a non-finite loss (trainer.nonfinite_max)")

    def samples_per_s(self, step: int, batch_size: int) -> float:
        now = time.monotonic()
        rate = (step - self.tick_step) * batch_size / max(now - self.tick, 1e-9)
        self.tick, self.tick_step = now, step
        return rate


def fit(
    model: UNITE, dataset: Dataset, collate: Callable[[list], Batch], trainer: TrainerConfig, optim: OptimConfig,
    run: RunConfig, config_yaml: str, evaluate: Evaluator | None = None, schema: type | None = None,
    sizes: torch.Tensor | None = None, groups: torch.Tensor | None = None,
) -> FitResult:
    """Train `model` on `dataset` into the run folder `run.dir`, resuming from its newest readable checkpoint
    (`schema`, the config dataclass, lets a run written before a config key existed resume at its default;
    `sizes`, each sample's size, lets `trainer.size_window` batch similar sizes together; `groups`, each sample's
    group, keeps a micro-batch within one group, e.g. one dataset of a joint run).
    Rank 0 holds the folder's lock throughout; SIGTERM / SIGINT / SIGUSR1 end the run after the current step
    with a checkpoint (`FitResult.stopped`)."""
    run_dir = Path(run.dir)
    with ExitStack() as stack:
        env = stack.enter_context(distributed(run.device))
        device = env.device(run.device)
        if trainer.batch_size % (trainer.accum_steps * env.world):
            raise ValueError(f"trainer.batch_size={trainer.batch_size} must split into accum_steps={trainer.accum_steps} x {env.world} ranks")
        micro_batch = trainer.batch_size // trainer.accum_steps
        if env.is_main:
            stack.enter_context(RunLock(run_dir))  # before anything in the folder is read for writing or written
        stop = stack.enter_context(StopRequest())
        t = Trainer(model, trainer, optim, env, device, partial=groups is not None)
        start, last_ckpt = _continue(t, run_dir, run.resume, config_yaml, schema)
        sampler = StepBatches(len(dataset), micro_batch, env.rank, env.world, trainer.seed, start * trainer.accum_steps,
                              sizes, trainer.size_window, groups)
        loader = DataLoader(
            dataset, batch_sampler=sampler, collate_fn=collate, num_workers=trainer.num_workers,
            pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(trainer.seed),
            persistent_workers=trainer.num_workers > 0, worker_init_fn=ignore_stop_signals,
        )
        batches = iter(loader)
        log = RunLogger(run_dir, start, trainer.wandb, trainer.wandb_project, config_yaml) if env.is_main else None
        bar = tqdm(initial=start, total=trainer.max_steps, disable=not (env.is_main and trainer.progress), unit="step", dynamic_ncols=True)
        began = time.monotonic()
        tally = _Tally(began, start)
        out_of_time = stopped = False
        step = start
        try:
            if evaluate and log and trainer.eval_at_start and start == 0 and not log.eval.rows:  # not twice if restarted
                log.log_eval(0, evaluate(t.ema.module, 0))
            while step < trainer.max_steps and not (out_of_time or stopped):
                scalars = t.step(step, batches, sampler.rows, micro_batch)
                step += 1
                bar.update(1)
                tally.count(scalars, step, trainer.nonfinite_max)
                if step % trainer.log_every == 0 or step == trainer.max_steps:
                    scalars = mean_over_ranks(scalars or {}, env, device)
                    scalars["samples_per_s"] = tally.samples_per_s(step, trainer.batch_size)
                    if trainer.nonfinite is NonFinite.skip:
                        scalars["nonfinite_skipped"] = float(tally.skipped)
                    bar.set_postfix({k: f"{scalars[k]:.4f}" for k in ("loss", "recon", "flow") if k in scalars})
                    if log:
                        log.log_train(step, scalars)
                over_time = trainer.minutes is not None and time.monotonic() - began > 60 * trainer.minutes
                stopped, out_of_time = any_rank((stop.signal is not None, over_time), env, device)
                if evaluate and log and step % trainer.eval_every == 0 and not stopped:
                    log.log_eval(step, evaluate(t.ema.module, step))
                    log.plot()
                if env.is_main and (step % trainer.ckpt_every == 0 or step == trainer.max_steps or out_of_time or stopped):
                    last_ckpt = save_checkpoint(run_dir, t.state(step, config_yaml), trainer.keep_ckpts)
        except NonFiniteLoss as err:
            if env.is_main and step > 0 and (last_ckpt is None or last_ckpt.name != checkpoint_name(step)):
                last_ckpt = save_checkpoint(run_dir, t.state(step, config_yaml), trainer.keep_ckpts)  # the weights before the bad step
            barrier(env)  # the other ranks wait for that file: torchrun stops every rank as soon as one exits
            raise NonFiniteLoss(f"{err}; the newest checkpoint is {last_ckpt or 'none (nothing saved yet)'}") from None
        finally:
            bar.close()
            if log:
                if log.train.rows:
                    log.plot()
                log.close()
    if not env.is_main:  # rank 0 wrote it, and leaving the process group waited for that
        last_ckpt = next(reversed(list_checkpoints(run_dir)), None)
    return FitResult(step=step, checkpoint=last_ckpt, out_of_time=out_of_time,
                     stopped=(stop.signal or "a signal to another rank") if stopped else None)
