"""How fast `unite-mol evaluate` is on QM9-size molecules: the whole command (start-up, reading and the QM9 training
reference included) on N test-split molecules, per protocol, against a one-worker run of the same file.

    python benchmarks/evaluate_speed.py --n 10000            # EDM + RDKit-native, the issue's < 10 s target
    python benchmarks/evaluate_speed.py --n 1000 --protocols openbabel
    python benchmarks/evaluate_speed.py --n 200 --protocols posebusters
"""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--protocols", default="edm,rdkit")
    parser.add_argument("--cache", default="data/cache")
    args = parser.parse_args()
    from unite_mol.data.qm9 import load_qm9
    from unite_mol.formats import write_structures

    qm9 = load_qm9(Path(args.cache))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "qm9_test.xyz"
        write_structures(path, [qm9.packed[i] for i in qm9.split["test"][: args.n]])
        base = [sys.executable, "-m", "unite_mol", "evaluate", str(path), "--protocols", args.protocols,
                "--cache", args.cache, "--posebusters-n", str(args.n)]
        _timed(base + ["--workers", "2"])  # warm the file cache and the QM9 training reference
        two, one = _timed(base + ["--workers", "2"]), _timed(base + ["--workers", "1"])
    print(f"{args.n} QM9 test molecules, protocols {args.protocols}, whole command incl. start-up:")
    print(f"  2 workers: {two:.2f} s ({args.n / two:.0f} molecules/s)")
    print(f"  1 worker:  {one:.2f} s ({args.n / one:.0f} molecules/s); speed-up {one / two:.2f}x")


if __name__ == "__main__":
    main()
