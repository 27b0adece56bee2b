"""data.site_order: shuffled_elements / by_count put each structure's elements in a random order along its tokens each
step, by_environment orders them once by their sites' environment; and benchmarks/crystal_pairs.py, which measures how
a crystal set pairs its two cations."""
import importlib.util

import numpy as np
import pytest
import torch

from unite_mol.augment import RandomRotation, ShuffledElements
from unite_mol.batch import MolBatch
from unite_mol.data import MolDataConfig, Packed, SiteOrder, to_site_order
from unite_mol.data.site_order import nearest_neighbour_distances
from unite_mol.run import build_model
from unite_mol.structure import Structure

from conftest import REPO
from tiny_models import step_random, tiny_mol


def _perovskite_like() -> MolBatch:
    """Two ABX3-like rows of type indices (A = 5, B = 2, X = 7) and a shorter row with padding; each site its own position."""
    types = torch.tensor([[2, 5, 7, 7, 7], [1, 3, 4, 4, 4], [6, 6, 0, 0, 0]])  # (B, N)
    mask = torch.tensor([[True] * 5, [True] * 5, [True, True, False, False, False]])  # (B, N)
    positions = torch.arange(45, dtype=torch.float32).view(3, 5, 3) * mask[..., None]  # (B, N, 3)
    return MolBatch(types, positions, mask, torch.zeros(3, dtype=torch.long), torch.eye(3).expand(3, 3, 3))


def _runs(row: list[int]) -> list[int]:
    """The elements in the order their blocks come, one entry per block."""
    return [t for i, t in enumerate(row) if i == 0 or row[i - 1] != t]


def test_shuffled_elements_keep_each_site_and_each_elements_block_in_order():
    batch, orders = _perovskite_like(), set()
    for step in range(40):
        out = ShuffledElements(num_types=8)(batch, step_random(3, step))
        for b in range(3):
            n = int(batch.mask[b].sum())
            assert out.mask[b].tolist() == batch.mask[b].tolist()  # padding stays last
            before = {tuple(p): int(t) for t, p in zip(batch.types[b, :n], batch.positions[b, :n].tolist())}
            after = {tuple(p): int(t) for t, p in zip(out.types[b, :n], out.positions[b, :n].tolist())}
            assert after == before  # every site keeps its element and position
            row = out.types[b, :n].tolist()
            assert sorted(_runs(row)) == sorted(set(row))  # one block per element
            for t in set(row):  # within a block the sites keep their order
                mine = [p for p, u in zip(out.positions[b, :n].tolist(), row) if u == t]
                assert mine == [p for p, u in zip(batch.positions[b, :n].tolist(), batch.types[b, :n].tolist()) if u == t]
        orders.add(tuple(_runs(out.types[0].tolist())))
        torch.testing.assert_close(out.cells, batch.cells)
    assert len(orders) == 6  # all 3! orders of A, B and X occur over 40 steps
    again = ShuffledElements(num_types=8)(batch, step_random(3, 39))
    assert torch.equal(again.types, out.types)  # drawn from the step's rng: the same on resume


def test_site_order_reaches_the_model_and_must_agree_across_a_joint_run():
    cfg = tiny_mol()
    assert [type(s) for s in build_model(cfg).augment.steps] == [RandomRotation]
    cfg.data.site_order = SiteOrder.shuffled_elements
    assert [type(s) for s in build_model(cfg).augment.steps] == [RandomRotation, ShuffledElements]
    cfg.joint = [MolDataConfig(dataset_id=1)]
    cfg.num_conditions = 2
    with pytest.raises(ValueError, match=r"data.site_order / joint\[\*\].site_order must agree"):
        build_model(cfg)


