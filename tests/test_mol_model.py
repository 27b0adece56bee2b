"""The molecule adapter: e3nn equivariance, rotations, masks, the two-mode weight sharing, decoding."""
import numpy as np
import pytest
import torch

from unite_core.flow import SamplerConfig
from unite_mol.augment import RandomRotation, quaternion_matrix
from unite_mol.embed import EnvConfig, LocalEnvironment
from unite_mol.neighbours import radius_graph
from unite_mol.run import build_model
from unite_mol.sampling import Kind, generate_structures
from unite_mol.batch import collate
from unite_mol.tokenizer import Pairing

from conftest import qm9_rows
from tiny_models import VOCAB, step_random, tiny_mol


@pytest.fixture(scope="module")
def batch():
    return collate(qm9_rows(40)[20:28], VOCAB)


def test_environment_scalars_invariant_and_irreps_equivariant(batch):
    from e3nn.util.test import assert_equivariant

    env = LocalEnvironment(len(VOCAB), EnvConfig(hidden_irreps="4x0e + 2x1o + 2x2e", scalars=8)).double()
    types, mask = batch.types[3], batch.mask[3]

    def hidden(pos):
        return env(types[None], pos[None], mask[None])[1][0]

    def scalars(pos):
        return env(types[None], pos[None], mask[None])[0][0]

    pos = batch.positions[3].double()
    assert_equivariant(hidden, args_in=[pos], irreps_in=["cartesian_points"], irreps_out=[env.hidden_irreps])
    assert_equivariant(scalars, args_in=[pos], irreps_in=["cartesian_points"], irreps_out=["8x0e"])
    assert env.hidden_irreps.lmax == 2


def test_environment_is_permutation_equivariant(batch):
    env = LocalEnvironment(len(VOCAB), EnvConfig(scalars=8))
    n = int(batch.mask[0].sum())
    perm = torch.randperm(n)
    types, pos = batch.types[:1, :n], batch.positions[:1, :n]
    mask = torch.ones(1, n, dtype=torch.bool)
    a = env(types, pos, mask)[0][0]
    b = env(types[:, perm], pos[:, perm], mask)[0][0]
    torch.testing.assert_close(a[perm], b, atol=1e-5, rtol=1e-5)


