"""`data.frame=principal`: each molecule in one fixed frame, whatever rotation or shift it came in, handedness kept."""
import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.spatial.transform import Rotation

from unite_mol.augment import RandomRotation
from unite_mol.data import DataSource, Frame, MolDataConfig, Packed, load_data, to_frame
from unite_mol.data.frame import principal_rotations
from unite_mol.formats import read_structures, write_structures
from unite_mol.run import build_model
from unite_mol.structure import Structure

from conftest import mol, qm9_rows
from tiny_models import TINY, tiny_mol


def _moved(rows: list[Structure], seed: int) -> list[Structure]:
    """Each molecule rotated at random (proper rotations) and shifted."""
    rotations = Rotation.random(len(rows), random_state=seed).as_matrix()
    shifts = np.random.default_rng(seed).normal(0, 3, (len(rows), 3))
    return [Structure(r.numbers, (r.positions @ R.T + s).astype(np.float32)) for r, R, s in zip(rows, rotations, shifts)]


def _one_frame(rows: list[Structure], seed: int) -> list[bool]:
    """Per molecule: whether its principal frame is the same after `_moved` (not so for a symmetric one)."""
    a, b = (to_frame(Packed.from_structures(r), Frame.principal) for r in (rows, _moved(rows, seed)))
    return [np.abs(a[i].positions - b[i].positions).max() < 1e-3 for i in range(len(rows))]


def _signed_volume(p: np.ndarray) -> float:
    return float(np.linalg.det(p[1:4] - p[0]))


def test_the_principal_frame_forgets_rotation_and_shift_and_keeps_handedness():
    rows = qm9_rows(300)[5:]  # from ethane on: methane, ammonia, water ... are too symmetric to have one frame
    assert np.mean(_one_frame(rows, 0)) > 0.95  # only molecules with a symmetry (equal moments, zero skew) keep an ambiguity
    assert np.allclose(np.linalg.det(principal_rotations(Packed.from_structures(rows))), 1)
    a = to_frame(Packed.from_structures(rows), Frame.principal)
    for r, turned in zip(rows, (a[i] for i in range(len(rows)))):
        assert np.allclose(pdist(r.positions), pdist(turned.positions), atol=1e-4)
        assert np.isclose(_signed_volume(r.positions), _signed_volume(turned.positions), atol=1e-3)
        w = turned.numbers[:, None].astype(float)
        moments = (w * turned.positions).T @ turned.positions
        assert np.allclose(moments, np.diag(np.diag(moments)), atol=1e-3) and np.all(np.diff(np.diag(moments)) <= 1e-6)
        assert np.allclose(turned.positions.mean(0), 0, atol=1e-5)
    mirrored = to_frame(Packed.from_structures([Structure(r.numbers, -r.positions) for r in rows]), Frame.principal)
    assert not all(np.allclose(a[i].positions, mirrored[i].positions, atol=1e-3) for i in range(len(rows)))
    packed = Packed.from_structures(rows)
    assert to_frame(packed, Frame.random) is packed  # random: the data as loaded (centred), rotated at each step instead


def test_the_frame_reaches_the_data_and_the_model(tmp_path):
    write_structures(tmp_path / "a.xyz", _moved(qm9_rows(40), 1))
    cfg = MolDataConfig(source=DataSource.files, path=str(tmp_path), holdout_fraction=0.1, frame=Frame.principal)
    train = load_data(cfg).train
    for s in (train[i] for i in range(len(train))):
        moments = (s.numbers[:, None] * s.positions).T @ s.positions
        assert np.allclose(moments, np.diag(np.diag(moments)), atol=1e-3)
    model_cfg = tiny_mol()
    assert [type(s) for s in build_model(model_cfg).augment.steps] == [RandomRotation]
    model_cfg.data.frame = Frame.principal
    assert build_model(model_cfg).augment is None  # a fixed frame is never rotated
    model_cfg.joint = [MolDataConfig(dataset_id=1)]
    model_cfg.num_conditions = 2
    with pytest.raises(ValueError, match=r"data.frame / joint\[\*\].frame must agree"):
        build_model(model_cfg)
    with pytest.raises(ValueError, match="data.frame=principal is for molecules"):
        load_data(MolDataConfig(source=DataSource.crystals, path=str(tmp_path), frame=Frame.principal))


def test_a_principal_frame_model_reconstructs_a_molecule_the_same_however_it_is_turned(tmp_path):
    rows = qm9_rows(60)[5:]
    write_structures(tmp_path / "mols.xyz", rows)
    write_structures(tmp_path / "moved.xyz", _moved(rows, 2))
    run = tmp_path / "run"
    done = mol("train", "dataset=files", f"data.path={tmp_path / 'mols.xyz'}", "data.frame=principal", *TINY,
                "trainer=smoke", "trainer.max_steps=2", "trainer.batch_size=16", "trainer.progress=false", "eval_samples=2",
                "eval_molecules=4", "sampler.steps=2", f"run.dir={run}")
    assert done.returncode == 0, done.stderr
    for name in ("mols", "moved"):
        done = mol("reconstruct", str(tmp_path / f"{name}.xyz"), "--ckpt", str(run), "--out", str(tmp_path / f"r_{name}.xyz"))
        assert done.returncode == 0, done.stderr
    unique = _one_frame(rows, 2)
    a, b = (read_structures(tmp_path / f"r_{name}.xyz").structures for name in ("mols", "moved"))
    apart = [np.abs(x.positions - y.positions).max() for x, y, u in zip(a, b, unique) if u]  # Å, molecules with one frame
    # the same input up to float rounding (1e-6 Å); a 2-step model amplifies that into a visible change for a few
    assert np.mean(unique) > 0.8 and np.median(apart) < 1e-3 and np.mean(np.array(apart) < 0.01) > 0.75
