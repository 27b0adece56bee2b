"""Crystals from files: the CDVAE CSV layout (Perov-5, Carbon-24, MP-20: one CIF per row in a `cif` column),
CIF files, VASP POSCAR / CONTCAR files, extended XYZ with a `Lattice`, or folders of them. Parsed with pymatgen,
Niggli-reduced (not made primitive, as ADiT), sites in a canonical order: by atomic number, then by fractional
coordinates wrapped into [0, 1). A record that cannot be a crystal is a `BadRecord` naming the file and record.
"""
import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from unite_core.cache import cached
from unite_core.io import atomic_path
from unite_mol.data.origin import canonical_order, wrap
from unite_mol.evaluate.crystal import MIN_DISTANCE, CrystalCheck  # closer atoms are "overlapping" (CDVAE's structural cut-off)
from unite_mol.evaluate.pool import Chunked, WorkerPool
from unite_mol.formats import BadRecord, ReadResult, is_blank, is_crystal_file, is_poscar, require_content
from unite_mol.structure import Structure

CRYSTAL_OUTPUTS = (".cif", ".extxyz", ".zip", "")  # what write_crystals writes ("": a folder of CIFs)


def from_pymatgen(pmg, where: str, max_atoms: int | None = None, check: bool = True) -> Structure:
    """A pymatgen Structure -> our canonical Structure with a cell; raises BadRecord naming `where`. With
    `check=False` (scoring samples) the crystal is taken as it is: no Niggli reduction, no volume or overlap check."""
    if not pmg.is_ordered:
        raise BadRecord(f"{where}: partial occupancy (a disordered site); only ordered crystals are supported", "partial occupancy")
    if not np.isfinite(pmg.lattice.matrix).all() or not np.isfinite(pmg.cart_coords).all():
        raise BadRecord(f"{where}: NaN or infinite cell or coordinates", "not finite")
    if not check:
        return Structure(np.array([site.specie.Z for site in pmg], dtype=np.int64), pmg.cart_coords.astype(np.float32),
                         np.asarray(pmg.lattice.matrix, dtype=np.float64))
    volume = float(np.linalg.det(pmg.lattice.matrix))  # signed: a left-handed cell is negative (VASP refuses it too)
    if volume <= 1e-6:
        raise _bad_volume(volume, where)
    if max_atoms is not None and len(pmg) > max_atoms:
        raise BadRecord(f"{where}: {len(pmg)} atoms, more than data.max_atoms={max_atoms}", "too many atoms")
    reduced = pmg.get_reduced_structure(reduction_algo="niggli")
    if len(reduced) > 1:
        d = reduced.distance_matrix + np.eye(len(reduced)) * 1e3
        if d.min() < MIN_DISTANCE:
            raise BadRecord(f"{where}: overlapping atoms ({d.min():.2f} Å apart, under {MIN_DISTANCE} Å)", "overlapping atoms")
    numbers = np.array([site.specie.Z for site in reduced], dtype=np.int64)
    frac = wrap(reduced.frac_coords)
    order = canonical_order(numbers, frac)
    cell = np.asarray(reduced.lattice.matrix, dtype=np.float64)
    return Structure(numbers[order], (frac[order] @ cell).astype(np.float32), cell)


def _bad_volume(volume: float, where: str) -> BadRecord:
    hint = "a left-handed cell: swap two lattice vectors" if volume < -1e-6 else "the lattice vectors are coplanar"
    return BadRecord(f"{where}: zero or negative cell volume ({volume:.3g} Å³, {hint})", "bad volume")


def to_pymatgen(s: Structure):
    from pymatgen.core import Lattice, Structure as PmgStructure

    if s.cell is None:
        raise ValueError("a molecule has no cell: not a crystal")
    return PmgStructure(Lattice(s.cell), s.numbers.tolist(), s.positions.astype(np.float64), coords_are_cartesian=True)


def to_ase(s: Structure):
    from ase import Atoms

    return Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell, pbc=s.cell is not None)


def _parse(text: str, fmt: str, where: str, max_atoms: int | None, check: bool) -> Structure:
    """One CIF block or POSCAR (`fmt` as pymatgen names it) -> Structure, or BadRecord naming `where`."""
    import warnings

    from pymatgen.core import Structure as PmgStructure

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pmg = PmgStructure.from_str(text, fmt=fmt)
    except Exception as err:  # pymatgen raises many types for a malformed file
        name = fmt.upper()
        raise BadRecord(f"{where}: unparsable {name} ({type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''})",
                        f"unparsable {name}") from None
    return from_pymatgen(pmg, where, max_atoms, check)


@dataclass(frozen=True)
class _Parse:
    """One record's text, parsed into a Structure or a BadRecord when called (by a worker process, if a pool reads)."""

    text: str
    fmt: str
    where: str
    max_atoms: int | None
    check: bool

    def __call__(self) -> Structure | BadRecord:
        return _guard(lambda: _parse(self.text, self.fmt, self.where, self.max_atoms, self.check))


