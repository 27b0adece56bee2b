"""Structure files: SDF (RDKit), XYZ and extended XYZ (plain text, multi-record). One reader, one writer.

A malformed record raises `BadRecord` naming the file and the 1-based record number; `skip_bad=True`
counts such records instead. Writers are atomic: a crash never leaves a half-written file.
"""
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Iterator

import numpy as np

from unite_core.io import atomic_path
from unite_mol.chem import Perceived
from unite_mol.structure import ATOMIC_NUMBER, SYMBOLS, Structure


STRUCTURE_SUFFIXES = frozenset({".sdf", ".mol", ".xyz", ".extxyz"})  # what FileFormat.of accepts
CRYSTAL_SUFFIXES = frozenset({".csv", ".cif", ".extxyz", ".vasp", ".poscar", ".zip"})  # what data.crystals reads (and POSCAR*, CONTCAR*)


def is_poscar(path: Path) -> bool:
    return path.suffix.lower() in {".vasp", ".poscar"} or path.name.upper().startswith(("POSCAR", "CONTCAR"))


def is_crystal_file(path: Path) -> bool:
    return path.suffix.lower() in CRYSTAL_SUFFIXES or is_poscar(path)


def is_crystal_input(path: str | Path) -> bool:
    """Crystals, not molecules: a .csv / .cif / .zip / POSCAR, a folder holding CIFs or POSCARs, or an extxyz with a Lattice."""
    p = Path(path)
    if p.is_dir():
        return any(p.glob("*.cif")) or any(map(is_poscar, p.iterdir()))
    if p.suffix.lower() == ".extxyz":  # molecules or crystals: a crystal frame names its Lattice
        if not p.is_file():
            return False
        with p.open() as f:
            f.readline()
            return "lattice=" in f.readline().lower()
    return is_crystal_file(p)


class FileFormat(str, Enum):
    sdf = "sdf"
    xyz = "xyz"
    extxyz = "extxyz"

    @classmethod
    def of(cls, path: Path) -> "FileFormat":
        suffix = path.suffix.lower().lstrip(".")
        if suffix in {"sdf", "mol"}:
            return cls.sdf
        if suffix in {"xyz", "extxyz"}:
            return cls(suffix)
        raise ValueError(f"{path}: unknown structure file type {path.suffix!r} (use .sdf, .xyz or .extxyz)")


class BadRecord(ValueError):
    """A record that cannot become a structure; `reason` is a short key for tallies ("unknown element", ...)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason

    def __reduce__(self):  # so a worker process can send one back
        return BadRecord, (str(self), self.reason)


class _UnknownElement(ValueError):
    pass


@dataclass
class ReadResult:
    structures: list[Structure]
    records: list[int]  # 1-based record number of each structure in its file
    skipped: int  # malformed records passed over (only with skip_bad)

    def collect(self, records: Iterator[Structure | BadRecord], skip_bad: bool) -> "ReadResult":
        """Append one file's records (numbered from 1); a bad one raises unless `skip_bad` counts it."""
        for number, record in enumerate(records, start=1):
            if isinstance(record, BadRecord):
                if not skip_bad:
                    raise record
                self.skipped += 1
            else:
                self.structures.append(record)
                self.records.append(number)
        return self


@dataclass
class RawRecord:
    numbers: list[int]
    coords: list[list[float]]
    where: str  # "<file>: record <k>", for errors

    def structure(self) -> Structure:
        positions = np.array(self.coords, dtype=np.float64).reshape(-1, 3)
        if not len(self.numbers):
            raise BadRecord(f"{self.where}: no atoms", "empty")
        if not np.isfinite(positions).all():
            raise BadRecord(f"{self.where}: non-finite coordinates", "non-finite coordinates")
        return Structure(np.array(self.numbers, dtype=np.int64), positions.astype(np.float32))


def _sdf_records(path: Path):
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    for i, mol in enumerate(Chem.SDMolSupplier(str(path), removeHs=False, sanitize=False), start=1):
        where = f"{path}: record {i}"
        if mol is None or mol.GetNumConformers() == 0:
            yield BadRecord(f"{where}: RDKit cannot parse it", "unparseable")
            continue
        yield RawRecord([a.GetAtomicNum() for a in mol.GetAtoms()], mol.GetConformer().GetPositions().tolist(), where)


_PROPERTIES = re.compile(r"Properties=(\S+)", re.IGNORECASE)


def _columns(comment: str) -> tuple[int, int]:
    """Columns of species and x in an atom line: from an extxyz `Properties=` key, else 0 and 1."""
    found = _PROPERTIES.search(comment)
    if not found:
        return 0, 1
    fields, col, species, pos = found.group(1).split(":"), 0, None, None
    for name, _kind, width in zip(fields[::3], fields[1::3], fields[2::3]):
        species = col if name == "species" else species
        pos = col if name == "pos" else pos
        col += int(width)
    if species is None or pos is None:
        raise ValueError("Properties= lacks species or pos")
    return species, pos


