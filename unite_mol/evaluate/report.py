"""The evaluation as JSON (every figure with its protocol, sample count and software versions) and as a table."""
from dataclasses import asdict
from pathlib import Path

from unite_core.jsonio import figure, write_json
from unite_mol.evaluate.run import Evaluation

PROTOCOLS = {
    "edm": "EDM (Hoogeboom et al. 2022; also GeoLDM, EquiFM, GeoBFN): bonds from element-pair length tables "
           "(+10/5/3 pm), atom stable if its bond-order sum is an allowed valence; stable composition = the elements "
           "allow every atom to be stable (an even valence sum is possible); validity = RDKit sanitises the "
           "molecule built from those bonds; uniqueness and novelty over valid; stability and validity over all molecules",
    "openbabel": "ADiT / UNITE: OpenBabel perceives bonds and writes PDB, valid if RDKit parses and sanitises it; "
                 "uniqueness = unique largest-fragment canonical SMILES / valid; novelty = not in training SMILES / valid",
    "rdkit": "RDKit-native: rdDetermineBonds (connectivity + orders, charge 0) then sanitise; what `unite-mol sample` "
             "reports (molecules without hydrogens: EDM-table bonds, valences filled with implicit hydrogens); "
             "uniqueness and novelty over valid, the rest over all molecules",
    "posebusters": "PoseBusters 'mol' checks on the first molecules valid under the OpenBabel protocol; each check's "
                   "fraction is over the molecules it applies to",
    "reconstruction": "pymatgen MoleculeMatcher against the reference file, pair by pair: match = isomorphic (InChI "
                      "atom mapping succeeds), within_tolerance = also RMSD < 0.01 Å (MoleculeMatcher.fit); RMSD over matches",
    "distribution": "samples vs training: total-variation distance of atom counts and elements, Wasserstein-1 of EDM "
                    "bond lengths per bond type (Å), mean weighted by the samples' bond counts",
}


def to_json(ev: Evaluation) -> dict:
    out = {k: v for k, v in asdict(ev).items() if k not in PROTOCOLS and k != "seconds"}
    out["protocols"] = {
        name: {"protocol": PROTOCOLS[name], "samples": _samples(ev, name), "seconds": ev.seconds.get(name), "figures": figures}
        for name, figures in asdict(ev).items() if name in PROTOCOLS and figures is not None
    }
    return out


def _samples(ev: Evaluation, name: str) -> int:
    if name == "posebusters":
        return ev.posebusters.tested
    return ev.reconstruction.pairs if name == "reconstruction" else ev.molecules


def write_report(ev: Evaluation, path: Path) -> None:
    write_json(path, to_json(ev))


def table(ev: Evaluation) -> str:
    lines = [f"{ev.molecules} molecules from {', '.join(ev.inputs)}"]
    if ev.unreadable:
        tally = ", ".join(f"{k} {v}" for k, v in sorted(ev.unreadable.items()))
        lines.append(f"unreadable (counted invalid): {tally}; first: {ev.first_unreadable[0]}")
    for name, section in to_json(ev)["protocols"].items():
        seconds = f", {section['seconds']:.1f} s" if section["seconds"] is not None else ""
        lines.append(f"\n{name} ({section['samples']} molecules{seconds})")
        for key, value in section["figures"].items():
            lines += _rows(key, value)
    if ev.implicit_hydrogens:
        lines.append("\nno molecule has a hydrogen: scored with implicit hydrogens (EDM stability undefined; the RDKit "
                     "protocol takes EDM-table bonds); distributions against QM9's heavy atoms")
    if ev.novelty_against:
        lines.append(f"\nnovelty against: {ev.novelty_against}")
    return "\n".join(lines)


def _rows(key: str, value) -> list[str]:
    if isinstance(value, dict):
        floats = [f"    {k:<30} {figure(v):>8}" for k, v in value.items() if isinstance(v, float)]
        return [f"  {key}:"] + floats if floats else []
    if isinstance(value, float):
        return [f"  {key:<32} {figure(value):>8}"]
    return [f"  {key:<32} {value}"] if isinstance(value, int) else []
