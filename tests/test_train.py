"""The fit loop: exact resume, atomic checkpoints, step-indexed batches, schedules, EMA, failures."""
import math

import pytest
import torch

from unite_core.io import atomic_path
from unite_core.rng import BatchRandom
from unite_core.toy.data import ToyShapes, collate
from unite_core.toy.run import build_model, train
from unite_core.train import NonFiniteLoss, OptimConfig, Precision, list_checkpoints, load_checkpoint
from unite_core.train.batches import StepBatches
from unite_core.train.checkpoint import save_checkpoint
from unite_core.train.ema import EMA
from unite_core.train.logger import CsvLog
from unite_core.train.muon import Muon, orthogonalised
from unite_core.train.optim import build_optimizers, warmup_cosine

from conftest import tiny_toy


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _flatten(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _flatten(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _flatten(v)


def test_resume_is_bit_exact(tmp_path):
    """Interrupt at step k (only the step-k checkpoint survives), resume: step 2k equals the straight run."""
    k = 3
    straight = tiny_toy(tmp_path / "straight", max_steps=2 * k, ckpt_every=k, accum_steps=2)
    train(straight)
    reference = load_checkpoint(tmp_path / "straight")
    assert reference.step == 2 * k

    interrupted = tiny_toy(tmp_path / "interrupted", max_steps=2 * k, ckpt_every=k, accum_steps=2)
    train(interrupted)
    list_checkpoints(tmp_path / "interrupted")[-1].unlink()  # the crash: step 2k was never written
    assert load_checkpoint(tmp_path / "interrupted").step == k
    train(interrupted)
    resumed = load_checkpoint(tmp_path / "interrupted")
    assert resumed.step == 2 * k
    assert _states_equal(resumed.model, reference.model)
    assert _states_equal(resumed.ema, reference.ema)
    assert all(torch.equal(a, b) for a, b in zip(_flatten(resumed.optimizers), _flatten(reference.optimizers)))
    logged = [CsvLog(tmp_path / run / "train.csv", resume_step=2 * k).rows for run in ("straight", "interrupted")]
    for rows in logged:
        for row in rows:
            row.pop("samples_per_s")  # wall-clock
    assert logged[0] == logged[1] and [r["step"] for r in logged[1]] == list(range(1, 2 * k + 1))


def test_checkpoint_holds_everything_and_keeps_the_newest(tmp_path):
    cfg = tiny_toy(tmp_path, max_steps=6, ckpt_every=1, keep_ckpts=2)
    train(cfg)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["step-00000005.pt", "step-00000006.pt"]
    state = load_checkpoint(tmp_path / "checkpoints" / names[-1])
    assert state.step == 6 and "trainer:" in state.config_yaml and state.rng_cpu.dtype == torch.uint8
    assert len(state.optimizers) == len(state.schedulers) == 1
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    for name in ("train.csv", "config.yaml", "loss.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    cfg = tiny_toy(tmp_path, max_steps=2, ckpt_every=2)
    train(cfg)
    state = load_checkpoint(tmp_path)
    before = (tmp_path / "checkpoints" / "step-00000002.pt").read_bytes()

    def torn_save(obj, path):
        open(path, "wb").write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, state, keep=3)
    assert (tmp_path / "checkpoints" / "step-00000002.pt").read_bytes() == before
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000002.pt"]


def test_unreadable_or_missing_checkpoints_are_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoints"):
        load_checkpoint(tmp_path)
    bad = tmp_path / "checkpoints" / "step-00000001.pt"
    bad.parent.mkdir()
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="step-00000001.pt: not a readable unite checkpoint") as err:
        load_checkpoint(tmp_path)
    assert "\n" not in str(err.value)


def test_existing_run_is_not_overwritten_without_resume(tmp_path):
    cfg = tiny_toy(tmp_path, max_steps=1, ckpt_every=1)
    train(cfg)
    cfg.run.resume = False
    with pytest.raises(FileExistsError, match="run.resume"):
        train(cfg)


def test_resume_refuses_a_changed_config(tmp_path):
    cfg = tiny_toy(tmp_path, max_steps=1, ckpt_every=1)
    train(cfg)
    cfg.trainer.max_steps, cfg.trainer.log_every = 2, 2  # stopping and logging may change on resume
    train(cfg)
    cfg.trainer.max_steps, cfg.optim.lr = 3, 0.5
    with pytest.raises(ValueError, match=r"other settings \(optim.lr\)"):
        train(cfg)


def test_a_run_from_before_a_config_key_existed_resumes_at_its_default(tmp_path):
    cfg = tiny_toy(tmp_path, max_steps=1, ckpt_every=1)
    train(cfg)
    state = load_checkpoint(tmp_path)
    state.config_yaml = state.config_yaml.replace("  ema_decay: 0.9978\n", "")  # as an older version wrote it
    assert "ema_decay" not in state.config_yaml
    save_checkpoint(tmp_path, state, keep=3)
    cfg.trainer.max_steps = 2
    train(cfg)
    assert load_checkpoint(tmp_path).step == 2
    state = load_checkpoint(tmp_path)
    state.config_yaml = state.config_yaml.replace("  ema_decay: 0.9978\n", "")
    save_checkpoint(tmp_path, state, keep=3)
    cfg.trainer.max_steps, cfg.trainer.ema_decay = 3, 0.5  # not the default: the older run did not train so
    with pytest.raises(ValueError, match=r"other settings \(trainer.ema_decay\)"):
        train(cfg)


def test_non_finite_loss_stops_with_the_newest_checkpoint_named(tmp_path):
    cfg = tiny_toy(tmp_path, max_steps=4, ckpt_every=1)
    cfg.objective.recon_weight = math.inf
    with pytest.raises(NonFiniteLoss, match="step 0: loss is not finite.*none"):
        train(cfg)


def test_bf16_autocast_trains(tmp_path):
    cfg = tiny_toy(tmp_path, max_steps=2, precision=Precision.bf16)
    train(cfg)
    assert torch.isfinite(torch.cat([p.flatten() for p in load_checkpoint(tmp_path).model.values()])).all()


def test_step_batches_shard_and_resume():
    single = iter(StepBatches(dataset_size=50, micro_batch=8, rank=0, world=1, seed=3, start=0))
    steps = [next(single) for _ in range(14)]  # crosses the 6-batch epoch boundary twice
    assert all(len(set(s)) == 8 for s in steps)
    assert sorted(sum(steps[:6], [])) == sorted(set(sum(steps[:6], [])))  # no repeats within an epoch
    assert steps[:6] != steps[6:12]  # a fresh permutation each epoch
    shards = [iter(StepBatches(50, 8, rank, 2, 3, 0)) for rank in range(2)]
    for expected in steps[:7]:
        assert next(shards[0]) + next(shards[1]) == expected
    resumed = iter(StepBatches(50, 8, 0, 1, 3, start=9))
    assert [next(resumed) for _ in range(5)] == steps[9:14]
    with pytest.raises(ValueError, match="split"):
        StepBatches(50, 7, 0, 2, 3, 0)
    with pytest.raises(ValueError, match=r"^dataset has 5 samples, fewer than one micro-batch \(8\): lower trainer.batch_size"):
        StepBatches(5, 8, 0, 1, 3, 0)


def test_size_window_batches_similar_sizes_and_keeps_every_sample_once_per_epoch():
    sizes = torch.randint(3, 30, (200,), generator=torch.Generator().manual_seed(0))
    plain = StepBatches(200, 16, 0, 1, 3, 0)
    sorted_ = StepBatches(200, 16, 0, 1, 3, 0, sizes, window=4)
    order = sorted_.epoch_order(0)
    assert sorted(order.flatten().tolist()) == sorted(plain.epoch_order(0).flatten().tolist())  # same samples, once each
    spread = lambda o: (sizes[o].max(1).values - sizes[o].min(1).values).float().mean()  # noqa: E731
    assert spread(order) < 0.4 * spread(plain.epoch_order(0))
    assert not torch.equal(sizes[order].max(1).values, sizes[order].max(1).values.sort().values)  # batches shuffled, not ascending
    steps = [b for _, b in zip(range(30), sorted_)]
    resumed = iter(StepBatches(200, 16, 0, 1, 3, 17, sizes, window=4))
    assert [next(resumed) for _ in range(13)] == steps[17:30]
    shards = [iter(StepBatches(200, 16, rank, 2, 3, 0, sizes, window=4)) for rank in range(2)]
    assert all(next(shards[0]) + next(shards[1]) == expected for expected in steps[:14])
    with pytest.raises(ValueError, match="size of every sample"):
        StepBatches(200, 16, 0, 1, 3, 0, None, window=4)


def test_groups_keep_each_micro_batch_in_one_group_and_resume_exactly():
    groups = torch.cat([torch.zeros(100, dtype=torch.long), torch.ones(37, dtype=torch.long)])  # 100 + 37 samples
    sizes = torch.randint(3, 30, (137,), generator=torch.Generator().manual_seed(0))
    batches = StepBatches(137, 8, 0, 1, 3, 0, sizes, window=2, groups=groups)
    assert batches.per_epoch == 100 // 8 + 37 // 8
    order = batches.epoch_order(0)
    assert all(len(set(groups[row].tolist())) == 1 for row in order)  # one group per micro-batch
    assert len(set(order.flatten().tolist())) == order.numel()  # no sample twice in an epoch
    assert set(groups[order[:, 0]].tolist()) == {0, 1} and not torch.equal(groups[order[:, 0]], groups[order[:, 0]].sort().values)
    steps = [b for _, b in zip(range(40), batches)]  # past the end of epoch 0
    resumed = iter(StepBatches(137, 8, 0, 1, 3, 21, sizes, window=2, groups=groups))
    assert [next(resumed) for _ in range(19)] == steps[21:]
    with pytest.raises(ValueError, match="no group"):
        StepBatches(20, 16, 0, 1, 3, 0, groups=torch.arange(20) % 2)


def test_batch_random_rows_match_the_global_draw():
    whole = BatchRandom.for_step(5, 7, 1, slice(0, 6), 6, torch.device("cpu"))
    halves = [BatchRandom.for_step(5, 7, 1, rows, 6, torch.device("cpu")) for rows in (slice(0, 3), slice(3, 6))]
    full = (whole.randn(4, 2), whole.rand())
    parts = [(h.randn(4, 2), h.rand()) for h in halves]
    torch.testing.assert_close(torch.cat([p[0] for p in parts]), full[0], rtol=0, atol=0)
    torch.testing.assert_close(torch.cat([p[1] for p in parts]), full[1], rtol=0, atol=0)
    other = BatchRandom.for_step(5, 8, 1, slice(0, 6), 6, torch.device("cpu")).randn(4, 2)
    assert not torch.equal(other, full[0])


def test_warmup_cosine_schedule():
    values = [warmup_cosine(s, warmup=10, total=110, min_ratio=0.1) for s in range(111)]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)
    assert values[10] == pytest.approx(1.0) and values[60] == pytest.approx(0.55) and values[110] == pytest.approx(0.1)
    assert all(b <= a + 1e-12 for a, b in zip(values[10:], values[11:]))


