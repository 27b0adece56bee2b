"""The equal-compute baselines: staged (tokenizer, then a flow on its frozen latents) and direct (no tokenizer); and
decoder adaptation (the decoder alone, on the GE's own denoised latents)."""
import pytest
import torch

from unite_core.adapt import AdaptConfig, denoised
from unite_core.flow import SamplerConfig, linear_path
from unite_core.model import Recipe
from unite_core.train import load_run
from unite_core.train.logger import CsvLog
from unite_mol.batch import collate
from unite_mol.formats import write_structures
from unite_mol.data import DataSource, MolDataConfig, load_data
from unite_mol.run import MolConfig, MolEvaluator, build_model, load_stage_one
from unite_mol.sampling import Kind, generate_structures

from conftest import mol, qm9_rows
from tiny_models import TINY, VOCAB, step_random, tiny_mol


@pytest.fixture(scope="module")
def batch():
    return collate(qm9_rows(40)[20:28], VOCAB)


def recipe_model(recipe: Recipe):
    cfg = tiny_mol()
    cfg.objective.recipe = recipe
    return cfg, build_model(cfg)


def _grads(model) -> dict[str, bool]:
    """Per top-level module: did any of its parameters get a non-zero gradient?"""
    out: dict[str, bool] = {}
    for name, p in model.named_parameters():
        top = name.split(".")[0]
        out[top] = out.get(top, False) or (p.grad is not None and bool(p.grad.abs().sum() > 0))
    return out


def _unzero(model) -> None:
    for p in model.parameters():  # leave the zero-init regime so every path carries gradient
        if torch.all(p == 0):
            torch.nn.init.normal_(p, std=0.05)


def test_direct_latents_are_elements_and_scaled_positions_and_decode_exactly(batch):
    cfg, model = recipe_model(Recipe.direct)
    z = model.latents(batch, step_random(len(batch))).z
    assert z.shape == (*batch.types.shape, len(VOCAB) + 3)  # (B, N, T + 3)
    real = batch.mask
    assert torch.equal(z[..., : len(VOCAB)][real].argmax(-1), batch.types[real])
    torch.testing.assert_close(z[..., len(VOCAB) :] * cfg.direct.position_scale, batch.positions)
    out = model.reconstruct(batch, torch.Generator().manual_seed(0))
    assert torch.equal(out.types()[real], batch.types[real])
    torch.testing.assert_close(out.positions, batch.positions)


def test_direct_trains_only_the_flow_and_samples(batch):
    _, model = recipe_model(Recipe.direct)
    assert model.tokenizer is None and model.ge.observation_in is None
    _unzero(model)
    losses = model(batch, step_random(len(batch)))
    assert losses.recon == 0 and losses.flow > 0
    losses.total.backward()
    assert _grads(model)["ge"]
    counts = torch.tensor([4, 7])
    made = generate_structures(model.eval(), counts, Kind(0, False), SamplerConfig(steps=2), VOCAB, torch.Generator().manual_seed(0))
    assert [len(s.numbers) for s in made] == [4, 7]


def test_direct_needs_a_latent_width_of_elements_plus_three():
    cfg = tiny_mol()
    cfg.objective.recipe, cfg.objective.latent_dim = Recipe.direct, 16
    with pytest.raises(ValueError, match="latent_dim must be 8"):
        build_model(cfg)


def test_tokenizer_stage_trains_the_autoencoder_without_a_flow_term(batch):
    _, model = recipe_model(Recipe.tokenizer)
    _unzero(model)
    calls = []
    model.ge.register_forward_hook(lambda *_: calls.append(1))
    losses = model(batch, step_random(len(batch)))
    assert len(calls) == 1 and losses.flow == 0 and losses.recon > 0  # the tokenize pass only
    losses.total.backward()
    grads = _grads(model)
    assert grads["ge"] and grads["tokenizer"] and grads["decoder"]


def test_latent_flow_freezes_the_stage_one_tokenizer_and_trains_a_fresh_ge(batch):
    _, stage_one = recipe_model(Recipe.tokenizer)
    _unzero(stage_one)
    _, model = recipe_model(Recipe.latent_flow)
    model.load_tokenizer(stage_one.state_dict())
    torch.testing.assert_close(model.encoder_ge.state_dict(), stage_one.ge.state_dict())
    assert not torch.equal(model.ge.blocks[0].attn.qkv.weight, stage_one.ge.blocks[0].attn.qkv.weight)
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    torch.testing.assert_close(model.reconstruct(batch, gen()).positions, stage_one.reconstruct(batch, gen()).positions)
    _unzero(model.ge)
    losses = model(batch, step_random(len(batch)))
    assert losses.recon == 0 and losses.flow > 0
    losses.total.backward()
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"ge"} and _grads(model)["ge"]


def _train_args(tmp_path) -> list[str]:
    """`unite-mol train` on 60 QM9 molecules written to tmp_path, the tiny model, two steps."""
    write_structures(tmp_path / "one.xyz", qm9_rows(60))
    return ["train", "dataset=files", f"data.path={tmp_path / 'one.xyz'}", *TINY, "trainer=smoke", "trainer.max_steps=2",
            "trainer.eval_every=2", "trainer.batch_size=16", "trainer.progress=false", "eval_molecules=4", "eval_samples=3",
            "sampler.steps=2"]


