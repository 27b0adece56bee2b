"""What `unite-mol evaluate` reads: every record of the given files (or folders of them), bad ones included."""
from dataclasses import dataclass
from pathlib import Path

from unite_mol.formats import STRUCTURE_SUFFIXES, BadRecord, FileFormat, is_blank, read_records
from unite_mol.structure import Structure


@dataclass
class Entry:
    structure: Structure | None  # None when the record could not be read
    defect: str | None  # why not ("unparseable", "empty", "non-finite coordinates", "unknown element")
    message: str | None  # the full one-line reason, naming file and record


def structure_files(paths: list[str | Path]) -> list[Path]:
    """The files named, and the structure files (.sdf / .mol / .xyz / .extxyz) directly inside the folders named, sorted."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in STRUCTURE_SUFFIXES and not is_blank(p))
            if not inside:
                raise FileNotFoundError(f"{path}: no .sdf, .xyz or .extxyz files in this folder (empty ones aside)")
            files += inside
        elif path.is_file():
            FileFormat.of(path)
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return files


def read_entries(paths: list[str | Path]) -> list[Entry]:
    entries = []
    for path in structure_files(paths):
        for record in read_records(path):
            bad = isinstance(record, BadRecord)
            entries.append(Entry(None, record.reason, str(record)) if bad else Entry(record, None, None))
    return entries
