"""The command line and packaging: config composition and errors, import hygiene, the installed wheel."""
import os
import subprocess
import venv
from pathlib import Path

import pytest

from conftest import REPO, run_python

HEAVY = ("rdkit", "pymatgen", "torchvision", "e3nn", "torch_geometric", "ase")


def test_print_config_composes_groups_and_overrides():
    done = run_python("-m", "unite_core.toy", "train", "model=S", "trainer=smoke", "flow.k=5", "--print-config")
    assert done.returncode == 0, done.stderr
    assert "preset: S" in done.stdout and "max_steps: 40" in done.stdout and "k: 5" in done.stdout


@pytest.mark.parametrize("override,expected", [
    ("trainer.max_stepz=3", "key 'trainer.max_stepz': Key 'max_stepz' not in 'TrainerConfig'"),
    ("sampler.solver=rk4", "key 'sampler.solver': Invalid value 'rk4', expected one of [euler, heun, adaptive, sde]"),
    ("trainer=nope", "Could not find 'trainer/nope' (options: default, gpu, smoke)"),
    ("trainer.max_steps=many", "key 'trainer.max_steps'"),
])
def test_bad_config_is_one_line(override, expected):
    done = run_python("-m", "unite_core.toy", "train", override, "--print-config")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("unite-toy: error: config: ") and expected in lines[0]


def test_a_bad_sampler_value_is_one_line():
    done = run_python("-m", "unite_core.toy", "train", "sampler.sde_noise=-1", "--print-config")
    assert done.returncode == 2
    assert done.stderr.strip() == "unite-toy: error: sampler.sde_noise (--sde-noise) must be >= 0, got -1.0"


@pytest.mark.parametrize("override,expected", [  # each was a traceback from inside the trainer, or a silent no-op
    ("trainer.batch_size=0", "trainer.batch_size must be >= 1, got 0"),  # ZeroDivisionError
    ("trainer.accum_steps=0", "trainer.accum_steps must be >= 1, got 0"),
    ("trainer.log_every=0", "trainer.log_every must be >= 1, got 0"),
    ("trainer.keep_ckpts=0", "trainer.keep_ckpts must be >= 1, got 0"),  # kept every checkpoint
    ("trainer.max_steps=0", "trainer.max_steps must be >= 1, got 0"),  # trained nothing without a word
    ("trainer.minutes=-1", "trainer.minutes must be > 0 (or null: no time budget), got -1.0"),
    ("trainer.ema_decay=1.5", "trainer.ema_decay must lie in [0, 1), got 1.5"),
    ("optim.lr=0", "optim.lr and optim.grad_clip must be > 0, got 0.0 and 3.0"),
    ("optim.warmup_steps=-1", "optim.warmup_steps must be >= 0, got -1"),
    ("optim.betas=[0.9,1.2]", "optim.betas must lie in [0, 1)"),
    ("flow.k=0", "flow.k must be >= 1, got 0"),  # torch.cat(): expected a non-empty list
    ("flow.cond_drop=2", "flow.cond_drop and flow.self_condition must lie in [0, 1]"),
])
def test_an_out_of_range_setting_is_one_line_naming_the_key(override, expected):
    from unite_core.config import compose, validate
    from unite_core.toy.run import ToyConfig

    with pytest.raises(ValueError) as err:
        validate(compose("toy", [override], ToyConfig), ToyConfig)
    assert str(err.value).startswith(expected) and "\n" not in str(err.value)


@pytest.mark.parametrize("module,tool", [("unite_core.toy", "unite-toy"), ("unite_image", "unite-image")])
def test_decoder_recipe_is_refused_in_one_line_where_no_run_can_start_from_a_model(tmp_path, module, tool):
    done = run_python("-m", module, "train", "objective.recipe=decoder", f"run.dir={tmp_path / 'run'}")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{tool}: error: objective.recipe=decoder adapts a trained model's decoder")
    assert not (tmp_path / "run").exists()


