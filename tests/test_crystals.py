"""Crystals: the CDVAE-CSV / CIF / POSCAR / extxyz loaders, bad files, periodic neighbours, invariances, the files
written, and crystal runs that train, reconstruct and sample."""
from pathlib import Path

import numpy as np
import pytest

from unite_mol.data.crystals import from_pymatgen, read_crystals, to_pymatgen
from unite_mol.evaluate.crystal import check_crystal
from unite_mol.formats import BadRecord
from unite_mol.structure import Structure

from conftest import mol
from crystal_cells import SHARED, csv_rows, rock_salt, write_csv
from tiny_models import TINY, tiny_mol


@pytest.mark.parametrize("name,atoms", [("perov_5/val.csv", {5}), ("carbon_24/val.csv", set(range(6, 25))),
                                        ("mp_20_schema_sample/cdvae_test_data.csv", set(range(1, 21)))])
def test_cdvae_csvs_load_as_niggli_reduced_crystals(tmp_path, name, atoms):
    rows = csv_rows(SHARED / name, 20)
    crystals = read_crystals(write_csv(tmp_path / "x.csv", rows)).structures
    assert len(crystals) == len(rows) and all(c.is_crystal and len(c.numbers) in atoms for c in crystals)
    for c, row in zip(crystals, rows):
        from pymatgen.core import Structure as PmgStructure

        original = PmgStructure.from_str(row["cif"], fmt="cif")
        assert original.composition == to_pymatgen(c).composition
        assert abs(original.volume - abs(np.linalg.det(c.cell))) < 1e-3 * original.volume
        frac = c.fractional()
        assert (frac > -1e-4).all() and (frac < 1 + 1e-4).all()  # wrapped into the cell


def test_site_order_is_canonical():
    s = rock_salt()
    shuffled = np.random.default_rng(0).permutation(8)
    a = from_pymatgen(to_pymatgen(s), "a")
    b = from_pymatgen(to_pymatgen(Structure(s.numbers[shuffled], s.positions[shuffled], s.cell)), "b")
    assert np.array_equal(a.numbers, b.numbers) and np.allclose(a.positions, b.positions, atol=1e-5)


def test_bad_crystal_files_are_one_line_naming_the_record(tmp_path):
    good = rock_salt()
    rows = [{"material_id": "ok", "cif": to_pymatgen(good).to(fmt="cif")}, {"material_id": "bad", "cif": "data_x\n_cell_length_a 3\n"}]
    path = write_csv(tmp_path / "mixed.csv", rows)
    with pytest.raises(BadRecord, match=r"mixed.csv row 2: unparsable CIF"):
        read_crystals(path)
    assert read_crystals(path, skip_bad=True).skipped == 1
    with pytest.raises(BadRecord, match="8 atoms, more than data.max_atoms=5"):
        read_crystals(path, max_atoms=5)
    disordered = to_pymatgen(good)
    disordered.replace(0, {"Na": 0.5, "K": 0.5})
    (tmp_path / "dis.cif").write_text(disordered.to(fmt="cif"))
    with pytest.raises(BadRecord, match="dis.cif record 1: partial occupancy"):
        read_crystals(tmp_path / "dis.cif")
    (tmp_path / "mol.extxyz").write_text('2\nProperties=species:S:1:pos:R:3\nC 0 0 0\nO 0 0 1.2\n')
    with pytest.raises(BadRecord, match="mol.extxyz record 1: no periodic cell"):
        read_crystals(tmp_path / "mol.extxyz")
    (tmp_path / "POSCAR").write_text(to_pymatgen(good).to(fmt="poscar"))
    assert read_crystals(tmp_path / "POSCAR").structures[0].numbers.tolist() == sorted(good.numbers.tolist())
    (tmp_path / "CONTCAR").write_text("NaCl\n1.0\n5 0 0\n0 5 0\n")
    with pytest.raises(BadRecord, match="CONTCAR: unparsable POSCAR"):
        read_crystals(tmp_path / "CONTCAR")
    with pytest.raises(ValueError, match="no `cif` column"):
        read_crystals(write_csv(tmp_path / "nocif.csv", [{"a": 1}]))
    (tmp_path / "x.zip").write_text("not an archive")
    with pytest.raises(ValueError, match="x.zip: not a zip archive"):
        read_crystals(tmp_path / "x.zip")