def test_staged_runs_through_the_cli_and_checks_its_stage_one(tmp_path):
    common = _train_args(tmp_path)
    one, two = tmp_path / "stage_one", tmp_path / "stage_two"
    done = mol(*common, "objective.recipe=tokenizer", f"run.dir={one}")
    assert done.returncode == 0, done.stderr
    assert "samples.sdf" not in done.stdout and "recon_rmsd" in (one / "eval.csv").read_text()  # nothing to sample yet
    done = mol(*common, "objective.recipe=latent_flow", f"run.dir={two}")
    assert done.returncode == 2 and "needs tokenizer_run" in done.stderr
    done = mol(*common, "objective.recipe=latent_flow", f"tokenizer_run={one}", f"run.dir={two}")
    assert done.returncode == 0, done.stderr
    done = mol("sample", "--ckpt", str(two), "--n", "5", "--steps", "2", "--out", str(tmp_path / "x.sdf"))
    assert done.returncode == 0, done.stderr

    state, cfg = load_run(two, MolConfig, "a molecule")
    stage_one = load_run(one, MolConfig, "a molecule")[0].ema
    model = build_model(cfg)
    model.load_state_dict(state.ema)
    frozen = {k: v for k, v in stage_one.items() if k.startswith(("tokenizer.", "decoder.", "latent_norm."))}
    assert all(torch.equal(model.state_dict()[k], v) for k, v in frozen.items())  # stage 2 left stage 1 untouched
    cfg.objective.latent_dim = 4
    with pytest.raises(ValueError, match="objective.latent_dim=4 differs from tokenizer_run"):
        load_stage_one(build_model(cfg), cfg)


def test_denoised_follows_the_linear_path_back_to_the_true_latent():
    g = torch.Generator().manual_seed(0)
    z, noise = torch.randn(3, 5, 4, generator=g), torch.randn(3, 5, 4, generator=g)  # (B, L, C)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] * 4 + [False]])
    z, noise = z * mask[..., None], noise * mask[..., None]
    t0 = torch.tensor([0.2, 0.4, 0.6])
    seen = []

    def oracle(x, t):  # the exact clean latent, and a record of where on the path each call is
        seen.append(t)
        torch.testing.assert_close(x, linear_path(z, noise, t, mask).x_t)
        return z

    torch.testing.assert_close(denoised(oracle, z, noise, t0, mask, 4, t_clamp=0.05), z)
    torch.testing.assert_close(torch.stack(seen), t0 + torch.arange(4)[:, None] * (1 - t0) / 4)


def test_adapt_config_rejects_a_start_at_the_data():
    with pytest.raises(ValueError, match="t_max < 1"):
        AdaptConfig(t_min=0.5, t_max=1.0)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        AdaptConfig(steps=0)


def test_decoder_recipe_trains_only_the_decoder_on_denoised_latents(batch):
    cfg, model = recipe_model(Recipe.decoder)
    cfg.objective.adapt.prob = 1.0  # every row denoised: one tokenize call, then adapt.steps denoise calls
    _unzero(model)
    calls = []
    model.ge.register_forward_hook(lambda *_: calls.append(1))
    losses = model(batch, step_random(len(batch)))
    assert len(calls) == 1 + cfg.objective.adapt.steps and losses.flow == 0 and losses.recon > 0
    losses.total.backward()
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"decoder"} and _grads(model)["decoder"]


def test_decoder_recipe_needs_a_trained_model_and_leaves_its_ge_untouched(tmp_path):
    common = _train_args(tmp_path)
    joint, adapted = tmp_path / "joint", tmp_path / "adapted"
    done = mol(*common, "objective.recipe=decoder", f"run.dir={adapted}")
    assert done.returncode == 2 and "give init_from=MODEL" in done.stderr
    assert mol(*common, f"run.dir={joint}").returncode == 0
    done = mol(*common, "recipe=decoder", f"init_from={joint}", f"run.dir={adapted}")  # the preset: recipe and schedule
    assert done.returncode == 0, done.stderr
    state, config = load_run(adapted, MolConfig, "a molecule")
    assert config.objective.recipe is Recipe.decoder and config.optim.min_lr_ratio == 1.0 and not config.trainer.ema_warmup
    evaluated = [row["step"] for row in CsvLog(adapted / "eval.csv", resume_step=2).rows]
    assert evaluated == [0, 2]  # the starting decoder first: the baseline of the adaptation's curve
    before, after = load_run(joint, MolConfig, "a molecule")[0].ema, state.ema
    assert all(torch.equal(after[k], v) for k, v in before.items() if not k.startswith("decoder."))
    assert any(not torch.equal(after[k], v) for k, v in before.items() if k.startswith("decoder."))


@pytest.mark.parametrize("recipe", [Recipe.decoder, Recipe.joint])
def test_a_decoder_adaptation_evaluates_its_checkpoints_on_latents_sampled_once(tmp_path, recipe):
    write_structures(tmp_path / "one.xyz", qm9_rows(30))
    cfg, model = recipe_model(recipe)
    cfg.data = MolDataConfig(source=DataSource.files, path=str(tmp_path / "one.xyz"))
    cfg.sampler, cfg.eval_samples, cfg.eval_molecules = SamplerConfig(steps=2), 6, 0
    evaluator = MolEvaluator(cfg, [(cfg.data, load_data(cfg.data))], tmp_path)
    calls = []
    model.ge.register_forward_hook(lambda *_: calls.append(1))
    first = evaluator(model.eval(), 100)
    assert {"sample_edm_atom_stable", "sample_edm_molecule_stable", "sample_edm_valid"} <= first.keys()
    drawn = len(calls)
    evaluator(model, 200)
    if recipe is Recipe.decoder:  # the frozen GE's latents are reused: no GE call at the second evaluation
        assert drawn == 2 * cfg.sampler.steps and len(calls) == drawn  # Heun: two GE calls a step, once
        z, mask, counts = evaluator.latents[0]
        assert z.shape[0] == len(counts) == cfg.eval_samples
    else:  # fresh atom counts and latents at every step
        assert len(calls) == 2 * drawn and not evaluator.latents
