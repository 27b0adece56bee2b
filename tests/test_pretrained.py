"""The shipped QM9 and Perov-5 models and `unite-mol pack`: one small file that samples without a run folder or the dataset."""
from dataclasses import replace

import pytest
import torch

import unite_mol
from unite_core.train import load_run
from unite_mol.formats import read_structures, write_structures
from unite_mol.generator import load_guide
from unite_mol.pretrained import SHIPPED, read_packed
from unite_mol.run import MolConfig, build_model, load_init

from conftest import mol, qm9_rows
from tiny_models import TINY


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pack")
    write_structures(tmp / "mols.xyz", qm9_rows(60))
    run = tmp / "run"
    done = mol("train", "dataset=files", f"data.path={tmp / 'mols.xyz'}", *TINY, "trainer=smoke",
                "trainer.max_steps=2", "trainer.batch_size=16", "trainer.progress=false", "eval_molecules=4", "eval_samples=2",
                "sampler.steps=2", f"run.dir={run}")
    assert done.returncode == 0, done.stderr
    done = mol("pack", "--ckpt", str(run), "--out", str(tmp / "model.pt"))
    assert done.returncode == 0, done.stderr
    return run, tmp / "model.pt"


def test_pack_keeps_the_ema_in_bf16_with_config_and_atom_counts(packed):
    run, path = packed
    state, cfg = load_run(run, MolConfig, "a molecule")
    p = read_packed(path)
    assert p.step == state.step and p.config_yaml == state.config_yaml
    assert p.ema.keys() == state.ema.keys()
    for k, v in state.ema.items():
        torch.testing.assert_close(p.ema[k], v.to(torch.bfloat16).to(v.dtype) if v.is_floating_point() else v, rtol=0, atol=0)
    assert p.atom_counts.sum() > 0 and p.atom_counts.argmax() > 5  # the training molecules' histogram
    assert path.stat().st_size < (run / "checkpoints").glob("*.pt").__next__().stat().st_size / 3


def test_pack_can_set_the_sampler_the_packed_model_uses(packed, tmp_path):  # without options it keeps the run's (above)
    from unite_core.flow import Solver
    from unite_core.train import load_run
    from unite_mol.pretrained import pack
    from unite_mol.run import MolConfig

    run, _ = packed
    _, cfg = load_run(run, MolConfig, "a molecule")
    pack(run, tmp_path / "sde.pt", solver=Solver.sde, steps=3, sde_noise=4.0, temperature=0.5)
    sampler = unite_mol.load(tmp_path / "sde.pt").config.sampler
    assert (sampler.solver, sampler.steps, sampler.sde_noise, sampler.temperature) == (Solver.sde, 3, 4.0, 0.5)
    assert (sampler.grid_shift, sampler.cfg_scale, sampler.guide_scale) == (cfg.sampler.grid_shift, cfg.sampler.cfg_scale, 1.0)
    done = mol("pack", "--ckpt", str(run), "--sde-noise", "-1", "--out", str(tmp_path / "bad.pt"))
    assert done.returncode == 2 and done.stderr.strip() == "unite-mol: error: sampler.sde_noise (--sde-noise) must be >= 0, got -1.0"
    assert not (tmp_path / "bad.pt").exists()
    done = mol("pack", "--ckpt", str(run), "--temperature", "0", "--out", str(tmp_path / "bad.pt"))
    assert done.returncode == 2 and done.stderr.strip() == "unite-mol: error: sampler.temperature (--temperature) must be > 0, got 0.0"
    assert not (tmp_path / "bad.pt").exists()
    done = mol("sample", "--ckpt", str(tmp_path / "sde.pt"), "--n", "2", "--out", str(tmp_path / "x.xyz"))
    assert done.returncode == 0 and "sde noise 4, 3 steps" in done.stdout and "temperature 0.5" in done.stdout, done.stdout


def test_a_packed_file_samples_like_its_run(packed, tmp_path):
    run, path = packed
    from_run, from_file = unite_mol.load(run), unite_mol.load(path)
    assert from_file.step == from_run.step and (from_file.atom_counts == from_run.atom_counts).all()
    a, b = from_run.sample(4, steps=2), from_file.sample(4, steps=2)
    assert [len(s.numbers) for s in a] == [len(s.numbers) for s in b]