def test_workers_read_the_same_records_bad_ones_included(tmp_path):
    """`crystal_records_read_by` (the parsing shared by worker processes, as `unite-mol evaluate` reads) gives the
    records `crystal_records` gives, in order, each BadRecord with its message and reason."""
    from unite_mol.data.crystals import crystal_records, crystal_records_read_by
    from unite_mol.evaluate.pool import WorkerPool

    rows = csv_rows(SHARED / "perov_5" / "val.csv", 30)
    rows[7]["cif"] = "data_x\n_cell_length_a 3\n"
    folder = tmp_path / "files"
    folder.mkdir()
    write_csv(folder / "a.csv", rows)
    (folder / "b.cif").write_text(to_pymatgen(rock_salt()).to(fmt="cif") + "data_broken\n_cell_length_a 3\n")
    serial = list(crystal_records(folder))
    with WorkerPool(2) as pool:
        shared = crystal_records_read_by(pool, folder)
        assert read_crystals(folder, skip_bad=True, pool=pool).skipped == 2
    assert len(shared) == len(serial) == 32
    for one, other in zip(serial, shared):
        assert type(one) is type(other)
        if isinstance(one, BadRecord):
            assert (str(one), one.reason) == (str(other), other.reason)
        else:
            assert np.array_equal(one.numbers, other.numbers) and np.array_equal(one.positions, other.positions)


def _extxyz_record(lattice: str, cl: str) -> str:
    return f'2\nLattice="{lattice}" Properties=species:S:1:pos:R:3 pbc="T T T"\nNa 0 0 0\nCl {cl}\n'


@pytest.mark.parametrize("lattice, cl, message", [
    ("4 0 0 0 4 0 0 0 0", "2 2 0", r"record 2: zero or negative cell volume \(0 Å³, the lattice vectors are coplanar\)"),
    ("4 0 0 0 4 0 0 0 -4", "2 2 2", r"record 2: zero or negative cell volume \(-64 Å³, a left-handed cell"),
    ("4 0 0 0 4 0 0 0 4", "nan 2 2", "record 2: NaN or infinite cell or coordinates"),
    ("4 0 0 0 4 0 0 0 4", "0.2 0 0", r"record 2: overlapping atoms \(0.20 Å apart, under 0.5 Å\)"),
])
def test_cells_that_cannot_be_crystals_are_one_line_naming_the_record(tmp_path, lattice, cl, message):
    path = tmp_path / "x.extxyz"
    path.write_text(_extxyz_record("5.64 0 0 0 5.64 0 0 0 5.64", "2.82 2.82 2.82") + _extxyz_record(lattice, cl))
    with pytest.raises(BadRecord, match=f"x.extxyz {message}"):
        read_crystals(path)
    kept = read_crystals(path, skip_bad=True)
    assert kept.skipped == 1 and len(kept.structures) == 1


@pytest.mark.parametrize("name", ["perov_5/val.csv", "carbon_24/val.csv", "mp_20_schema_sample/cdvae_test_data.csv"])
def test_periodic_neighbours_match_pymatgen_on_real_cells(tmp_path, name):
    import torch

    from unite_mol.neighbours import periodic_radius_graph

    crystals = read_crystals(write_csv(tmp_path / "x.csv", csv_rows(SHARED / name, 6))).structures
    N = max(len(c.numbers) for c in crystals)
    positions = torch.zeros(len(crystals), N, 3, dtype=torch.float64)
    mask = torch.zeros(len(crystals), N, dtype=torch.bool)
    for b, c in enumerate(crystals):
        positions[b, : len(c.numbers)] = torch.from_numpy(c.positions.astype(np.float64))
        mask[b, : len(c.numbers)] = True
    cells = torch.from_numpy(np.stack([c.cell for c in crystals]))
    edges = periodic_radius_graph(positions, cells, mask, cutoff=5.0)
    for b, c in enumerate(crystals):
        centre, neighbour, _, distance = to_pymatgen(c).get_neighbor_list(5.0)
        expected = sorted(zip(centre.tolist(), neighbour.tolist(), distance.tolist()))
        mine = edges.dst // N == b
        got = sorted(zip((edges.dst[mine] % N).tolist(), (edges.src[mine] % N).tolist(), edges.vec[mine].norm(dim=-1).tolist()))
        assert [(i, j) for i, j, _ in got] == [(i, j) for i, j, _ in expected]  # the same pairs, images counted
        assert np.allclose([d for *_, d in got], [d for *_, d in expected], atol=1e-4)


