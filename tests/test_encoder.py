"""The Generative Encoder: shapes, masks, zero-init, in-context tokens, RoPE and presets."""
import pytest
import torch

from unite_core.nn import GEConfig, GenerativeEncoder, ModelConfig, compile_blocks, presets
from unite_core.nn.rope import apply_rope, rope_tables


def _ge(**overrides) -> GenerativeEncoder:
    cfg = GEConfig(**{"depth": 3, "width": 32, "heads": 2, "in_context_len": 2, "in_context_start": 1, **overrides})
    ge = GenerativeEncoder(cfg, latent_dim=4, max_latents=8, num_classes=3, observation_dim=6)
    for name, p in ge.named_parameters():  # leave the zero-init regime so every path carries signal
        if p.dim() == 2 and torch.all(p == 0):
            torch.nn.init.normal_(p, std=0.05)
    return ge.eval()


def _inputs(B=3, L=6, N=5):
    latents = torch.randn(B, L, 4)
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4], dtype=torch.bool)[:B, :L]
    obs = torch.randn(B, N, 6)
    obs_mask = torch.tensor([[1] * 5, [1] * 3 + [0] * 2, [1] + [0] * 4], dtype=torch.bool)[:B, :N]
    return latents, torch.rand(B), torch.tensor([0, 1, 2])[:B], torch.zeros(B, dtype=torch.bool), mask, obs, obs_mask


def test_fresh_blocks_start_as_identity_on_the_residual():
    ge = GenerativeEncoder(presets()["tiny"], 4, 8, 3, 6)
    assert all(torch.all(block.ada[-1].weight == 0) for block in ge.blocks)
    latents, t, cond, drop, mask, obs, obs_mask = _inputs()
    assert ge(latents, t, cond, drop, mask).abs().sum() > 0  # but the output is not degenerate


@pytest.mark.parametrize("with_observation", [False, True])
def test_padded_tokens_neither_leak_nor_change(with_observation):
    ge = _ge()
    latents, t, cond, drop, mask, obs, obs_mask = _inputs()
    kwargs = dict(observation=obs, observation_mask=obs_mask) if with_observation else {}
    out = ge(latents, t, cond, drop, mask, **kwargs)
    assert out.shape == (3, 6, 4)
    assert torch.all(out[~mask] == 0)
    latents2, obs2 = latents.clone(), obs.clone()
    latents2[~mask] = 50.0
    obs2[~obs_mask] = -50.0
    kwargs2 = dict(observation=obs2, observation_mask=obs_mask) if with_observation else {}
    torch.testing.assert_close(ge(latents2, t, cond, drop, mask, **kwargs2), out, atol=1e-5, rtol=1e-5)


def test_observation_condition_and_time_all_matter():
    ge = _ge()
    latents, t, cond, drop, mask, obs, obs_mask = _inputs()
    base = ge(latents, t, cond, drop, mask, obs, obs_mask)
    assert not torch.allclose(base, ge(latents, t, cond, drop, mask))
    assert not torch.allclose(base, ge(latents, t, (cond + 1) % 3, drop, mask, obs, obs_mask))
    assert not torch.allclose(base, ge(latents, t, cond, ~drop, mask, obs, obs_mask))
    assert not torch.allclose(base, ge(latents, t * 0.5, cond, drop, mask, obs, obs_mask))


def test_dropped_condition_ignores_the_class():
    ge = _ge()
    latents, t, cond, drop, mask, *_ = _inputs()
    dropped = torch.ones_like(drop)
    torch.testing.assert_close(ge(latents, t, cond, dropped, mask), ge(latents, t, (cond + 1) % 3, dropped, mask))


def test_too_many_latents_is_a_clear_error():
    ge = _ge()
    with pytest.raises(ValueError, match="max_latents"):
        ge(torch.randn(1, 9, 4), torch.rand(1), torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.bool), torch.ones(1, 9, dtype=torch.bool))


def test_rope_scores_depend_only_on_relative_position():
    q, k = torch.randn(2, 1, 1, 1, 8)
    def score(pq, pk):
        cq, sq = rope_tables(torch.tensor([[pq]]), 8)
        ck, sk = rope_tables(torch.tensor([[pk]]), 8)
        return (apply_rope(q, cq, sq) * apply_rope(k, ck, sk)).sum()
    torch.testing.assert_close(score(3, 1), score(10, 8))
    assert not torch.allclose(score(3, 1), score(3, 2))
    cos, sin = rope_tables(torch.tensor([[-1]]), 8)  # no position: identity
    torch.testing.assert_close(apply_rope(q, cos, sin), q)


def test_presets_and_overrides():
    sizes = presets()
    assert [(sizes[n].depth, sizes[n].width, sizes[n].heads) for n in ("S", "B", "L", "XL")] == [(12, 384, 6), (12, 768, 12), (24, 1024, 16), (28, 1152, 16)]
    assert ModelConfig(preset="B", depth=6).resolve() == GEConfig(depth=6, width=768, heads=12, in_context_len=32, in_context_start=4)
    with pytest.raises(ValueError, match="preset"):
        ModelConfig(preset="M").resolve()
    with pytest.raises(ValueError, match="heads"):
        GEConfig(depth=2, width=30, heads=4)
    with pytest.raises(ValueError, match="in_context_start"):
        GEConfig(depth=2, width=32, heads=2, in_context_len=4, in_context_start=2)


def test_unpadded_batches_take_the_unmasked_path_with_the_same_result():
    ge = _ge()
    latents, t, cond, drop, _, obs, _ = _inputs()
    full, full_obs = torch.ones(3, 6, dtype=torch.bool), torch.ones(3, 5, dtype=torch.bool)
    dense = ge(latents, t, cond, drop, full, obs, full_obs)  # no padding anywhere: attention without a mask
    padded = ge(latents, t, cond, drop, full, torch.cat([obs, torch.randn(3, 1, 6)], 1), torch.cat([full_obs, torch.zeros(3, 1, dtype=torch.bool)], 1))
    torch.testing.assert_close(dense, padded, atol=1e-5, rtol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's own imports for torch.compile
def test_compile_blocks_keeps_the_parameter_names():
    ge = _ge()
    names = list(ge.state_dict())
    assert compile_blocks(ge) == 3 and list(ge.state_dict()) == names  # compiled in place: checkpoints unchanged
