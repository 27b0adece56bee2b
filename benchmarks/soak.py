"""Kill / resume soak: a tiny toy run is stopped again and again (SIGKILL or SIGTERM at random steps, seeded)
and re-run until it completes; then its final state is compared with an uninterrupted run's.

    python benchmarks/soak.py --minutes 5 --steps 2000 --json benchmarks/results/soak.json

Steps lost per stop = the last step the run logged minus the step it resumed at: 0 is required after SIGTERM
(the graceful stop checkpoints the step it finished); after SIGKILL it is at most the steps since the last
checkpoint (`--ckpt-every`), by nature.
"""
import argparse
import json
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from unite_core.train import load_checkpoint

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
from fault_child import logged_step, same_state  # noqa: E402  (the child process the fault tests run, and its readers)

CHILD = [sys.executable, str(TESTS / "fault_child.py")]


def launch(run_dir: Path, steps: int, ckpt_every: int) -> subprocess.Popen:
    args = [*CHILD, f"run.dir={run_dir}", f"trainer.max_steps={steps}", f"trainer.ckpt_every={ckpt_every}"]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="stop interrupting after this long; the run then completes")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--ckpt-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="unite-soak-"))
    straight = launch(work / "straight", args.steps, args.ckpt_every)
    if straight.wait() != 0:
        raise SystemExit(f"uninterrupted run failed: {straight.stderr.read()}")

    run_dir, began = work / "soak", time.monotonic()
    stops = {"SIGKILL": [], "SIGTERM": []}
    last_stop: tuple[str, int] | None = None
    while True:
        proc = launch(run_dir, args.steps, args.ckpt_every)
        interrupt = time.monotonic() - began < 60 * args.minutes
        if interrupt:
            target = logged_step(run_dir) + rng.randint(1, 3 * args.ckpt_every)
            while logged_step(run_dir) < target and proc.poll() is None:
                time.sleep(0.01)
            sig = rng.choice([signal.SIGKILL, signal.SIGTERM])
            proc.send_signal(sig)
        _, err = proc.communicate()
        resumed = re.search(r"at step (\d+) from", err)
        if last_stop is not None:
            name, last = last_stop
            stops[name].append(last - (int(resumed.group(1)) if resumed else 0))
        if proc.returncode == 0:
            break
        expected = {signal.SIGKILL: -signal.SIGKILL, signal.SIGTERM: 75}[sig]
        if proc.returncode != expected:
            raise SystemExit(f"{sig.name}: exit {proc.returncode}, expected {expected}: {err.strip()}")
        last_stop = (sig.name, logged_step(run_dir))

    exact = same_state(load_checkpoint(run_dir), load_checkpoint(work / "straight"))
    result = {
        "cycles": sum(len(v) for v in stops.values()), "steps": args.steps, "ckpt_every": args.ckpt_every,
        **{f"{k}_stops": len(v) for k, v in stops.items()},
        **{f"{k}_steps_lost_max": max(v, default=0) for k, v in stops.items()},
        **{f"{k}_steps_lost_total": sum(v) for k, v in stops.items()},
        "final_equals_uninterrupted": exact, "seconds": round(time.monotonic() - began, 1),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if not exact or max(stops["SIGTERM"], default=0) > 0:
        raise SystemExit(f"FAILED: a step was lost after SIGTERM or the final state differs (runs kept in {work})")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
