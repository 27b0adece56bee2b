"""PoseBusters "mol" checks (loading, sanitisation, connectivity, radicals, bond lengths and angles, internal clashes,
ring and double-bond flatness, internal energy) as pass fractions. About 0.2 s per molecule on one core (the energy
check embeds a conformer ensemble), so it runs on the first `limit` molecules valid under the OpenBabel protocol."""
from dataclasses import dataclass

import numpy as np

from unite_core.jsonio import Undefined


@dataclass
class PoseBustersScore:
    tested: int  # molecules checked
    all_passed: float  # fraction passing every check that applied to them
    checks: dict[str, float]  # check name -> fraction passing (over the molecules where it applied)


def mol_config() -> dict:
    """PoseBusters' own "mol" configuration, with two changes that keep its results: the energy-ratio module that
    posebusters 0.6.5 lists twice (once without an output) runs once, and on one thread per worker process (its
    default uses every core from every worker, which made 1,000 molecules take 10 minutes instead of about 2)."""
    from importlib import resources

    import yaml

    config = yaml.safe_load(resources.files("posebusters").joinpath("config", "mol.yml").read_text())
    config["modules"] = [m for m in config["modules"] if m.get("chosen_binary_test_output")]
    for module in config["modules"]:
        if module["function"] == "energy_ratio":
            module["parameters"]["num_threads"] = 1
    return config


def bust_chunk(molblocks: list[str]):
    """Worker: the PoseBusters report (a DataFrame, one row per molecule) for a chunk of mol blocks."""
    import logging

    from posebusters import PoseBusters
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    logging.getLogger("posebusters").setLevel(logging.CRITICAL)
    mols = [Chem.MolFromMolBlock(b, removeHs=False) for b in molblocks]
    return PoseBusters(config=mol_config()).bust(mol_pred=mols, full_report=False)


def _verdict(value) -> bool | None:
    """A check's cell: True / False, or None where it did not apply or PoseBusters reported an error instead."""
    return bool(value) if isinstance(value, (bool, np.bool_)) else None


def score_posebusters(frames: list) -> PoseBustersScore:
    import pandas as pd

    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    verdicts = {c: [_verdict(v) for v in table[c]] for c in table.columns}
    verdicts = {c: v for c, v in verdicts.items() if any(x is not None for x in v)}
    checks = {c: float(np.mean([x for x in v if x is not None])) for c, v in verdicts.items()}
    passed = [all(v[i] is not False for v in verdicts.values()) for i in range(len(table))]
    return PoseBustersScore(len(table), float(np.mean(passed)) if passed else Undefined("no molecule tested"), checks)
