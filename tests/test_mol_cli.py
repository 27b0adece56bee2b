"""`unite-mol`: config errors are one line; train on a folder of files, then sample to SDF / XYZ."""
import pytest

from unite_mol.chem import perceive
from unite_mol.formats import read_structures, write_structures

from conftest import mol, qm9_rows
from tiny_models import TINY


@pytest.mark.parametrize("override,expected", [
    ("dataset=nope", "Could not find 'dataset/nope' (options: carbon24, crystal_files, files, mp20, perov5, qm9, qm9_heavy, qm9_perov5)"),
    ("data.pathz=x", "key 'data.pathz': Key 'pathz' not in 'MolDataConfig'"),
    ("pairing=concat", "key 'pairing': Invalid value 'concat', expected one of [sum, rope, slot]"),
])
def test_bad_mol_config_is_one_line(override, expected):
    done = mol("train", override, "--print-config")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("unite-mol: error: config: ") and expected in lines[0], done.stderr


@pytest.mark.parametrize("override,expected", [
    ("data.holdout_fraction=1.5", "data.holdout_fraction must lie in [0, 0.5) (each of val and test), got 1.5"),  # "0 samples"
    ("objective.latent_dim=0", "objective.latent_dim must be >= 1, got 0"),  # a NaN loss at step 0
    ("env.cutoff=-1", "env.cutoff and env.avg_neighbours must be > 0, got -1.0 and 10.0"),  # trained without neighbours
    ("data.max_atoms=0", "data.max_atoms must be >= 1, got 0"),
])
def test_an_out_of_range_mol_setting_is_one_line_before_any_loading(override, expected, tmp_path):
    done = mol("train", "dataset=files", f"data.path={tmp_path / 'none.xyz'}", override, "--print-config")
    assert done.returncode == 2 and done.stderr.strip() == f"unite-mol: error: {expected}"


def test_a_negative_loss_weight_is_one_line():
    done = mol("train", "recon.bonds=-1", "--print-config")
    assert done.returncode == 2 and done.stderr.strip() == "unite-mol: error: recon.bonds must be >= 0, got -1.0", done.stderr


def test_print_config_takes_the_issue_overrides():
    done = mol("train", "dataset=qm9", "model=B", "trainer.max_steps=7", "trainer.minutes=3", "flow.k=5", "run.dir=runs/x", "--print-config")
    assert done.returncode == 0, done.stderr
    for text in ("preset: B", "max_steps: 7", "minutes: 3.0", "k: 5", "dir: runs/x", "source: qm9"):
        assert text in done.stdout, text


@pytest.mark.parametrize("dataset", ["carbon24", "mp20", "perov5", "crystal_files"])
def test_every_crystal_preset_gets_as_far_as_its_data(tmp_path, dataset):
    done = mol("train", f"dataset={dataset}", f"data.path={tmp_path / 'nowhere'}", f"run.dir={tmp_path / 'r'}")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "nowhere" in done.stderr, done.stderr


def test_a_model_setting_that_does_not_fit_the_data_is_one_line_before_any_loading(tmp_path):
    done = mol("train", "dataset=qm9", "lattice=token", f"data.cache={tmp_path / 'cache'}", f"run.dir={tmp_path / 'r'}")
    assert done.returncode == 2 and done.stderr.strip() == "unite-mol: error: lattice=token is for crystals (a crystal dataset or data.crystal_files=true)"
    assert not (tmp_path / "cache").exists() and not (tmp_path / "r").exists()