def test_a_run_samples_and_packs_after_its_data_is_gone(tmp_path):
    data = tmp_path / "mols.xyz"
    write_structures(data, qm9_rows(40))
    run = tmp_path / "run"
    done = mol("train", "dataset=files", f"data.path={data}", *TINY, "trainer=smoke", "trainer.max_steps=1",
                "trainer.batch_size=16", "trainer.progress=false", "eval_molecules=4", "eval_samples=2", "sampler.steps=2", f"run.dir={run}")
    assert done.returncode == 0, done.stderr
    expected = unite_mol.load(run).atom_counts
    data.unlink()  # e.g. the run folder copied off the machine that trained it
    assert (unite_mol.load(run).atom_counts == expected).all() and expected.argmax() > 5
    done = mol("pack", "--ckpt", str(run), "--out", str(tmp_path / "model.pt"))
    assert done.returncode == 0, done.stderr
    assert read_packed(tmp_path / "model.pt").atom_counts[0, : len(expected)].tolist() == expected.tolist()


def test_raw_weights_load_from_a_run_but_not_from_a_packed_file(packed):
    run, path = packed
    ema, raw = unite_mol.load(run), unite_mol.load(run, raw=True)
    state, _ = load_run(run, MolConfig, "a molecule")
    name = next(k for k, v in state.model.items() if v.is_floating_point() and not torch.equal(v, state.ema[k]))
    torch.testing.assert_close(raw.model.state_dict()[name], state.model[name], rtol=0, atol=0)
    assert not torch.equal(raw.model.state_dict()[name], ema.model.state_dict()[name])
    with pytest.raises(ValueError, match="EMA weights only"):
        unite_mol.load(path, raw=True)
    done = mol("sample", "--ckpt", str(run), "--raw-weights", "--n", "2", "--steps", "2", "--out", str(run / "raw.xyz"))
    assert done.returncode == 0 and len(read_structures(run / "raw.xyz").structures) == 2, done.stderr


def test_init_from_starts_a_new_run_from_a_packed_models_weights(packed, tmp_path):
    run, path = packed
    _, cfg = load_run(run, MolConfig, "a molecule")
    cfg.init_from = str(path)
    model = build_model(cfg)
    assert load_init(model, cfg) == read_packed(path).step
    for k, v in read_packed(path).ema.items():
        torch.testing.assert_close(model.state_dict()[k], v, rtol=0, atol=0)
    cfg.decoder.depth += 1
    with pytest.raises(ValueError, match=r"^decoder=.* differs from init_from="):
        load_init(build_model(cfg), cfg)
    data = tmp_path / "mols.xyz"
    write_structures(data, qm9_rows(40))
    done = mol("train", "dataset=files", f"data.path={data}", *TINY, "trainer=smoke", "trainer.max_steps=1",
                "trainer.batch_size=16", "trainer.progress=false", "eval_molecules=4", "eval_samples=2", "sampler.steps=2",
                f"init_from={path}", f"run.dir={tmp_path / 'warm'}")
    assert done.returncode == 0 and "starting from its EMA weights" in done.stdout, done.stderr


def test_a_checkpoint_of_another_kind_is_still_one_line(tmp_path):
    bad = tmp_path / "model.pt"
    torch.save({"format": "something else"}, bad)
    with pytest.raises(ValueError, match="not a unite checkpoint"):
        unite_mol.load(bad)