def _crystal_pairs():
    spec = importlib.util.spec_from_file_location("crystal_pairs", REPO / "benchmarks" / "crystal_pairs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _perovskite(a: int, b: int) -> Structure:
    """Cubic ABO3 (sites stored as read: O, O, O, B, A)."""
    frac = np.array([[.5, .5, 0], [.5, 0, .5], [0, .5, .5], [.5, .5, .5], [0, 0, 0]])
    cell = np.eye(3) * 3.9
    return Structure(np.array([8, 8, 8, b, a]), (frac @ cell).astype(np.float32), cell)


def test_crystal_pairs_reads_the_two_cations_in_a_random_order_and_their_correlation():
    pairs = _crystal_pairs()
    rng = np.random.default_rng(0)
    cations = [3, 11, 19, 37, 55, 38, 56, 22, 40, 72]
    found = pairs.cation_pairs([_perovskite(38, 22)] * 40, rng)  # SrTiO3: Sr and Ti, never an oxygen
    assert {tuple(p) for p in found.tolist()} == {(38, 22), (22, 38)}
    independent = pairs.cation_pairs([_perovskite(a, b) for a in cations for b in cations if a != b], rng)
    heavy_with_light = pairs.cation_pairs([_perovskite(a, b) for a, b in zip(sorted(cations), sorted(cations)[::-1])] * 4, rng)
    assert abs(pairs.symmetric_corr(independent.astype(float))) < 0.15
    assert pairs.symmetric_corr(heavy_with_light.astype(float)) < -0.9


def test_by_count_puts_the_larger_blocks_first_and_shuffles_only_elements_of_equal_count():
    batch, orders = _perovskite_like(), set()
    for step in range(30):
        out = ShuffledElements(num_types=8, by_count=True)(batch, step_random(3, step))
        assert out.types[1].tolist()[:3] == [4, 4, 4] and out.types[2].tolist() == [6, 6, 0, 0, 0]
        assert out.mask.tolist() == batch.mask.tolist()
        orders.add(tuple(out.types[0].tolist()))
    assert orders == {(7, 7, 7, 2, 5), (7, 7, 7, 5, 2)}  # X3 first, A and B both ways round
    cfg = tiny_mol()
    cfg.data.site_order = SiteOrder.by_count
    assert build_model(cfg).augment.steps[-1].by_count


def _cubic_perovskite(a: int, b: int) -> Structure:
    """ABO3 with A (12-fold) at the corner and B (6-fold) at the centre, sites stored O, O, O, A, B."""
    frac = np.array([[.5, .5, 0], [.5, 0, .5], [0, .5, .5], [0, 0, 0], [.5, .5, .5]])
    cell = np.eye(3) * 3.9
    return Structure(np.array([8, 8, 8, a, b]), (frac @ cell).astype(np.float32), cell)


def test_by_environment_orders_by_count_then_the_longest_nearest_neighbour_whichever_is_heavier():
    light_a, heavy_a = _cubic_perovskite(22, 56), _cubic_perovskite(56, 22)  # A = Ti or Ba
    for crystal in (light_a, heavy_a):
        nearest = nearest_neighbour_distances(crystal.fractional(), crystal.cell)
        np.testing.assert_allclose(nearest, [1.95, 1.95, 1.95, 3.9 / 2 ** 0.5, 1.95], rtol=1e-5)
    shifted = Structure(heavy_a.numbers[::-1].copy(), heavy_a.positions[::-1] + np.float32(7.8), heavy_a.cell)
    packed = to_site_order(Packed.from_structures([light_a, heavy_a, shifted]), SiteOrder.by_environment)
    assert [packed[i].numbers.tolist() for i in range(3)] == [[8, 8, 8, 22, 56], [8, 8, 8, 56, 22], [8, 8, 8, 56, 22]]
    np.testing.assert_allclose(packed[0].positions[3], [0, 0, 0])  # each site keeps its position
    assert to_site_order(packed, SiteOrder.shuffled_elements) is packed  # per-step orders leave the data as stored
    molecule = Packed.from_structures([Structure(np.array([6, 1]), np.zeros((2, 3), np.float32))])
    with pytest.raises(ValueError, match="by_environment is for crystals"):
        to_site_order(molecule, SiteOrder.by_environment)
