"""Our evaluated crystal runs beside the published rows: one table per dataset and protocol (generation under the
CDVAE protocol, reconstruction as CDVAE's RecEval), with sources.

    python benchmarks/crystal_leaderboard.py \
        "perov_5:test.csv itself (data row)=benchmarks/results/crystal_data_row_perov5.json" \
        "perov_5:unite, current preset, 30 CPU-min (ours)=benchmarks/results/perov5_30min_preset_1k.json" \
        "perov_5:unite, current preset, 30 CPU-min (ours)=benchmarks/results/perov5_30min_preset_1k_recon_test.json" \
        --out benchmarks/crystal_leaderboard.md

Each JSON is the `--json` output of `unite-mol evaluate` on crystals: with `--reference` it is a reconstruction row,
otherwise a generation row. Published rows come from benchmarks/published_crystals.yaml.
"""
import argparse
import json
from pathlib import Path

import yaml

from leaderboard import cell, markdown
from unite_core.io import write_text_atomic

HERE = Path(__file__).resolve().parent
COLUMNS = {
    "generation": ["structural_validity", "compositional_validity", "validity", "cov_r", "cov_p", "density_emd", "elements_emd",
                   "uniqueness", "novelty"],
    "reconstruction": ["match_rate", "rmse"],
}
NOT_PERCENT = {"density_emd", "elements_emd", "rmse"}


def _ours(spec: str) -> tuple[str, str, dict]:
    """`DATASET:NAME=PATH` -> (dataset, protocol, row)."""
    try:
        dataset_name, path = spec.rsplit("=", 1)
        dataset, name = dataset_name.split(":", 1)
    except ValueError:
        raise SystemExit(f"{spec!r}: want DATASET:NAME=PATH, e.g. perov_5:ours=eval.json") from None
    report = json.loads(Path(path).read_text())
    if report.get("reconstruction"):
        figures = {k: report["reconstruction"][k] for k in ("match_rate", "rmse")}
        protocol = "reconstruction"
    else:
        coverage = report.get("coverage") or {}
        figures = {**report["cdvae"], "cov_r": coverage.get("recall"), "cov_p": coverage.get("precision")}
        protocol = "generation"
    figures = {k: (v if k in NOT_PERCENT else 100 * v) for k, v in figures.items() if isinstance(v, float)}
    return dataset, protocol, {"model": name, "figures": figures, "samples": str(report["crystals"]), "source": path}


def tables(rows: dict[tuple[str, str], list[dict]]) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Section "DATASET: PROTOCOL" -> (header, rows), the shape `leaderboard.markdown` renders."""
    out = {}
    for (dataset, protocol), chosen in rows.items():
        columns = COLUMNS[protocol]
        body = [[r["model"], *(cell(r["figures"].get(c), c, NOT_PERCENT) for c in columns), r.get("samples", "–"), r["source"]]
                for r in chosen]
        out[f"{dataset}: {protocol}"] = (["model", *columns, "samples", "source"], body)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="DATASET:NAME=PATH (DATASET as in published_crystals.yaml: perov_5, carbon_24, mp_20)")
    parser.add_argument("--out", type=Path, help="write the markdown here (default: print it)")
    args = parser.parse_args()
    published = yaml.safe_load((HERE / "published_crystals.yaml").read_text())
    rows: dict[tuple[str, str], list[dict]] = {}
    for protocol, datasets in published.items():
        for dataset, entries in datasets.items():
            rows[(dataset, protocol)] = [dict(e) for e in entries]
    for spec in args.runs:
        dataset, protocol, row = _ours(spec)
        rows.setdefault((dataset, protocol), []).append(row)
    text = markdown(tables(rows), "Crystal leaderboard (percent unless the column is an EMD or RMSE)")
    if args.out:
        write_text_atomic(args.out, text)
        print(f"wrote {args.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