@pytest.mark.parametrize("out", ["x.cif", "x.extxyz", "x.zip", "cifs"])
def test_crystal_files_round_trip_with_validity_flags(tmp_path, out):
    from ase.io import read

    from unite_mol.data.crystals import write_crystals

    crystals = [from_pymatgen(to_pymatgen(rock_salt(a)), "a") for a in (5.64, 6.0)] + [from_pymatgen(to_pymatgen(
        Structure(np.array([38, 22, 8, 8, 8]), (np.array([[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]]) * 3.9).astype(np.float32),
                  np.eye(3) * 3.9)), "srtio3")]
    overlapping = Structure(np.array([11, 17]), np.array([[0, 0, 0], [0.2, 0, 0]], np.float32), np.eye(3) * 4.0)
    nacl2 = from_pymatgen(to_pymatgen(Structure(np.array([11, 17, 17]), np.array([[0, 0, 0], [2, 0, 0], [0, 2, 0]], np.float32), np.eye(3) * 4.0)), "b")
    written = crystals + [overlapping, nacl2]
    checks = [check_crystal(c) for c in written]
    assert [(c.structural, c.compositional) for c in checks[3:]] == [(False, True), (True, False)]
    path = write_crystals(tmp_path / out, written, checks)
    assert len(read_crystals(path, check=False).structures) == 5  # every one written; a zip read without unpacking it
    back = read_crystals(path, skip_bad=True).structures  # canonical again; the overlapping one is not a training crystal
    assert len(back) == 4
    for a, b in zip(crystals + [nacl2], back):
        assert np.array_equal(a.numbers, b.numbers) and np.allclose(a.cell, b.cell, atol=1e-5)
        assert np.allclose(a.positions, b.positions, atol=1e-4)
    if out.endswith(".extxyz"):
        flags = [(atoms.info["valid_structural"], atoms.info["valid_compositional"]) for atoms in read(path, ":")]
    else:
        flags = [tuple(f"_unite_valid_{k}   yes" in text for k in ("structural", "compositional")) for text in _cif_texts(path)]
    assert flags == [(True, True)] * 3 + [(False, True), (True, False)]
    with pytest.raises(ValueError, match="2 validity checks for 5 crystals"):
        write_crystals(tmp_path / "y.cif", written, checks[:2])
    if out == "cifs":  # 2 crystals into the folder of 5 would have been read back as 5, three of them stale
        with pytest.raises(ValueError, match=r"cifs: already holds 5 CIF files \(an earlier sample\?\); name a new or empty folder"):
            write_crystals(path, written[:2], checks[:2])


def _cif_texts(path: Path) -> list[str]:
    """One text per crystal of a written .cif, .zip or folder of CIFs."""
    import zipfile

    if path.is_dir():
        return [f.read_text() for f in sorted(path.glob("*.cif"))]
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            return [z.read(name).decode() for name in sorted(z.namelist())]
    return path.read_text().split("\ndata_")[1:]


def _perov_batch(tmp_path, n: int = 6):
    import torch  # noqa: F401

    from unite_core.config import compose, validate
    from unite_mol.batch import ElementVocab, collate
    from unite_mol.run import MolConfig

    cfg = validate(compose("mol", ["dataset=perov5"], MolConfig), MolConfig)
    crystals = read_crystals(write_csv(tmp_path / "p.csv", csv_rows(SHARED / "perov_5/val.csv", n))).structures
    return cfg, collate(crystals, ElementVocab(cfg.data.elements))


def test_lattice_parameters_round_trip_on_real_cells(tmp_path):
    import torch

    from unite_mol.lattice import lattice_matrix, lattice_params

    _, batch = _perov_batch(tmp_path)
    cells = torch.cat([batch.cells.double(), torch.from_numpy(np.stack([c.cell for c in read_crystals(
        write_csv(tmp_path / "c.csv", csv_rows(SHARED / "carbon_24/val.csv", 6))).structures]))])
    atoms = torch.tensor([5] * 6 + [12] * 6)
    params = lattice_params(cells, atoms)
    rebuilt = lattice_matrix(params, atoms)
    torch.testing.assert_close(lattice_params(rebuilt, atoms), params)
    torch.testing.assert_close(torch.linalg.det(rebuilt), torch.linalg.det(cells).abs())  # same volume, right-handed


