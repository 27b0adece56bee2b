"""`unite-mol relax`: a short force-field relaxation that corrects geometry, never elements, order or count."""
import numpy as np

from unite_mol.data.crystals import read_crystals, write_crystals
from unite_mol.evaluate.crystal import check_crystal
from unite_mol.evaluate.edm import check_edm
from unite_mol.evaluate.scores import score_edm
from unite_mol.formats import read_structures, write_structures
from unite_mol.relax import ForceField, relax
from unite_mol.structure import Structure

from conftest import mol, qm9_rows
from crystal_cells import rock_salt, shaken_rock_salt


def _noised(rows: list[Structure], sigma: float) -> list[Structure]:
    rng = np.random.default_rng(0)
    return [Structure(s.numbers, (s.positions + sigma * rng.standard_normal(s.positions.shape)).astype(np.float32)) for s in rows]


def test_relaxation_restores_molecules_a_little_noise_broke():
    noisy = _noised(qm9_rows(60), 0.1)
    before = score_edm([check_edm(s) for s in noisy], None).molecule_stability
    done = relax(noisy, ForceField.uff, steps=200, workers=1)
    after = score_edm([check_edm(r.structure) for r in done], None).molecule_stability
    assert before < 0.2 and after > 0.6, (before, after)
    assert all(r.relaxed and 0 < r.rmsd < 1.0 for r in done)  # UFF minima sit up to ~0.5 Å RMS from DFT geometries
    assert all(np.array_equal(r.structure.numbers, s.numbers) for r, s in zip(done, noisy))


def test_relax_cli_writes_every_molecule_in_order(tmp_path):
    rows = _noised(qm9_rows(8), 0.05)
    rows.append(Structure(np.array([6, 6, 1]), np.zeros((3, 3), dtype=np.float32)))  # atoms on one point: no force field
    write_structures(tmp_path / "in.xyz", rows)
    done = mol("relax", str(tmp_path / "in.xyz"), "--out", str(tmp_path / "out.sdf"), "--workers", "1")
    assert done.returncode == 0, done.stderr
    out = read_structures(tmp_path / "out.sdf").structures
    assert [list(s.numbers) for s in out] == [list(s.numbers) for s in rows]
    assert "molecules relaxed" in done.stdout
    for flags in (["--workers", "0"], ["--steps", "-1"]):  # --workers 0 was a ZeroDivisionError traceback
        done = mol("relax", str(tmp_path / "in.xyz"), "--out", str(tmp_path / "x.sdf"), *flags)
        assert done.returncode == 2 and done.stderr.strip() == "unite-mol: error: --workers must be at least 1 and --steps at least 0"
    done = mol("evaluate", str(tmp_path / "in.xyz"), "--relax-n", "-2")  # was accepted (and meant nothing)
    assert done.returncode == 2 and "--relax-n at least 0" in done.stderr


def _squashed() -> Structure:
    """Two carbons in a 0.25 Å³ cell: no solid, and thousands of CHGNet neighbours an atom."""
    return Structure(np.array([6, 6]), np.array([[0, 0, 0], [2.5, 2.5, 0]], dtype=np.float32), np.diag([5.0, 5.0, 0.01]))


def test_crystal_relaxation_lowers_the_energy_and_skips_what_chgnet_cannot_take():
    from unite_mol.relax import relax_crystals

    done = relax_crystals([shaken_rock_salt(0), _squashed()], steps=100, workers=1)
    assert done[1] is None
    relaxed = done[0]
    assert relaxed.converged and relaxed.energy - relaxed.relaxed_energy > 0.05
    assert np.array_equal(relaxed.structure.numbers, rock_salt().numbers)
    assert not np.allclose(relaxed.structure.cell, shaken_rock_salt(0).cell)  # the cell relaxes too


def test_relax_cli_writes_every_crystal_in_order(tmp_path):
    crystals = [shaken_rock_salt(1), _squashed()]
    write_crystals(tmp_path / "in.cif", crystals, [check_crystal(s) for s in crystals])
    done = mol("relax", str(tmp_path / "in.cif"), "--out", str(tmp_path / "out.extxyz"), "--steps", "20", "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "1 of 2 crystals relaxed (CHGNet" in done.stdout
    out = read_crystals(tmp_path / "out.extxyz", check=False).structures
    assert [list(s.numbers) for s in out] == [list(s.numbers) for s in crystals]
    assert not np.allclose(out[0].positions, crystals[0].positions, atol=1e-3)
    assert np.allclose(out[1].cell, crystals[1].cell)  # written unchanged
    refused = mol("relax", str(tmp_path / "in.cif"), "--out", str(tmp_path / "x.cif"), "--forcefield", "uff")
    assert refused.returncode != 0 and "crystals are relaxed with CHGNet" in refused.stderr