def test_ema_tracks_the_weights():
    model = torch.nn.Linear(3, 2)
    ema = EMA(model, decay=0.9)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model, 1)
    torch.testing.assert_close(ema.module.weight, start + 0.1)
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_ema_warmup_forgets_the_initial_weights_of_a_short_run():
    model = torch.nn.Linear(3, 2)
    plain, warm = EMA(model, decay=0.999), EMA(model, decay=0.999, warmup=True)
    with torch.no_grad():
        model.weight.add_(1.0)  # the trained weights, 1 away from the initial ones, for 600 steps
    for n in range(1, 601):
        plain.update(model, n)
        warm.update(model, n)
    left = lambda ema: float((model.weight - ema.module.weight).detach().mean())  # noqa: E731  share still on the initial weights
    assert left(plain) == pytest.approx(0.999**600, rel=1e-3) and left(warm) < 1e-6
    assert warm.decay_at(1) == pytest.approx(2 / 11) and warm.decay_at(20_000) == 0.999 and plain.decay_at(1) == 0.999


def test_muon_takes_the_block_matrices(tmp_path):
    cfg = tiny_toy(tmp_path)
    cfg.optim.muon = True
    model = build_model(cfg)
    muon, adamw = build_optimizers(model, cfg.optim)
    muon_ids = {id(p) for g in muon.param_groups for p in g["params"]}
    assert id(model.ge.blocks[0].attn.qkv.weight) in muon_ids
    assert id(model.ge.blocks[0].attn.qkv.bias) not in muon_ids and id(model.ge.latent_in.weight) not in muon_ids
    assert len(muon_ids) + sum(len(g["params"]) for g in adamw.param_groups) == len(list(model.parameters()))
    batch = collate([ToyShapes(cfg.data)[i] for i in range(8)])
    model(batch, BatchRandom.for_step(0, 0, 0, slice(0, 8), 8, torch.device("cpu"))).total.backward()
    muon.step()
    adamw.step()


