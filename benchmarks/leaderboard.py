"""Our evaluated runs beside the published QM9 rows, one table per protocol (never mixing protocols in a column).

    python benchmarks/leaderboard.py \
        "QM9 test split (ours, 12,831)=benchmarks/results/qm9_test_split.json" \
        "unite CPU preset, 1 CPU hour (ours)=benchmarks/results/unite_cpu_1h_10k.json" \
        "unite CPU preset, 1 CPU hour, test reconstructions (ours)=benchmarks/results/unite_cpu_1h_reconstruction.json" \
        "unite QM9 model, 370 CPU-min, Heun 10 shift 3 (ours)=benchmarks/results/continued2_qm9_10k.json" \
        "unite QM9 model, 488 CPU-min, Heun 10 shift 3, unguided (ours)=benchmarks/results/continued3_qm9_10k.json" \
        "unite QM9 model shipped until 2026-12-02, 488 CPU-min, Heun 10 shift 3, autoguided x2 (ours)=benchmarks/results/shipped_guided_qm9_10k.json" \
        "unite QM9 model shipped until 2026-12-02, 488 CPU-min, SDE 40 noise 8 shift 3, autoguided x2 (its packed default; ours)=benchmarks/results/shipped_guided_sde40_qm9_10k.json" \
        "unite QM9 model, principal frame, 488 + 94 CPU-min, Heun 20 shift 3, autoguided x2 (not shipped; ours)=benchmarks/results/principal_warm_guided_heun20_qm9_10k.json" \
        "unite QM9 model shipped on 2026-12-02, principal frame, 488 + 196 CPU-min, SDE 40 noise 3 shift 3, autoguided x2 (its packed default; ours)=benchmarks/results/shipped_principal_guided_sde40_noise3_qm9_10k.json" \
        "unite QM9 model shipped on 2026-12-02, principal frame, 488 + 196 CPU-min, Heun 10 shift 3, unguided (ours)=benchmarks/results/shipped_principal_unguided_heun10_qm9_10k.json" \
        "unite QM9 model shipped on 2026-12-03 (44,988 steps), principal frame, 488 + 296 CPU-min, SDE 40 noise 3 shift 3, autoguided x2 (its packed default; ours)=benchmarks/results/shipped_principal_44988steps_guided_sde40_noise3_qm9_10k.json" \
        "unite QM9 model shipped on 2026-12-03 (44,988 steps), principal frame, 488 + 296 CPU-min, Heun 10 shift 3, unguided (ours)=benchmarks/results/shipped_principal_44988steps_unguided_heun10_qm9_10k.json" \
        "unite QM9 model shipped on 2026-12-03 (44,988 steps), principal frame, 488 + 296 CPU-min, SDE 30 noise 3 shift 3, autoguided x2, guide at one evaluation in 2 (45 calls; ours)=benchmarks/results/shipped_principal_44988steps_guided_sde30_every2_qm9_10k.json" \
        "unite QM9 model shipped on 2026-12-03 (44,988 steps), principal frame, 488 + 296 CPU-min, SDE 20 noise 3 shift 3, autoguided x2, guide at one evaluation in 4 (25 calls, 118 s; ours)=benchmarks/results/shipped_principal_44988steps_guided_sde20_every4_qm9_10k.json" \
        "unite QM9 model shipped on 2026-12-03 (44,988 steps), principal frame, 488 + 296 CPU-min, SDE 40 noise 3 shift 3, autoguided x2, temperature 0.5 (ours)=benchmarks/results/shipped_principal_44988steps_guided_sde40_noise3_t05_qm9_10k.json" \
        "unite QM9 model shipped on 2026-12-03 (58,068 steps), principal frame, 488 + 478 CPU-min, SDE 40 noise 3 shift 3, temperature 0.5, unguided (its packed default; ours)=benchmarks/results/shipped_58068steps_sde40_noise3_t05_qm9_10k.json" \
        "unite QM9 model shipped on 2026-12-03 (60,458 steps), principal frame, 488 + 514 CPU-min, SDE 40 noise 5 shift 3, temperature 0.4, unguided (its packed default; ours)=benchmarks/results/shipped_60458steps_sde40_noise5_t04_qm9_10k.json" \
        "unite QM9 model shipped on 2026-12-03 (65,858 steps), principal frame, 488 + 629 CPU-min, SDE 40 noise 5 shift 3, temperature 0.4, unguided (its packed default; ours)=benchmarks/results/shipped_65858steps_sde40_noise5_t04_qm9_10k.json" \
        "unite QM9 model shipped on 2026-12-03 (71,258 steps), principal frame, 488 + 731 CPU-min, SDE 40 noise 5 shift 3, temperature 0.4, unguided (its packed default; ours)=benchmarks/results/shipped_71258steps_sde40_noise5_t04_qm9_10k.json" \
        "unite shipped QM9 model (71,258 steps, decoder adapted 2,400 steps), principal frame, 488 + 749 CPU-min, SDE 40 noise 5 shift 3, temperature 0.4, unguided (ours)=benchmarks/results/shipped_71258steps_decoder2400_sde40_noise5_t04_qm9_10k.json" \
        "unite shipped QM9 model, the same weights and sampler guided toward even valence sums (scale 3 for t up to 0.7; packed default; ours)=benchmarks/results/shipped_71258steps_decoder2400_sde40_noise5_t04_even3_qm9_10k.json" \
        --out benchmarks/leaderboard.md [--html page.html --plots "NAME=plots/"]

Each JSON is the `--json` output of `unite-mol evaluate`; published rows come from benchmarks/published_qm9.yaml.
"""
import argparse
import base64
import html
import json
from pathlib import Path