def test_radius_graph_stays_inside_each_molecule(batch):
    edges = radius_graph(batch.positions, batch.mask, 5.0)
    N = batch.types.shape[1]
    assert torch.equal(edges.src // N, edges.dst // N) and not torch.any(edges.src == edges.dst)
    assert batch.mask.view(-1)[edges.src].all() and (edges.vec.norm(dim=-1) < 5.0).all()


def test_random_rotation_is_a_rotation(batch):
    q = torch.randn(16, 4)
    R = quaternion_matrix(q / q.norm(dim=-1, keepdim=True))
    torch.testing.assert_close(R @ R.transpose(1, 2), torch.eye(3).expand(16, 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(16))
    turned = RandomRotation()(batch, step_random(len(batch)))
    d0, d1 = torch.cdist(batch.positions, batch.positions), torch.cdist(turned.positions, turned.positions)
    torch.testing.assert_close(d0, d1, atol=1e-4, rtol=0)
    assert not torch.allclose(turned.positions, batch.positions)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the GPU trainer's bf16 must not round the geometry
        assert RandomRotation()(batch, step_random(len(batch))).positions.dtype == torch.float32


def test_bf16_training_step_runs(batch):
    model = build_model(tiny_mol())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = model(batch, step_random(len(batch)))
    losses.total.backward()
    assert torch.isfinite(losses.total)


@pytest.mark.parametrize("pairing", list(Pairing))
def test_padding_does_not_change_a_molecule(batch, pairing):
    """Reconstructing molecule 0 alone or padded inside a batch with larger molecules gives the same atoms."""
    model = build_model(tiny_mol(pairing)).eval()
    alone = collate([qm9_rows(40)[20]], VOCAB)
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731 — same noise slots for both calls
    a = model.reconstruct(alone, gen())
    b = model.reconstruct(batch, gen())
    n = int(alone.mask.sum())
    torch.testing.assert_close(a.positions[0, :n], b.positions[0, :n], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(a.logits[0, :n], b.logits[0, :n], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("pairing", list(Pairing))
def test_both_passes_train_the_same_generative_encoder(batch, pairing):
    model = build_model(tiny_mol(pairing))
    for p in model.parameters():  # leave the zero-init regime so every path carries gradient
        if torch.all(p == 0):
            torch.nn.init.normal_(p, std=0.05)
    calls = []
    model.ge.register_forward_hook(lambda mod, args, out: calls.append(any(a is not None for a in args[5:])))  # atoms given?
    losses = model(batch, step_random(len(batch)))
    assert calls[0] and not any(calls[1:]) and len(calls) >= 2  # tokenize with atoms, then denoise without
    grads = {}
    for name, term in (("recon", losses.recon), ("flow", losses.flow)):
        model.zero_grad()
        term.backward(retain_graph=True)
        grads[name] = model.ge.blocks[0].attn.qkv.weight.grad.clone()
    assert grads["recon"].abs().sum() > 0 and grads["flow"].abs().sum() > 0  # one set of weights, two objectives
    assert all(p.grad is None or torch.all(p.grad == 0) for p in model.tokenizer.parameters())  # flow: z detached


def test_decoder_loss_is_zero_for_a_perfect_output(batch):
    from unite_mol.decoder import AtomOutput

    model = build_model(tiny_mol())
    logits = torch.nn.functional.one_hot(batch.types, len(VOCAB)).float() * 50
    recon = model.decoder.loss(AtomOutput(logits, batch.positions.clone()), batch)
    assert recon.terms["pos_mse"] == 0 and recon.terms["type_acc"] == 1 and recon.terms["type_ce"] < 1e-6


def test_bond_length_loss_sees_only_bonded_pairs_and_ignores_the_frame(batch):
    from unite_mol.augment import quaternion_matrix
    from unite_mol.decoder import BOND_CUTOFF, AtomOutput, bond_length_error

    out = lambda positions: AtomOutput(torch.zeros(*batch.types.shape, len(VOCAB)), positions)  # noqa: E731
    q = torch.tensor([[0.3, -0.5, 0.7, 0.2]])
    moved = batch.positions @ quaternion_matrix(q / q.norm())[0].T + torch.tensor([1.0, -2.0, 0.5])
    assert bond_length_error(out(batch.positions), batch) < 1e-10
    assert bond_length_error(out(moved * batch.mask[..., None]), batch) < 1e-10  # rotation + translation: same bonds
    stretched = batch.positions * 1.1
    d = (batch.positions[:, :, None] - batch.positions[:, None]).norm(dim=-1)  # (B, N, N)
    pair = batch.mask[:, :, None] & batch.mask[:, None] & (d < BOND_CUTOFF) & ~torch.eye(d.shape[1], dtype=torch.bool)
    assert pair.any() and (batch.mask[:, :, None] & batch.mask[:, None] & (d >= BOND_CUTOFF)).any()  # both kinds present
    torch.testing.assert_close(bond_length_error(out(stretched), batch), (0.1 * d[pair]).pow(2).mean())
    padded = stretched.clone()
    padded[~batch.mask] = 100.0  # padding slots carry no pairs
    torch.testing.assert_close(bond_length_error(out(padded), batch), bond_length_error(out(stretched), batch))


def test_decoder_loss_weights_each_molecule(batch):
    """`weights` (B,) multiply each molecule's terms (the denoised reconstruction weighs its items by t² / (1 − t)²): ones change
    nothing, and a molecule with weight 0 adds nothing to any term, bond lengths included."""
    from unite_mol.decoder import AtomOutput

    cfg = tiny_mol()
    cfg.recon.bonds = 1.0
    decoder = build_model(cfg).decoder
    B = len(batch)
    out = AtomOutput(torch.randn(*batch.types.shape, len(VOCAB)), batch.positions + 0.1 * torch.randn_like(batch.positions))
    plain = decoder.loss(out, batch)
    torch.testing.assert_close(decoder.loss(out, batch, torch.ones(B)).total, plain.total)
    torch.testing.assert_close(decoder.loss(out, batch, torch.full((B,), 3.0)).total, 3 * plain.total)
    first_only = torch.zeros(B)
    first_only[0] = 1.0
    moved = out.positions.clone()
    moved[1:] += 5.0 * torch.randn_like(moved[1:])  # only the weightless molecules change
    logits = out.logits.clone()
    logits[1:] = -logits[1:]
    torch.testing.assert_close(decoder.loss(AtomOutput(logits, moved), batch, first_only).total, decoder.loss(out, batch, first_only).total)


def test_generation_respects_atom_counts():
    model = build_model(tiny_mol()).eval()
    counts = torch.tensor([3, 9, 5])
    structures = generate_structures(model, counts, Kind(0, False), SamplerConfig(steps=2), VOCAB, torch.Generator().manual_seed(0))
    assert [len(s.numbers) for s in structures] == [3, 9, 5]
    assert all(set(s.symbols) <= set(VOCAB.symbols) and np.isfinite(s.positions).all() for s in structures)