def test_crystal_bond_length_loss_is_periodic_on_real_cells(tmp_path):
    import torch

    from unite_mol.batch import MolBatch
    from unite_mol.decoder import BOND_CUTOFF, AtomOutput, bond_length_error
    from unite_mol.lattice import fractional

    _, batch = _perov_batch(tmp_path)
    batch = MolBatch(batch.types, batch.positions.double(), batch.mask, batch.cond, batch.cells.double())
    frac = fractional(batch.positions, batch.cells)  # (B, N, 3)
    out = lambda f, cells: AtomOutput(torch.zeros(*batch.types.shape, 5), f @ cells, f, torch.zeros(len(cells), 6), cells)  # noqa: E731
    imaged = frac + torch.tensor([1.0, -2.0, 0.0]) * batch.mask[..., None]  # every atom to another image
    imaged[:, 0] += torch.tensor([0.0, 1.0, 1.0])  # atom 0 alone to yet another one
    assert bond_length_error(out(frac, batch.cells), batch) < 1e-20
    assert bond_length_error(out(imaged, batch.cells), batch) < 1e-20  # the choice of image does not matter
    expanded = bond_length_error(out(frac, batch.cells * 1.05), batch)  # every distance 5 % longer
    assert 0 < expanded < (0.05 * BOND_CUTOFF) ** 2  # only pairs closer than the cut-off count


def test_the_circle_head_decodes_and_scores_fractional_coordinates_without_a_seam(tmp_path):
    from dataclasses import replace

    import torch

    from unite_core.rng import BatchRandom
    from unite_mol.batch import MolBatch
    from unite_mol.decoder import AtomOutput, FractionalHead
    from unite_mol.lattice import fractional
    from unite_mol.run import build_model

    cfg, batch = _perov_batch(tmp_path)
    tiny = tiny_mol()
    tiny.data, tiny.fractional = replace(cfg.data, max_atoms=6), FractionalHead.circle  # room for a padded slot
    model = build_model(tiny)
    decoder, mask = model.decoder, batch.mask
    true = fractional(batch.positions, batch.cells)  # (B, N, 3)

    def scored(f: torch.Tensor, truth: MolBatch) -> float:
        """The position loss against `truth` of a head pointing exactly at fractional coordinates f (B, N, 3)."""
        head = torch.stack([torch.cos(2 * torch.pi * f), torch.sin(2 * torch.pi * f)], dim=-1).flatten(-2)  # (B, N, 6)
        frac, circle = decoder._fractional(head, mask)
        wrapped = torch.remainder(frac - f + 0.5, 1.0) - 0.5  # (B, N, 3): the decoded f is f, up to an image
        torch.testing.assert_close(wrapped[mask], torch.zeros_like(f[mask]), atol=1e-5, rtol=0)
        out = AtomOutput(torch.zeros(*mask.shape, len(tiny.elements)), frac, frac, torch.zeros(len(mask), 6), truth.cells, circle)
        return float(decoder.loss(out, truth).terms["pos_mse"])

    assert scored(true, batch) < 1e-10
    assert scored(true + 3.0, batch) < 1e-10  # another image of every atom
    shift = torch.tensor([0.01, 0.0, 0.0])
    assert abs(scored(true + shift, batch) - 1e-4) < 1e-6  # Δf² when small, as the linear head's minimum-image loss
    edge = true.clone()
    edge[..., 0] = 0.999  # just below the wrap: 0.001 is 0.002 away, not 0.998
    edge_batch = MolBatch(batch.types, edge @ batch.cells, mask, batch.cond, batch.cells)
    assert abs(scored(edge + torch.tensor([0.002, 0.0, 0.0]), edge_batch) - 4e-6) < 1e-7
    pad = lambda x: torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)  # noqa: E731  one padded atom slot per crystal
    padded = MolBatch(pad(batch.types), pad(batch.positions), pad(mask), batch.cond, batch.cells)
    losses = model(padded, BatchRandom.for_step(0, 0, 0, slice(0, len(mask)), len(mask), torch.device("cpu")))
    losses.total.backward()  # with padded atoms, which sit at atan2's origin
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
    assert decoder.position_head.out_features == 6 and decoder.position_head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("readout", ["pooled", "token"])