def _atom(token: str) -> int:
    z = ATOMIC_NUMBER.get(token.capitalize()) if not token.isdigit() else int(token)
    if not z or z >= len(SYMBOLS):
        raise _UnknownElement(f"unknown element {token!r}")
    return z


def _xyz_records(path: Path):
    lines = path.read_text().splitlines()
    i, record = 0, 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        record += 1
        where = f"{path}: record {record} (line {i + 1})"
        try:
            n = int(lines[i].split()[0])
        except ValueError:
            yield BadRecord(f"{where}: expected an atom count, found {lines[i].strip()[:40]!r}", "unparseable")
            return  # without a count the following records cannot be located
        block = lines[i + 2 : i + 2 + n]
        i += 2 + n
        try:
            if len(block) < n:
                raise ValueError(f"file ends after {len(block)} of {n} atom lines")
            sp, pos = _columns(lines[i - n - 1])
            rows = [line.split() for line in block]
            numbers = [_atom(r[sp]) for r in rows]
            coords = [[float(v) for v in r[pos : pos + 3]] for r in rows]
            if any(len(c) != 3 for c in coords):
                raise ValueError("an atom line has fewer than 3 coordinates")
        except (ValueError, IndexError) as err:
            yield BadRecord(f"{where}: {err}", "unknown element" if isinstance(err, _UnknownElement) else "unparseable")
            continue
        yield RawRecord(numbers, coords, where)


def is_blank(path: Path) -> bool:
    """Nothing but whitespace in the file. Folder readers pass such files over (they hold no structure)."""
    with path.open("rb") as f:
        while chunk := f.read(1 << 16):
            if chunk.strip():
                return False
    return True


def require_content(path: Path) -> None:
    """A file named to be read must hold something: an empty one is a mistake, not zero structures."""
    if is_blank(path):
        raise ValueError(f"{path}: empty file (no structures in it)")


def read_records(path: str | Path) -> Iterator[Structure | BadRecord]:
    """Each record of an SDF / XYZ / extxyz file in order: its structure, or the BadRecord saying why it has none."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    require_content(path)
    records = _sdf_records(path) if FileFormat.of(path) is FileFormat.sdf else _xyz_records(path)
    for record in records:
        try:
            yield record.structure() if isinstance(record, RawRecord) else record
        except BadRecord as bad:
            yield bad


def read_structures(path: str | Path, skip_bad: bool = False) -> ReadResult:
    """Every structure in an SDF / XYZ / extxyz file; a bad record raises BadRecord unless `skip_bad` counts it."""
    return ReadResult([], [], 0).collect(read_records(path), skip_bad)


def _xyz_text(structures: list[Structure], perceived: list[Perceived] | None, extended: bool) -> str:
    out = []
    for i, s in enumerate(structures):
        p = perceived[i] if perceived else None
        if extended:
            extra = f' sanitized={"T" if p.sanitized else "F"} smiles="{p.smiles or ""}"' if p else ""
            comment = f'Properties=species:S:1:pos:R:3 pbc="F F F" index={i}{extra}'
        else:
            comment = f"index={i}" + (f" sanitized={int(p.sanitized)} smiles={p.smiles or '-'}" if p else "")
        out += [str(len(s.numbers)), comment]
        out += [f"{SYMBOLS[z]:<2} {x:12.6f} {y:12.6f} {zc:12.6f}" for z, (x, y, zc) in zip(s.numbers, s.positions.astype(float))]
    return "\n".join(out) + "\n"


def write_structures(path: str | Path, structures: list[Structure], perceived: list[Perceived] | None = None) -> Path:
    """Write every structure (SDF needs `perceived`: bonds where RDKit found them, a `unite_sanitized` flag)."""
    path = Path(path)
    fmt = FileFormat.of(path)
    with atomic_path(path) as tmp:
        if fmt is FileFormat.sdf:
            _write_sdf(tmp, structures, perceived)
        else:
            tmp.write_text(_xyz_text(structures, perceived, extended=fmt is FileFormat.extxyz))
    return path


def _write_sdf(path: Path, structures: list[Structure], perceived: list[Perceived] | None) -> None:
    from rdkit import Chem

    if perceived is None or len(perceived) != len(structures):
        raise ValueError("SDF output needs one perceived molecule per structure")
    writer = Chem.SDWriter(str(path))
    writer.SetKekulize(False)
    for i, p in enumerate(perceived):
        mol = Chem.Mol(p.mol)
        mol.SetProp("_Name", f"unite_{i}")
        mol.SetIntProp("unite_index", i)
        mol.SetIntProp("unite_sanitized", int(p.sanitized))
        mol.SetProp("unite_smiles", p.smiles or "")
        mol.SetIntProp("unite_fragments", p.fragments)
        mol.SetIntProp("unite_neutral", int(p.neutral))
        writer.write(mol)
    writer.close()