def _parsed(entry: "_Parse") -> Structure | BadRecord:
    return entry()


def _records(path: Path, max_atoms: int | None, check: bool):
    """For every record of one file: a Structure, a BadRecord, or the `_Parse` that makes one of them."""
    suffix = path.suffix.lower()
    if is_poscar(path):
        yield _Parse(path.read_text(), "poscar", str(path), max_atoms, check)
    elif suffix == ".csv":
        csv.field_size_limit(sys.maxsize)
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            if "cif" not in (reader.fieldnames or []):
                raise ValueError(f"{path}: no `cif` column (the CDVAE CSV layout: cif plus property columns)")
            for i, row in enumerate(reader, start=1):
                yield _Parse(row["cif"], "cif", f"{path} row {i}", max_atoms, check)
    elif suffix == ".cif":
        yield from _cif_records(path.read_text(), str(path), max_atoms, check)
    elif suffix == ".zip":
        yield from _zip_records(path, max_atoms, check)
    elif suffix == ".extxyz":
        from ase.io import iread
        from pymatgen.io.ase import AseAtomsAdaptor

        try:
            for i, atoms in enumerate(iread(str(path), format="extxyz"), start=1):
                if not atoms.pbc.all():
                    yield BadRecord(f"{path} record {i}: no periodic cell (Lattice= and pbc=\"T T T\")", "no cell")
                    continue
                if atoms.cell.rank < 3:  # pymatgen cannot even build such a lattice
                    yield _bad_volume(0.0, f"{path} record {i}")
                    continue
                yield _guard(lambda atoms=atoms, i=i: from_pymatgen(AseAtomsAdaptor.get_structure(atoms), f"{path} record {i}", max_atoms, check))
        except Exception as err:  # ASE's own errors on a malformed file (_guard already turned bad records into values)
            yield BadRecord(f"{path}: unreadable extxyz ({type(err).__name__})", "unreadable")
    else:
        raise ValueError(f"{path}: unknown crystal file type {path.suffix!r} "
                         "(use .csv in the CDVAE layout, .cif, POSCAR, .extxyz or a .zip of CIFs)")


def _cif_records(text: str, where: str, max_atoms: int | None, check: bool):
    for i, block in enumerate(_cif_blocks(text), start=1):
        yield _Parse(block, "cif", f"{where} record {i}", max_atoms, check)


def _zip_records(path: Path, max_atoms: int | None, check: bool):
    """The CIFs of a zip archive (what `write_crystals` writes for `.zip`), by member name."""
    import zipfile

    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not a zip archive") from None
    with archive:
        names = sorted(n for n in archive.namelist() if n.lower().endswith(".cif"))
        if not names:
            raise ValueError(f"{path}: no .cif files in the archive")
        for name in names:
            yield from _cif_records(archive.read(name).decode(errors="replace"), f"{path}:{name}", max_atoms, check)


def _cif_blocks(text: str) -> list[str]:
    """A CIF's data blocks (one structure each), each with the lines before the first `data_` (comments)."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.lstrip().lower().startswith("data_")]
    if not starts:
        return [text]
    bounds = starts[1:] + [len(lines)]
    return ["".join(lines[a:b]) for a, b in zip(starts, bounds)]


def write_crystals(path: str | Path, structures: list[Structure], checks: list[CrystalCheck]) -> Path:
    """Every crystal, atomically, each flagged with its CDVAE validity (`checks`, one per crystal; invalid ones are
    written too): `.cif` (one data block each), `.extxyz` (ASE, `Lattice` + `pbc`), `.zip` or a folder (no suffix; one
    CIF each, `000000.cif` ...). CIFs carry `_unite_valid_structural` / `_unite_valid_compositional` yes | no, extxyz
    comment lines the keys `valid_structural=T|F valid_compositional=T|F`."""
    import zipfile

    if len(checks) != len(structures):
        raise ValueError(f"{path}: {len(checks)} validity checks for {len(structures)} crystals")
    path = Path(path)
    cifs = lambda: [_flagged_cif(s, c, i) for i, (s, c) in enumerate(zip(structures, checks))]  # noqa: E731
    suffix = path.suffix.lower()
    if suffix == ".cif":
        with atomic_path(path) as tmp:
            tmp.write_text("\n".join(cifs()))
    elif suffix == ".extxyz":
        from ase.io import write

        with atomic_path(path) as tmp:
            write(str(tmp), [_flagged_atoms(s, c) for s, c in zip(structures, checks)], format="extxyz")
    elif suffix == ".zip":
        with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for i, text in enumerate(cifs()):
                z.writestr(f"{i:06d}.cif", text)
    elif suffix == "":
        require_new_folder(path)
        path.mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(cifs()):
            with atomic_path(path / f"{i:06d}.cif") as tmp:
                tmp.write_text(text)
    else:
        raise ValueError(f"{path}: unknown crystal output {path.suffix!r} (use .cif, .extxyz, .zip or a folder)")
    return path


def require_new_folder(path: Path) -> None:
    """A folder of CIFs is written into a new or empty folder: CIFs already there would be read back with the new ones."""
    if path.is_dir() and (earlier := sum(1 for _ in path.glob("*.cif"))):
        raise ValueError(f"{path}: already holds {earlier} CIF files (an earlier sample?); name a new or empty folder")


def _flagged_cif(s: Structure, check: CrystalCheck, index: int) -> str:
    """pymatgen's CIF of one crystal, its data block named by `index`, with the two validity items after the name."""
    from pymatgen.io.cif import CifWriter

    head, _, rest = str(CifWriter(to_pymatgen(s))).partition("data_")
    name, _, body = rest.partition("\n")
    flags = "".join(f"_unite_valid_{kind}   {'yes' if ok else 'no'}\n"
                    for kind, ok in (("structural", check.structural), ("compositional", check.compositional)))
    return f"{head}data_{index:06d}_{name}\n{flags}{body}"