def test_crystal_tokens_ignore_rotation_and_the_choice_of_periodic_image(tmp_path, readout):
    import torch
    from e3nn import o3

    from unite_mol.augment import quaternion_matrix
    from unite_mol.batch import MolBatch
    from unite_mol.decoder import LatticeReadout
    from unite_mol.run import build_model

    cfg, batch = _perov_batch(tmp_path)
    tiny = tiny_mol()
    tiny.data, tiny.lattice = cfg.data, LatticeReadout(readout)
    model = build_model(tiny).double()
    batch = MolBatch(batch.types, batch.positions.double(), batch.mask, batch.cond, batch.cells.double())
    q = torch.tensor([[0.3, -0.5, 0.7, 0.2]], dtype=torch.float64)
    R = quaternion_matrix(q / q.norm())[0]
    rotated = MolBatch(batch.types, batch.positions @ R.T, batch.mask, batch.cond, batch.cells @ R.T)
    imaged = batch.positions.clone()
    imaged[:, 2] += batch.cells[:, 0] - 2 * batch.cells[:, 2]  # atom 2 -> another periodic image
    moved = MolBatch(batch.types, imaged, batch.mask, batch.cond, batch.cells)
    tokens = lambda b: model.tokenizer(b).latent_inputs  # noqa: E731
    torch.testing.assert_close(tokens(rotated), tokens(batch))
    torch.testing.assert_close(tokens(moved), tokens(batch))
    env = model.tokenizer.env
    hidden = lambda b: env(b.types, b.positions, b.mask, b.cells)[1]  # noqa: E731
    D = o3.Irreps(env.hidden_irreps).D_from_matrix(R)
    torch.testing.assert_close(hidden(rotated), hidden(batch) @ D.T, atol=1e-5, rtol=1e-4)  # l >= 1 features rotate with the crystal

    from e3nn.util.test import assert_equivariant

    one = lambda pos, cell: env(batch.types[:1], pos[None], batch.mask[:1], cell[None])[1][0]  # noqa: E731  (N, hidden)
    assert_equivariant(one, args_in=[batch.positions[0], batch.cells[0]], irreps_in=["cartesian_points", "1o"],  # cell rows: vectors
                       irreps_out=[env.hidden_irreps])  # random rotations, inversion and a translation of the atoms


def test_a_lattice_token_model_trains_reconstructs_and_samples_crystals(tmp_path):
    import torch

    from unite_core.flow import SamplerConfig
    from unite_core.rng import BatchRandom
    from unite_mol.batch import ElementVocab
    from unite_mol.decoder import LatticeReadout
    from unite_mol.run import build_model
    from unite_mol.sampling import Kind, generate_structures

    cfg, batch = _perov_batch(tmp_path)
    tiny = tiny_mol()
    tiny.data, tiny.lattice = cfg.data, LatticeReadout.token
    model = build_model(tiny)
    obs = model.tokenizer(batch)
    B, N = batch.mask.shape
    assert obs.latent_mask.shape == (B, N + 1) and obs.latent_mask[:, 0].all() and obs.latent_inputs.shape[:2] == (B, N + 1)
    losses = model(batch, BatchRandom.for_step(0, 0, 0, slice(0, B), B, torch.device("cpu")))
    losses.total.backward()
    assert "recon/lattice_mse" in losses.scalars() and model.decoder.lattice_head.weight.grad.abs().sum() > 0
    assert model.tokenizer.lattice_mlp[0].weight.grad.abs().sum() > 0  # the cell reaches the loss through its token
    out = model.eval().reconstruct(batch, torch.Generator().manual_seed(0))
    assert out.positions.shape == (B, N, 3) and out.cells.shape == (B, 3, 3)
    made = generate_structures(model, torch.tensor([5, 5, 5]), Kind(0, True), SamplerConfig(steps=2), ElementVocab(cfg.data.elements),
                               torch.Generator().manual_seed(0))
    assert [len(c.numbers) for c in made] == [5, 5, 5] and all(c.is_crystal for c in made)


