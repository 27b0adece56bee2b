"""`unite-mol relax`: a short force-field relaxation that corrects geometry, never elements, order or count."""
import numpy as np

from unite_mol.evaluate.edm import check_edm
from unite_mol.evaluate.scores import score_edm
from unite_mol.formats import read_structures, write_structures
from unite_mol.relax import ForceField, relax
from unite_mol.structure import Structure

from conftest import qm9_rows
from test_cli import _run


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
    done = _run("-m", "unite_mol", "relax", str(tmp_path / "in.xyz"), "--out", str(tmp_path / "out.sdf"), "--workers", "1")
    assert done.returncode == 0, done.stderr
    out = read_structures(tmp_path / "out.sdf").structures
    assert [list(s.numbers) for s in out] == [list(s.numbers) for s in rows]
    assert "molecules relaxed" in done.stdout
