"""`data.origin=site | cation`: each crystal shifted so that a site of its rarest (most electropositive) element is at the
origin, wherever the file put it."""
import numpy as np
import pytest

from unite_mol.data import DataSource, MolDataConfig, Origin, Packed, load_data, to_origin
from unite_mol.data.crystals import read_crystals
from unite_mol.data.origin import canonical_order
from unite_mol.structure import Structure

from crystal_cells import SHARED, csv_rows, write_csv
from tiny_models import TINY


def _shifted(crystals: list[Structure], seed: int) -> list[Structure]:
    """Each crystal translated by a random fraction of its cell (the same crystal, other coordinates)."""
    shifts = np.random.default_rng(seed).uniform(0, 1, (len(crystals), 3))
    return [Structure(c.numbers, (c.positions + f @ c.cell).astype(np.float32), c.cell) for c, f in zip(crystals, shifts)]


def _sorted_distances(s: Structure) -> np.ndarray:
    """Every pair's minimum-image distance (a 3 x 3 x 3 block of images is enough for these cells), sorted."""
    images = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3) @ s.cell  # (27, 3)
    diff = s.positions[:, None, None] - s.positions[None, :, None] - images[None, None]  # (N, N, 27, 3)
    return np.sort(np.linalg.norm(diff, axis=-1).min(-1).ravel())


def test_a_site_of_the_rarest_element_is_put_at_the_origin():
    cell = np.eye(3) * 4.0
    frac = np.array([[.3, .3, .3], [.8, .8, .8], [.8, .8, .3], [.8, .3, .8], [.3, .8, .8]])
    for numbers, anchor in (([56, 56, 22, 8, 8], 2), ([38, 22, 8, 8, 8], 0), ([22, 22, 8, 8, 8], 0)):
        # one Ti beside two Ba: Ti; Sr and Ti once each: the heavier, Sr; two Ti and three O: a Ti
        crystal = Structure(np.array(numbers), (frac @ cell).astype(np.float32), cell)
        s = to_origin(Packed.from_structures([crystal]), Origin.site)[0]
        at_origin = np.flatnonzero(np.abs(s.fractional()).max(-1) < 1e-6)
        assert len(at_origin) == 1 and s.numbers[at_origin[0]] == numbers[anchor]
        assert np.array_equal(canonical_order(s.numbers, s.fractional()), np.arange(5))


def test_a_site_of_the_most_electropositive_element_is_put_at_the_origin():
    cell = np.eye(3) * 4.0
    frac = np.array([[.3, .3, .3], [.8, .8, .8], [.8, .8, .3], [.8, .3, .8], [.3, .8, .8]])
    for numbers, site, cation in (([3, 4, 8, 8, 16], 4, 0), ([56, 22, 8, 8, 8], 0, 0), ([6] * 5, 0, 0)):
        # Li, Be and S once each: the rarest heaviest is the anion S, the most electropositive Li (0.98); BaTiO3: Ba
        # (0.89) either way; one element: the same site either way
        crystal = Packed.from_structures([Structure(np.array(numbers), (frac @ cell).astype(np.float32), cell)])
        for origin, anchor in ((Origin.site, site), (Origin.cation, cation)):
            s = to_origin(crystal, origin)[0]
            at_origin = np.flatnonzero(np.abs(s.fractional()).max(-1) < 1e-6)
            assert len(at_origin) == 1 and s.numbers[at_origin[0]] == numbers[anchor]
        assert np.allclose(to_origin(crystal, Origin.site).positions, to_origin(crystal, Origin.cation).positions) == (
            site == cation)


@pytest.mark.parametrize("origin", [Origin.site, Origin.cation])
@pytest.mark.parametrize("name", ["perov_5/val.csv", "carbon_24/val.csv", "mp_20_schema_sample/cdvae_test_data.csv"])
def test_the_origin_forgets_where_the_file_put_the_crystal(tmp_path, name, origin):
    crystals = read_crystals(write_csv(tmp_path / "x.csv", csv_rows(SHARED / name, 60))).structures
    packed = Packed.from_structures(crystals)
    a, b = to_origin(packed, origin), to_origin(Packed.from_structures(_shifted(crystals, 0)), origin)
    assert to_origin(packed, Origin.file) is packed
    for i, c in enumerate(crystals):
        assert np.array_equal(a[i].cell, c.cell) and np.array_equal(np.sort(a[i].numbers), np.sort(c.numbers))
        assert np.allclose(_sorted_distances(a[i]), _sorted_distances(c), atol=1e-4)  # the same crystal
        frac = a[i].fractional()
        assert (frac > -1e-6).all() and (frac < 1).all() and (np.abs(frac).max(-1) < 1e-6).any()
        assert np.array_equal(canonical_order(a[i].numbers, frac), np.arange(len(frac)))
        assert np.array_equal(a[i].numbers, b[i].numbers) and np.allclose(a[i].positions, b[i].positions, atol=1e-3)


def test_the_origin_reaches_the_data_and_is_refused_for_molecules(tmp_path):
    path = write_csv(tmp_path / "c24.csv", csv_rows(SHARED / "carbon_24/val.csv", 40))
    cfg = MolDataConfig(source=DataSource.files, path=str(path), crystal_files=True, cache=str(tmp_path / "cache"),
                        elements=["C"], max_atoms=24, origin=Origin.site)
    data = load_data(cfg)
    for s in (data.train[i] for i in range(len(data.train))):
        assert np.abs(s.fractional()[0]).max() < 1e-6  # all carbon: the first site in canonical order
    for origin in (Origin.site, Origin.cation):
        with pytest.raises(ValueError, match=f"data.origin={origin.value} is for crystals"):
            load_data(MolDataConfig(source=DataSource.qm9, origin=origin))


def test_a_site_origin_model_reconstructs_a_crystal_the_same_wherever_the_file_put_it(tmp_path):
    from unite_mol import load

    from conftest import mol

    data = tmp_path / "c24"
    data.mkdir()
    write_csv(data / "val.csv", csv_rows(SHARED / "carbon_24/val.csv", 32))
    write_csv(data / "test.csv", csv_rows(SHARED / "carbon_24/test.csv", 8))
    done = mol("train", "dataset=carbon24", f"data.path={data}", "data.train_split=val", "data.origin=site",
               f"data.cache={tmp_path / 'cache'}", *TINY, "trainer=smoke", "trainer.max_steps=2", "trainer.eval_every=2",
               "trainer.batch_size=16", "trainer.progress=false", "eval_samples=2", "eval_molecules=4", "sampler.steps=2",
               f"run.dir={tmp_path / 'run'}")
    assert done.returncode == 0, done.stderr
    crystals = read_crystals(data / "test.csv").structures
    model = load(tmp_path / "run")
    a, b = model.reconstruct(crystals), model.reconstruct(_shifted(crystals, 1))
    assert all(np.allclose(x.positions, y.positions, atol=1e-3) and np.allclose(x.cell, y.cell, atol=1e-4) for x, y in zip(a, b))