def test_train_a_crystal_run_and_sample_cifs(tmp_path):
    data = tmp_path / "perov"
    data.mkdir()
    write_csv(data / "val.csv", csv_rows(SHARED / "perov_5/val.csv", 48))
    write_csv(data / "test.csv", csv_rows(SHARED / "perov_5/test.csv", 12))
    common = ["train", "dataset=perov5", f"data.path={data}", f"data.cache={tmp_path / 'cache'}", *TINY,
              "trainer=smoke", "trainer.max_steps=2", "trainer.eval_every=2", "trainer.batch_size=16", "trainer.progress=false",
              "eval_samples=4", "eval_molecules=6", "sampler.steps=2", f"run.dir={tmp_path / 'run'}"]
    done = mol(*common)
    assert done.returncode == 2 and "no train.csv (set data.train_split=val" in done.stderr
    done = mol(*common, "data.train_split=val")
    assert done.returncode == 0, done.stderr
    assert "recon_lattice" not in (tmp_path / "run" / "eval.csv").read_text() and "sample_structural" in (tmp_path / "run" / "eval.csv").read_text()
    assert len(read_crystals(tmp_path / "run" / "samples.extxyz", check=False).structures) == 4
    done = mol("sample", "--ckpt", str(tmp_path / "run"), "--n", "5", "--steps", "2", "--out", str(tmp_path / "x.cif"))
    assert done.returncode == 0, done.stderr
    assert "5 crystals" in done.stdout and "CDVAE validity" in done.stdout
    assert (tmp_path / "x.cif").read_text().count("data_") == 5
    done = mol("sample", "--ckpt", str(tmp_path / "run"), "--n", "5", "--steps", "2", "--out", str(tmp_path / "x.zip"))
    assert done.returncode == 0 and "flag the invalid ones" in done.stdout, done.stderr
    done = mol("evaluate", str(tmp_path / "x.zip"), "--workers", "1")  # what `sample` tells the user to run
    assert done.returncode == 0 and "CDVAE protocol, 5 crystals" in done.stdout, done.stderr
    done = mol("sample", "--ckpt", str(tmp_path / "run"), "--n", "5", "--out", str(tmp_path / "x.sdf"))
    assert done.returncode == 2 and "crystals are written as .cif" in done.stderr
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "000000.cif").write_text((tmp_path / "x.cif").read_text())
    done = mol("sample", "--ckpt", str(tmp_path / "run"), "--n", "5", "--steps", "2", "--out", str(tmp_path / "old"))
    assert done.returncode == 2 and "old: already holds 1 CIF files" in done.stderr and "crystals in" not in done.stdout  # before sampling
    done = mol("reconstruct", str(data / "test.csv"), "--ckpt", str(tmp_path / "run"), "--out", str(tmp_path / "r.cif"))
    assert done.returncode == 0 and "12 crystals encoded and decoded" in done.stdout, done.stderr
    done = mol("evaluate", str(tmp_path / "r.cif"), "--reference", str(data / "test.csv"), "--workers", "1")
    assert done.returncode == 0 and "reconstruction: match rate % (valid and matched)" in done.stdout, done.stderr
    done = mol("evaluate", str(tmp_path / "x.cif"), "--reference", str(data / "test.csv"), "--workers", "1")
    assert done.returncode == 2 and "test.csv has 12 crystals but the evaluated files have 5" in done.stderr, done.stderr


def test_train_on_a_folder_of_cif_and_poscar_files(tmp_path):
    from pymatgen.core import Structure as PmgStructure

    folder = tmp_path / "mine"
    (folder / "vasp").mkdir(parents=True)
    for i, row in enumerate(csv_rows(SHARED / "perov_5/val.csv", 40)):
        pmg = PmgStructure.from_str(row["cif"], fmt="cif")
        pmg.to(filename=str(folder / "vasp" / f"POSCAR_{i}") if i % 2 else str(folder / f"{i}.cif"), fmt="poscar" if i % 2 else "cif")
    (folder / "vasp" / "POSCAR_bad").write_text("not a poscar\n1.0\n")
    common = ["train", f"data.path={folder}", *TINY, "data.max_atoms=5", "trainer=smoke", "trainer.max_steps=2",
              "trainer.eval_every=2", "trainer.batch_size=16", "trainer.progress=false", "eval_samples=3", "eval_molecules=2",
              "sampler.steps=2", f"run.dir={tmp_path / 'run'}"]
    done = mol(*common, "dataset=files")
    assert done.returncode == 2 and "no .sdf, .xyz or .extxyz (crystals: data.crystal_files=true) files" in done.stderr
    done = mol(*common, "dataset=crystal_files")
    assert done.returncode == 2 and "POSCAR_bad: unparsable POSCAR" in done.stderr.splitlines()[-1]
    done = mol(*common, "dataset=crystal_files", "data.skip_bad=true")
    assert done.returncode == 0, done.stderr
    done = mol("sample", "--ckpt", str(tmp_path / "run"), "--n", "3", "--steps", "2", "--out", str(tmp_path / "x.extxyz"))
    assert done.returncode == 0, done.stderr
    sampled = read_crystals(tmp_path / "x.extxyz", check=False).structures
    assert len(sampled) == 3 and all(c.is_crystal for c in sampled)