def test_missing_data_and_checkpoint_are_one_line(tmp_path):
    done = mol("train", "dataset=files", f"data.path={tmp_path / 'nowhere'}", f"run.dir={tmp_path / 'r'}")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "nowhere" in done.stderr, done.stderr
    done = mol("sample", "--ckpt", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.sdf"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "nowhere" in done.stderr, done.stderr
    done = mol("sample", "--out", str(tmp_path / "x.pdb"))
    assert done.returncode == 2 and "x.pdb" in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_export_writes_the_first_molecules_of_a_split_and_refuses_a_count_below_one(tmp_path):
    for first in ("0", "-5"):  # -5 exported all but the last five
        done = mol("export", "--split", "val", "--first", first, "--out", str(tmp_path / "x.xyz"), "--cache", str(tmp_path / "c"))
        assert done.returncode == 2 and done.stderr.strip() == f"unite-mol: error: --first must be at least 1, got {first}"
    assert not (tmp_path / "c").exists()  # refused before QM9 is parsed
    done = mol("export", "--split", "val", "--first", "3", "--no-hydrogens", "--out", str(tmp_path / "v.sdf"), "--cache", str(tmp_path / "c"))
    assert done.returncode == 0 and "QM9 val: 3 molecules" in done.stdout, done.stderr
    assert all(1 not in s.numbers for s in read_structures(tmp_path / "v.sdf").structures)


def test_train_on_files_then_sample_every_format(tmp_path):
    rows = qm9_rows(200)
    write_structures(tmp_path / "data" / "qm9_head.xyz", rows[:120])
    write_structures(tmp_path / "data" / "more.sdf", rows[120:], [perceive(s) for s in rows[120:]])
    run = tmp_path / "run"
    done = mol("train", "dataset=files", f"data.path={tmp_path / 'data'}", "data.max_atoms=29", *TINY,
                "trainer=smoke", "trainer.max_steps=4", "trainer.eval_every=4", "trainer.batch_size=16", "trainer.progress=false",
                "eval_samples=6", "eval_molecules=8", "sampler.steps=3", f"run.dir={run}")
    assert done.returncode == 0, done.stderr
    for name in ("config.yaml", "train.csv", "eval.csv", "loss.png", "samples.sdf", "checkpoints/step-00000004.pt"):
        assert (run / name).is_file(), name
    assert "recon_rmsd" in (run / "eval.csv").read_text() and len(read_structures(run / "samples.sdf").structures) == 6
    for suffix in ("sdf", "xyz", "extxyz"):
        out = tmp_path / f"x.{suffix}"
        done = mol("sample", "--ckpt", str(run), "--n", "9", "--steps", "2", "--batch-size", "4", "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert "9 molecules" in done.stdout and "RDKit-sanitisable" in done.stdout
        assert len(read_structures(out).structures) == 9  # every sample written, sanitisable or not
    done = mol("sample", "--ckpt", str(run), "--n", "2", "--out", str(tmp_path / "d.xyz"))
    assert done.returncode == 0 and "heun, 3 steps, grid shift 3)" in done.stdout, done.stdout  # the run's own sampler settings
    done = mol("reconstruct", str(tmp_path / "data" / "qm9_head.xyz"), "--ckpt", str(run), "--out", str(tmp_path / "r.sdf"))
    assert done.returncode == 0 and "120 molecules encoded and decoded" in done.stdout, done.stderr
    rebuilt = read_structures(tmp_path / "r.sdf").structures
    assert [len(s.numbers) for s in rebuilt] == [len(s.numbers) for s in rows[:120]]
    done = mol("reconstruct", str(tmp_path / "data" / "qm9_head.xyz"), "--ckpt", str(run), "--out", str(tmp_path / "r.cif"))
    assert done.returncode == 2 and "r.cif: unknown structure file type" in done.stderr, done.stderr


def test_a_model_without_hydrogens_trains_samples_and_reconstructs_heavy_atoms(tmp_path):
    from unite_core.config import compose, validate
    from unite_mol.run import MolConfig

    preset = validate(compose("mol", ["dataset=qm9_heavy"], MolConfig), MolConfig).data
    assert (preset.source, preset.hydrogens, preset.elements, preset.max_atoms) == ("qm9", False, ["C", "N", "O", "F"], 9)
    rows = qm9_rows(60)
    write_structures(tmp_path / "mols.xyz", rows)
    run = tmp_path / "run"
    done = mol("train", "dataset=files", f"data.path={tmp_path / 'mols.xyz'}", "data.hydrogens=false",
                "data.elements=[C,N,O,F]", "data.max_atoms=9", *TINY, "trainer=smoke", "trainer.max_steps=2", "trainer.batch_size=16",
                "trainer.progress=false", "eval_samples=2", "eval_molecules=4", "sampler.steps=2", f"run.dir={run}")
    assert done.returncode == 0, done.stderr
    done = mol("sample", "--ckpt", str(run), "--n", "5", "--steps", "2", "--out", str(tmp_path / "x.sdf"))
    assert done.returncode == 0 and "valences filled with implicit hydrogens" in done.stdout, done.stderr
    assert all((s.numbers != 1).all() for s in read_structures(tmp_path / "x.sdf").structures)
    done = mol("reconstruct", str(tmp_path / "mols.xyz"), "--ckpt", str(run), "--out", str(tmp_path / "r.xyz"))
    assert done.returncode == 0, done.stderr
    rebuilt = read_structures(tmp_path / "r.xyz").structures
    assert [len(s.numbers) for s in rebuilt] == [int((r.numbers != 1).sum()) for r in rows]