import yaml

from unite_core.io import write_text_atomic

HERE = Path(__file__).resolve().parent
COLUMNS = {
    "edm": ["atom_stability", "molecule_stability", "validity", "uniqueness", "valid_unique", "novelty"],
    "openbabel": ["validity", "uniqueness", "novelty", "valid_unique", "connected"],
    "rdkit": ["validity", "uniqueness", "novelty", "connected", "clean"],
    "posebusters": ["all_passed", "bond_lengths", "bond_angles", "internal_steric_clash", "internal_energy"],
    "reconstruction": ["match_rate", "within_tolerance", "rmsd"],
    "distribution": ["atom_count_tv", "element_tv", "bond_length_w1"],
}
NOT_PERCENT = {"rmsd", "atom_count_tv", "element_tv", "bond_length_w1"}


def _ours(name: str, path: Path) -> list[dict]:
    report = json.loads(path.read_text())
    rows = []
    for protocol, section in report["protocols"].items():
        figures = {**section["figures"], **section["figures"].get("checks", {})}
        figures = {k: (v if k in NOT_PERCENT else 100 * v) for k, v in figures.items() if isinstance(v, float)}
        rows.append({"model": name, "protocol": protocol, "samples": section["samples"], "source": str(path), "figures": figures})
    return rows


def cell(value, column: str, not_percent: set[str] = NOT_PERCENT) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:.4f}" if column in not_percent else f"{value:.2f}"


def tables(rows: list[dict]) -> dict[str, tuple[list[str], list[list[str]]]]:
    out = {}
    for protocol, columns in COLUMNS.items():
        chosen = [r for r in rows if r["protocol"] == protocol]
        if chosen:
            head = ["model", *columns, "samples", "source"]
            body = [[r["model"], *(cell(r["figures"].get(c), c) for c in columns), str(r["samples"]), r["source"]] for r in chosen]
            out[protocol] = (head, body)
    return out


def markdown(built: dict, title: str = "QM9 leaderboard (percent unless the column is an RMSD, TV or Wasserstein distance)") -> str:
    """One table per section of `built` (section -> (header, rows)) under `title`."""
    parts = [f"# {title}\n"]
    for protocol, (head, body) in built.items():
        parts.append(f"## {protocol}\n")
        parts.append("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        parts += ["| " + " | ".join(row) + " |" for row in body]
        parts.append("")
    return "\n".join(parts) + "\n"


def html_page(built: dict, plots: dict[str, Path]) -> str:
    parts = ["<!doctype html><meta charset='utf-8'><title>unite QM9 leaderboard</title>",
             "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}</style>"]
    for protocol, (head, body) in built.items():
        parts.append(f"<h2>{html.escape(protocol)}</h2><table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body]
        parts.append("</table>")
    for name, folder in plots.items():
        for png in sorted(folder.glob("*.png")):
            data = base64.b64encode(png.read_bytes()).decode()
            parts.append(f"<h3>{html.escape(name)}: {png.name}</h3><img src='data:image/png;base64,{data}' style='max-width:100%'>")
    return "\n".join(parts) + "\n"


def _pairs(items: list[str], what: str) -> dict[str, Path]:
    if any("=" not in item for item in items):
        raise SystemExit(f"leaderboard: {what} must be NAME=PATH")
    return {name: Path(path) for name, path in (item.split("=", 1) for item in items)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="NAME=eval.json from `unite-mol evaluate --json`")
    parser.add_argument("--published", type=Path, default=HERE / "published_qm9.yaml")
    parser.add_argument("--plots", nargs="*", default=[], help="NAME=folder of `unite-mol evaluate --plot` PNGs")
    parser.add_argument("--out", type=Path, help="Markdown file (printed when absent)")
    parser.add_argument("--html", type=Path)
    args = parser.parse_args()
    rows = yaml.safe_load(args.published.read_text())
    for name, path in _pairs(args.runs, "a run").items():
        rows += _ours(name, path)
    built = tables(rows)
    text = markdown(built)
    if args.out:
        write_text_atomic(args.out, text)
    else:
        print(text)
    if args.html:
        write_text_atomic(args.html, html_page(built, _pairs(args.plots, "--plots")))


if __name__ == "__main__":
    main()
