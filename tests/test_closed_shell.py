"""The molecules' sampling constraint: an even valence sum (a closed-shell composition), as an energy of the decoded
element probabilities, and the shipped QM9 model guided by it."""
from itertools import product
from types import SimpleNamespace

import pytest
import torch

import unite_mol
from unite_mol.closed_shell import EvenValence, odd_valence

H, C, N, O, F, TI, P = 1, 6, 7, 8, 9, 22, 15


def test_which_elements_have_an_odd_valence():
    assert odd_valence([H, C, N, O, F], [H, C, N, O, F]) == (True, False, True, False, True)
    assert odd_valence([H, C, N, O, F, TI], [H, C, N, O, F]) == (True, False, True, False, True, False)  # never decoded
    assert odd_valence([H, C, P], [H, C, P]) == (True, False, True)  # phosphorus: 3 or 5
    assert odd_valence([H, C, TI], [H, C, TI]) is None  # no valence for titanium here


def _logits_as_decoder(z, mask):
    return SimpleNamespace(logits=z)


def test_the_energy_is_minus_the_log_probability_of_an_even_valence_sum():
    odd = (True, False, True, False, True)  # H C N O F
    logits = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(0))  # (B, N, T)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    energy = EvenValence(_logits_as_decoder, odd)
    p = logits.softmax(-1)
    want = 0.0
    for b in range(2):
        atoms = int(mask[b].sum())
        even = sum(float(torch.prod(torch.stack([p[b, i, k] for i, k in enumerate(ks)])))
                   for ks in product(range(5), repeat=atoms) if sum(odd[k] for k in ks) % 2 == 0)
        want -= torch.log(torch.tensor(even))
    torch.testing.assert_close(energy(logits, mask), want)
    allowed = EvenValence(_logits_as_decoder, odd + (False,), allowed=(0, 1, 2, 3, 4))  # a joint vocabulary: H C N O F Ti
    torch.testing.assert_close(allowed(torch.cat([logits, torch.full((2, 3, 1), 9.0)], -1), mask), want)
    y = logits.clone().requires_grad_(True)
    grad, = torch.autograd.grad(energy(y, mask), y)
    assert energy(logits - 0.5 * grad, mask) < energy(logits, mask)  # a step down it makes even sums likelier


def test_the_shipped_qm9_model_guided_by_it_samples_even_valence_sums():
    gen = unite_mol.load("qm9")
    odd = lambda s: sum(int(z in (H, N, F)) for z in s.numbers) % 2  # noqa: E731
    plain = gen.sample(24, seed=0, constraint_scale=0.0)  # off: it samples guided by default (at 3, t <= 0.7)
    guided = gen.sample(24, seed=0, constraint_scale=10.0, constraint_interval=(0.0, 1.0))
    assert sum(map(odd, plain)) >= 5 and sum(map(odd, guided)) == 0
    assert [len(s.numbers) for s in guided] == [len(s.numbers) for s in plain]  # the same atom counts, other elements
    with pytest.raises(ValueError, match=r"^sampler.constraint_scale \(--constraint-scale\): the even-valence constraint is for "
                                         r"molecules with explicit hydrogens"):
        unite_mol.load("perov5").sample(2, steps=2, constraint_scale=1.0)


def test_a_run_whose_evaluations_cannot_meet_the_constraint_is_refused_before_it_trains():
    from unite_core.config import compose, validate
    from unite_mol.run import MolConfig, build_model

    for dataset in ("perov5", "qm9_heavy", "qm9_perov5"):
        cfg = validate(compose("mol", [f"dataset={dataset}", "sampler.constraint_scale=1"], MolConfig), MolConfig)
        with pytest.raises(ValueError, match=r"^sampler.constraint_scale: the even-valence constraint is for molecules"):
            build_model(cfg)
    assert build_model(validate(compose("mol", ["dataset=qm9", "sampler.constraint_scale=1"], MolConfig), MolConfig))

