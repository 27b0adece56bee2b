"""Metrics to a CSV (always), to wandb (when asked) and to a loss-curve PNG."""
import csv
from pathlib import Path

from unite_core.io import atomic_path, write_text_atomic
from unite_core.train.config import WandbMode


class CsvLog:
    """Rows of (step, metrics...), appended line by line. On resume, rows after the resumed step are
    dropped (and a torn last line from a crash is ignored), so the file continues as an uninterrupted
    run's would. The file is rewritten, atomically, only then and when a new column appears."""

    def __init__(self, path: Path, resume_step: int):
        self.path = path
        self.rows: list[dict[str, float]] = []
        self.keys: list[str] = []
        if path.exists():
            with path.open() as f:
                self.rows = [parsed for row in csv.DictReader(f) if (parsed := _parse(row)) is not None]
            self.rows = [r for r in self.rows if r["step"] <= resume_step]
            self._rewrite()

    def append(self, step: int, values: dict[str, float]) -> None:
        row = {"step": float(step), **values}
        self.rows.append(row)
        if not set(row) <= set(self.keys):
            self._rewrite()
            return
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.keys).writerow(row)

    def _rewrite(self) -> None:
        self.keys = list(dict.fromkeys(k for row in self.rows for k in row))
        with atomic_path(self.path) as tmp, tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.keys)
            writer.writeheader()
            writer.writerows(self.rows)


def _parse(row: dict[str, str | None]) -> dict[str, float] | None:
    try:
        return {k: float(v) for k, v in row.items() if k is not None and v not in ("", None)}
    except ValueError:
        return None


def plot_curves(rows: list[dict[str, float]], keys: list[str], path: Path, title: str) -> None:
    """Loss curves on a log scale (the flow term may rise while samples improve: plot, don't early-stop)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for key in keys:
        pts = [(r["step"], r[key]) for r in rows if key in r and r[key] > 0]
        if pts:
            ax.plot(*zip(*pts), label=key)
    ax.set(xlabel="step", yscale="log", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


class RunLogger:
    """Rank-0 logging of one run: train.csv, eval.csv, loss.png and optionally wandb."""

    def __init__(self, run_dir: Path, resume_step: int, wandb_mode: WandbMode, project: str, config_yaml: str):
        self.run_dir = run_dir
        self.train = CsvLog(run_dir / "train.csv", resume_step)
        self.eval = CsvLog(run_dir / "eval.csv", resume_step)
        write_text_atomic(run_dir / "config.yaml", config_yaml)
        self.wandb = None
        if wandb_mode is not WandbMode.disabled:
            import wandb
            import yaml

            self.wandb = wandb.init(project=project, dir=str(run_dir), mode=wandb_mode.value, config=yaml.safe_load(config_yaml), resume="allow")

    def log_train(self, step: int, values: dict[str, float]) -> None:
        self.train.append(step, values)
        if self.wandb:
            self.wandb.log({f"train/{k}": v for k, v in values.items()}, step=step)

    def log_eval(self, step: int, values: dict[str, float]) -> None:
        self.eval.append(step, values)
        if self.wandb:
            self.wandb.log({f"eval/{k}": v for k, v in values.items()}, step=step)

    def plot(self) -> None:
        keys = [k for k in ("loss", "recon", "flow") if any(k in r for r in self.train.rows)]
        plot_curves(self.train.rows, keys, self.run_dir / "loss.png", self.run_dir.name)

    def close(self) -> None:
        if self.wandb:
            self.wandb.finish()