def test_missing_checkpoint_is_one_line(tmp_path):
    done = run_python("-m", "unite_core.toy", "sample", "--ckpt", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and "nowhere" in done.stderr


def test_unite_core_imports_no_modality_packages():
    code = "import sys, unite_core, unite_core.toy, unite_core.train; print(','.join(m for m in %r if m in sys.modules))" % (HEAVY,)
    done = run_python("-c", code)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


def test_unite_mol_imports_heavy_packages_lazily():
    code = "import sys, unite_mol; print(','.join(m for m in %r if m in sys.modules))" % (HEAVY,)
    done = run_python("-c", code)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


def test_toy_train_then_sample_end_to_end(tmp_path):
    run = tmp_path / "run"
    done = run_python("-m", "unite_core.toy", "train", "trainer=smoke", "trainer.max_steps=4", "trainer.eval_every=4", f"run.dir={run}", "trainer.progress=false", "eval_samples=30")
    assert done.returncode == 0, done.stderr
    for name in ("config.yaml", "train.csv", "eval.csv", "loss.png", "samples.png", "checkpoints/step-00000004.pt"):
        assert (run / name).is_file(), name
    out = tmp_path / "clouds.npz"
    done = run_python("-m", "unite_core.toy", "sample", "--ckpt", str(run), "--n", "12", "--steps", "3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.is_file() and out.with_suffix(".png").is_file() and "12 clouds" in done.stdout


def test_installed_wheel_finds_its_configs(tmp_path):
    """Build the wheel, install it (no source tree on the path) into a fresh venv, run the console script."""
    src = tmp_path / "src"
    done = subprocess.run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard"], capture_output=True, text=True)
    for rel in done.stdout.split():
        if (REPO / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes((REPO / rel).read_bytes())
    wheels = tmp_path / "wheels"
    built = run_python("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(src), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("unite-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    site = Path(run_python("-c", "import sysconfig; print(sysconfig.get_path('purelib'))", python=python).stdout.strip())
    deps = Path(run_python("-c", "import torch, pathlib; print(pathlib.Path(torch.__file__).parents[1])").stdout.strip())
    (site / "deps.pth").write_text(f"{deps}\n")  # reuse the installed dependencies, not the editable unite
    installed = run_python("-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel), python=python, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    script = env_dir / "bin" / "unite-toy"
    help_text = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert help_text.returncode == 0 and "train" in help_text.stdout
    composed = subprocess.run([str(script), "train", "model=B", "--print-config"], cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert composed.returncode == 0, composed.stderr
    assert "preset: B" in composed.stdout
    mol = env_dir / "bin" / "unite-mol"
    help_text = subprocess.run([str(mol), "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert help_text.returncode == 0 and "sample" in help_text.stdout, help_text.stderr
    composed = subprocess.run([str(mol), "train", "--print-config"], cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert composed.returncode == 0 and "source: qm9" in composed.stdout and "width: 128" in composed.stdout, composed.stderr
    image = env_dir / "bin" / "unite-image"
    composed = subprocess.run([str(image), "train", "data=imagenet", "data.path=/x", "model=B", "--print-config"],
                              cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert composed.returncode == 0 and "image_size: 256" in composed.stdout and "preset: B" in composed.stdout, composed.stderr
    packages = sorted(".".join(f.parent.relative_to(REPO).parts) for top in ("unite_core", "unite_mol", "unite_image") for f in (REPO / top).rglob("__init__.py"))
    imported = run_python("-c", f"import importlib; [importlib.import_module(m) for m in {packages!r}]", python=python, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr  # every package of the source tree is in the wheel
    where = run_python("-c", "import unite_core, unite_configs; print(unite_core.__file__, unite_configs.__file__)", python=python, cwd=tmp_path)
    assert str(REPO) not in where.stdout and str(site) in where.stdout