def test_newton_schulz_keeps_the_singular_vectors_and_pushes_the_values_towards_one():
    u, _ = torch.linalg.qr(torch.randn(48, 48, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(96, 48, dtype=torch.float64))
    s = torch.linspace(0.05, 5.0, 48, dtype=torch.float64)
    for update in (u @ torch.diag(s) @ v.T, v @ torch.diag(s) @ u.T):  # wide (48, 96) and tall (96, 48)
        out = orthogonalised(update.float(), 5, torch.float32).double()
        inner = u.T @ out @ v if out.shape[0] == 48 else v.T @ out @ u  # (48, 48): diagonal if the vectors are kept
        assert (inner - torch.diag(inner.diagonal())).abs().max() < 1e-4
        assert inner.diagonal().min() > 0.5 and inner.diagonal().max() < 1.2


@pytest.mark.skipif(not hasattr(torch.optim, "Muon"), reason="this torch has no torch.optim.Muon")
def test_muon_steps_as_torch_muon_and_loads_its_state():
    ours, theirs = (torch.nn.Parameter(torch.randn(32, 96, generator=torch.Generator().manual_seed(0))) for _ in range(2))
    mine = Muon([ours], lr=1e-2, weight_decay=0.1)
    ref = torch.optim.Muon([theirs], lr=1e-2, weight_decay=0.1, adjust_lr_fn="match_rms_adamw")
    for _ in range(3):
        start = ours.detach().clone()
        ours.grad = torch.randn(32, 96)
        theirs.grad = ours.grad.clone()
        mine.step()
        ref.step()
        assert (ours - theirs).norm() < 0.03 * (ours - start).norm()  # theirs runs the iteration in bf16
    loaded = Muon([torch.nn.Parameter(theirs.detach().clone())], lr=1.0)
    loaded.load_state_dict(ref.state_dict())
    assert loaded.param_groups[0]["lr"] == 1e-2 and torch.equal(next(iter(loaded.state.values()))["momentum_buffer"],
                                                                 next(iter(ref.state.values()))["momentum_buffer"])


def test_the_condition_table_learns_at_its_own_rate_and_otherwise_in_the_one_group_checkpoints_hold(tmp_path):
    cfg = tiny_toy(tmp_path)
    model = build_model(cfg)
    (plain,) = build_optimizers(model, cfg.optim)
    assert len(plain.param_groups) == 1 and len(plain.param_groups[0]["params"]) == len(list(model.parameters()))
    cfg.optim.cond_lr_scale = 10.0
    (fast,) = build_optimizers(model, cfg.optim)
    rest, table = fast.param_groups
    assert table["params"] == [model.ge.c_embed.table.weight] and table["lr"] == pytest.approx(10 * rest["lr"])
    assert len(rest["params"]) == len(list(model.parameters())) - 1
    with pytest.raises(ValueError, match=r"^optim.cond_lr_scale must be > 0, got 0$"):
        OptimConfig(cond_lr_scale=0)


def test_eval_at_start_evaluates_the_starting_weights_once_even_when_restarted(tmp_path):
    cfg = tiny_toy(tmp_path, max_steps=2, eval_every=2, eval_at_start=True)
    cfg.eval_samples, cfg.sampler.steps = 12, 2
    train(cfg)
    assert [r["step"] for r in CsvLog(tmp_path / "eval.csv", resume_step=2).rows] == [0, 2]
    for ckpt in list_checkpoints(tmp_path):
        ckpt.unlink()  # a crash before the first checkpoint: the re-run starts again at step 0
    train(cfg)
    assert [r["step"] for r in CsvLog(tmp_path / "eval.csv", resume_step=2).rows] == [0, 2]


def test_csv_log_drops_rows_after_the_resumed_step_and_a_torn_line(tmp_path):
    log = CsvLog(tmp_path / "m.csv", resume_step=0)
    for step in range(1, 5):
        log.append(step, {"loss": 1.0 / step})
    log.append(5, {"loss": 0.2, "extra": 1.0})
    with (tmp_path / "m.csv").open("a") as f:
        f.write("6,0.1,zz")
    resumed = CsvLog(tmp_path / "m.csv", resume_step=3)
    assert [r["step"] for r in resumed.rows] == [1.0, 2.0, 3.0]
    resumed.append(4, {"loss": 0.25})
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert lines[0] == "step,loss" and lines[-1] == "4.0,0.25" and len(lines) == 5


def test_atomic_path_renames_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("second, torn")
            raise RuntimeError("crash")
    assert target.read_text() == "first" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