def _flagged_atoms(s: Structure, check: CrystalCheck):
    atoms = to_ase(s)
    atoms.info.update(valid_structural=check.structural, valid_compositional=check.compositional)
    return atoms


def _guard(parse):
    try:
        return parse()
    except BadRecord as bad:
        return bad


def _records_of(path: Path, max_atoms: int | None, check: bool) -> Iterator["Structure | BadRecord | _Parse"]:
    """`_records` of the file, or of every crystal file under the folder (sorted by name)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and is_crystal_file(p) and not is_blank(p))
        if not files:
            raise FileNotFoundError(f"{path}: no .csv / .cif / POSCAR / .extxyz / .zip files (empty ones aside)")
    else:
        require_content(path)
        files = [path]
    for file in files:
        yield from _records(file, max_atoms, check)


def crystal_records(path: str | Path, max_atoms: int | None = None, check: bool = True) -> Iterator[Structure | BadRecord]:
    """Each record of a CSV / CIF / POSCAR / extxyz file or zip of CIFs, or of every such file under a folder (sorted by
    name), in order: its crystal, or the BadRecord saying why it has none. `check=False` reads generated crystals as they are."""
    for entry in _records_of(Path(path), max_atoms, check):
        yield entry() if isinstance(entry, _Parse) else entry


def crystal_records_read_by(pool: WorkerPool, path: str | Path, max_atoms: int | None = None,
                            check: bool = True) -> list[Structure | BadRecord]:
    """`crystal_records`, the files' records parsed by `pool`'s workers (pymatgen's CIF parser takes about 1 ms a
    crystal)."""
    path = Path(path)
    entries = list(_records_of(path, max_atoms, check))
    todo = [i for i, entry in enumerate(entries) if isinstance(entry, _Parse)]
    for i, record in zip(todo, pool.map(Chunked(_parsed), [entries[i] for i in todo], f"reading {path.name}")):
        entries[i] = record
    return entries


def read_crystals(path: str | Path, max_atoms: int | None = None, skip_bad: bool = False, check: bool = True,
                  pool: WorkerPool | None = None) -> ReadResult:
    """Every crystal of `crystal_records` (parsed by `pool`'s workers if given); a bad record raises its BadRecord
    unless `skip_bad` counts it."""
    records = crystal_records(path, max_atoms, check) if pool is None else crystal_records_read_by(pool, path, max_atoms, check)
    return ReadResult([], [], 0).collect(iter(records), skip_bad)


def load_crystal_csv(path: str | Path, cache: Path) -> list[Structure]:
    """A CDVAE-layout CSV, parsed once into `cache` (with a digest; rebuilt when broken or missing)."""
    path = Path(path)

    def build(tmp: Path) -> None:
        structures = read_crystals(path).structures
        sizes = np.array([len(s.numbers) for s in structures])
        with tmp.open("wb") as f:
            np.savez(f, numbers=np.concatenate([s.numbers for s in structures]), positions=np.concatenate([s.positions for s in structures]),
                     cells=np.stack([s.cell for s in structures]), offsets=np.concatenate([[0], np.cumsum(sizes)]))

    def read(file: Path) -> list[Structure]:
        with np.load(file) as z:  # each z[key] reads the whole array again: read each once
            numbers, positions, cells, o = z["numbers"], z["positions"], z["cells"], z["offsets"]
        return [Structure(numbers[a:b], positions[a:b], cells[i]) for i, (a, b) in enumerate(zip(o[:-1], o[1:]))]

    stat = path.stat()
    name = f"crystals_{path.parent.name}_{path.stem}_{stat.st_size}_{int(stat.st_mtime)}.npz"
    return cached(cache / name, build, read, str(path))