def test_the_shipped_qm9_model_loads_and_samples_without_a_run(tmp_path):
    path = SHIPPED["qm9"]
    assert path.is_file() and path.stat().st_size <= 10 * 2**20
    gen = unite_mol.load("qm9")
    assert gen.config.data.source == "qm9" and gen.config.data.elements == ["H", "C", "N", "O", "F"]
    assert gen.guide is not None and gen.config.sampler.guide_scale == 1.0  # its packed ancestor guides on request (--guide-scale 2)
    assert (gen.config.sampler.sde_noise, gen.config.sampler.temperature) == (5.0, 0.4)
    assert (gen.config.sampler.constraint_scale, tuple(gen.config.sampler.constraint_interval)) == (3.0, (0.0, 0.7))  # even valences
    made = gen.sample(3, steps=2, seed=1)
    assert len(made) == 3 and all(0 < len(s.numbers) <= 29 for s in made)
    done = mol("sample", "--n", "4", "--steps", "2", "--out", str(tmp_path / "x.sdf"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "shipped QM9 model" in done.stderr and len(read_structures(tmp_path / "x.sdf").structures) == 4


def test_the_shipped_perov5_model_samples_valid_perovskites_without_a_run_or_the_data(tmp_path):
    from unite_mol.data.crystals import read_crystals
    from unite_mol.evaluate.crystal import check_crystal

    path = SHIPPED["perov5"]
    assert path.is_file() and path.stat().st_size <= 10 * 2**20
    gen = unite_mol.load("perov5")
    assert gen.part.periodic and gen.config.data.max_atoms == 5 and gen.guide is None
    made = gen.sample(8, seed=0)  # the packed sampler (Heun 20)
    assert all(s.is_crystal and len(s.numbers) == 5 for s in made)  # ABX3: five sites
    assert sum(check_crystal(s).valid for s in made) >= 7  # 98.5 % of its 10,000 samples are (README model card)
    assert made[0].to_pymatgen().volume > 10
    done = mol("sample", "--ckpt", "perov5", "--n", "3", "--steps", "2", "--out", str(tmp_path / "x.cif"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    read = read_crystals(tmp_path / "x.cif", check=False).structures
    assert len(read) == 3 and all(s.cell is not None for s in read)


def test_autoguidance_by_itself_changes_nothing_and_by_a_weaker_model_changes_the_samples(packed):
    run, path = packed
    plain, self_guided = unite_mol.load(run), unite_mol.load(run, guide=run)
    assert plain.guide is None and self_guided.guide is not None
    a, b = plain.sample(4, steps=2, seed=3), self_guided.sample(4, steps=2, seed=3, guide_scale=3.0)  # x̂ + 3·(x̂ − x̂) = x̂
    for s, t in zip(a, b):
        torch.testing.assert_close(torch.as_tensor(s.positions), torch.as_tensor(t.positions), rtol=1e-4, atol=1e-4)
    weak = build_model(plain.config).eval().requires_grad_(False)  # untrained: a guide of the same latent slots
    guided = replace(plain, guide=weak)
    same = guided.sample(4, steps=2, seed=3, guide_scale=1.0)
    assert all((s.positions == t.positions).all() for s, t in zip(a, same))
    moved = guided.sample(4, steps=2, seed=3, guide_scale=2.0)
    assert any(not torch.allclose(torch.as_tensor(s.positions), torch.as_tensor(t.positions)) for s, t in zip(a, moved))
    sparse = guided.sample(4, steps=2, seed=3, guide_scale=2.0, guide_every=2)  # Heun 2: the guide at evaluations 0 and 2 of 4
    assert any(not torch.allclose(torch.as_tensor(s.positions), torch.as_tensor(t.positions)) for s, t in zip(moved, sparse))
    with pytest.raises(ValueError, match=r"^guide_scale=2 needs a guide model"):
        plain.sample(2, steps=2, guide_scale=2.0)


def test_a_model_packed_with_its_guide_samples_autoguided(packed, tmp_path):
    run, path = packed
    done = mol("pack", "--ckpt", str(run), "--guide", str(path), "--guide-scale", "1.5", "--out", str(tmp_path / "g.pt"))
    assert done.returncode == 0 and "autoguided at scale 1.5" in done.stdout, done.stderr
    p = read_packed(tmp_path / "g.pt")
    assert p.guide is not None and p.guide.step == read_packed(path).step and p.guide.ema.keys() == p.ema.keys()
    assert read_packed(path).guide is None  # packed without one
    gen = unite_mol.load(tmp_path / "g.pt")
    assert gen.guide is not None and gen.config.sampler.guide_scale == 1.5
    assert load_guide(gen.config, None, tmp_path / "g.pt").guide is None  # g.pt as another model's guide: its own guide is not built
    done = mol("sample", "--ckpt", str(tmp_path / "g.pt"), "--n", "2", "--steps", "2", "--out", str(tmp_path / "x.xyz"))
    assert done.returncode == 0 and "autoguided at scale 1.5 for t in [0, 1] by the weaker model packed with it" in done.stderr, done.stderr
    done = mol("pack", "--ckpt", str(run), "--guide", str(path), "--guide-interval", "0,0.8", "--out", str(tmp_path / "i.pt"))
    assert done.returncode == 0 and "autoguided at scale 2 for t in [0, 0.8]" in done.stdout, done.stderr
    assert tuple(unite_mol.load(tmp_path / "i.pt").config.sampler.guide_interval) == (0.0, 0.8)
    done = mol("sample", "--ckpt", str(tmp_path / "i.pt"), "--guide-interval", "0.5,1", "--n", "2", "--steps", "2",
                "--out", str(tmp_path / "z.xyz"))
    assert done.returncode == 0 and "autoguided at scale 2 for t in [0.5, 1]" in done.stderr, done.stderr
    done = mol("sample", "--ckpt", str(tmp_path / "i.pt"), "--guide-interval", "0.9,0.1", "--out", str(tmp_path / "z.xyz"))
    assert done.returncode == 2 and done.stderr.strip() == "unite-mol: error: --guide-interval '0.9,0.1': want LO,HI with 0 <= LO < HI <= 1"
    done = mol("pack", "--ckpt", str(run), "--guide", str(path), "--guide-every", "3", "--out", str(tmp_path / "e.pt"))
    assert done.returncode == 0 and "run at one evaluation in 3" in done.stdout, done.stderr
    assert unite_mol.load(tmp_path / "e.pt").config.sampler.guide_every == 3
    done = mol("sample", "--ckpt", str(tmp_path / "e.pt"), "--n", "2", "--steps", "2", "--out", str(tmp_path / "e.xyz"))
    assert done.returncode == 0 and "the weaker model packed with it, run at one evaluation in 3" in done.stderr, done.stderr
    done = mol("sample", "--ckpt", str(tmp_path / "e.pt"), "--guide-every", "0", "--out", str(tmp_path / "e.xyz"))
    assert done.returncode == 2 and done.stderr.strip() == ("unite-mol: error: sampler.guide_every (--guide-every) must be a whole "
                                                            "number >= 1, got 0")
    done = mol("sample", "--ckpt", str(run), "--guide", str(path), "--n", "2", "--steps", "2", "--out", str(tmp_path / "y.xyz"))
    assert done.returncode == 2 and done.stderr.strip() == ("unite-mol: error: --guide needs --guide-scale W (the prediction is "
                                                            "weak + W·(model − weak); 2 is a good start)")


def test_a_packed_model_packs_again_with_other_sampler_settings_and_the_same_weights(packed, tmp_path):
    run, path = packed
    done = mol("pack", "--ckpt", str(run), "--guide", str(path), "--guide-scale", "1.5", "--out", str(tmp_path / "g.pt"))
    assert done.returncode == 0, done.stderr
    done = mol("pack", "--ckpt", str(tmp_path / "g.pt"), "--temperature", "0.5", "--constraint-scale", "2", "--out", str(tmp_path / "r.pt"))
    assert done.returncode == 0, done.stderr
    assert f"autoguided at scale 1.5 for t in [0, 1] by {path}" in done.stdout and "temperature 0.5" in done.stdout, done.stdout
    assert "guided toward even valence sums at 2 for t in [0, 1]" in done.stdout
    a, b = read_packed(tmp_path / "g.pt"), read_packed(tmp_path / "r.pt")
    assert (a.step, a.source) == (b.step, b.source) and torch.equal(a.atom_counts, b.atom_counts)
    assert all(torch.equal(a.ema[k], b.ema[k]) for k in a.ema) and all(torch.equal(a.guide.ema[k], b.guide.ema[k]) for k in a.guide.ema)
    sampler = unite_mol.load(tmp_path / "r.pt").config.sampler
    assert (sampler.temperature, sampler.guide_scale, sampler.constraint_scale) == (0.5, 1.5, 2.0)


def test_a_guide_packed_at_scale_one_is_off_until_asked_for(packed, tmp_path):
    run, path = packed
    done = mol("pack", "--ckpt", str(run), "--guide", str(path), "--guide-scale", "1", "--out", str(tmp_path / "g.pt"))
    assert done.returncode == 0 and "off unless sampled with --guide-scale W" in done.stdout, done.stdout
    assert "autoguided" not in done.stdout
    done = mol("sample", "--ckpt", str(tmp_path / "g.pt"), "--n", "2", "--steps", "2", "--out", str(tmp_path / "x.xyz"))
    assert done.returncode == 0 and "autoguided" not in done.stderr, done.stderr
    done = mol("sample", "--ckpt", str(tmp_path / "g.pt"), "--guide-scale", "2", "--n", "2", "--steps", "2", "--out", str(tmp_path / "y.xyz"))
    assert done.returncode == 0 and "autoguided at scale 2 for t in [0, 1] by the weaker model packed with it" in done.stderr, done.stderr


def test_a_guide_of_other_latents_is_one_line_and_a_run_cannot_train_guided(packed, tmp_path):
    run, path = packed
    data = tmp_path / "mols.xyz"
    write_structures(data, qm9_rows(40))
    common = ["dataset=files", f"data.path={data}", *TINY, "trainer=smoke", "trainer.max_steps=1", "trainer.batch_size=16",
              "trainer.progress=false", "eval_molecules=4", "eval_samples=2", "sampler.steps=2"]
    done = mol("train", *common, "objective.latent_dim=4", f"run.dir={tmp_path / 'other'}")
    assert done.returncode == 0, done.stderr
    with pytest.raises(ValueError, match=rf"^objective.latent_dim=\d+ differs from guide {tmp_path / 'other'}'s 4$"):
        unite_mol.load(run, guide=tmp_path / "other")
    done = mol("train", *common, "sampler.guide_scale=2", f"run.dir={tmp_path / 'guided'}")
    assert done.returncode == 2 and done.stderr.strip().startswith("unite-mol: error: sampler.guide_scale: autoguidance needs"), done.stderr


def test_a_file_packed_before_autoguidance_still_loads(packed, tmp_path):
    _, path = packed
    raw = torch.load(path, map_location="cpu", weights_only=True)
    del raw["guide"]  # the layout of every file packed before autoguidance existed
    torch.save(raw, tmp_path / "old.pt")
    old = unite_mol.load(tmp_path / "old.pt")
    assert old.guide is None and old.step == read_packed(path).step and len(old.sample(2, steps=2)) == 2
