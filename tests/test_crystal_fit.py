"""`crystal_fit` gives StructureMatcher.fit's answer (CDVAE's tolerances, skip_structure_reduction=True) on real cells
of one element and of three, on copies shaken and strained to the edge of the tolerances, and on the hand-built
cases."""
import numpy as np
import pytest

from unite_mol.data.crystals import read_crystals, to_pymatgen
from unite_mol.evaluate.crystal import MATCHER, reduced_cell
from unite_mol.evaluate.crystal_fit import Cell, Reference, fits
from unite_mol.evaluate.site_fit import parameters

from crystal_cells import SHARED, csv_rows, rock_salt, rock_salt_copies, write_csv


def pairs_of(path, tmp_path, n_cells: int, n_pairs: int, shake: float, seed: int) -> list:
    """Pairs of Niggli-reduced primitive cells of one composition and size, half of them a cell and a shaken, strained
    copy of it (up to `shake` Å a site; drawn from `seed` alone, so the pairs are the same every run): both answers come
    often, and some pairs fail only at the sites."""
    cells = [reduced_cell(s) for s in read_crystals(write_csv(tmp_path / "c.csv", csv_rows(path, n_cells))).structures]
    rng, pairs = np.random.default_rng(seed), []
    while len(pairs) < n_pairs:
        a = cells[rng.integers(len(cells))]
        if rng.random() < 0.5:
            b, shift = a.copy(), rng.normal(size=(len(a), 3))  # every site moved by one distance, as Structure.perturb
            for i, v in enumerate(shift * rng.uniform(0.1, shake) / np.linalg.norm(shift, axis=1, keepdims=True)):
                b.translate_sites([i], v, frac_coords=False)
            b.apply_strain(rng.uniform(-0.12, 0.12, 3).tolist())
        else:
            b = cells[rng.integers(len(cells))]
        if a.composition == b.composition and a is not b:
            pairs.append((a, b))
    return pairs


@pytest.mark.parametrize("dataset, n_cells, shake, seed", [("carbon_24", 80, 1.2, 0), ("perov_5", 300, 2.5, 1)])
def test_fits_answers_as_structure_matcher(dataset, n_cells, shake, seed, tmp_path):
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(**MATCHER)
    pairs = pairs_of(SHARED / dataset / "val.csv", tmp_path, n_cells, 150, shake, seed)
    expected = [matcher.fit(a, b, skip_structure_reduction=True) for a, b in pairs]
    assert [fits(Cell.of(a), Cell.of(b)) for a, b in pairs] == expected
    assert 0.2 < np.mean(expected) < 0.8
    for a, b in pairs[:40]:  # the bases searched are pymatgen's, one for one
        s1, s2, _, _ = matcher._preprocess(a, b, skip_structure_reduction=True)
        ratio = (b.volume / a.volume) ** (1 / 6)
        bases = Reference(Cell.of(a)).bases(ratio, parameters(s2.lattice.matrix))
        assert len(bases) == len(list(matcher._get_lattices(s2.lattice, s1)))


def test_one_reference_against_many_and_the_hand_built_cases():
    nacl = Cell.of(to_pymatgen(rock_salt()))
    rotated, translated, doubled = (Cell.of(to_pymatgen(c)) for c in rock_salt_copies(rock_salt()))
    larger = Cell.of(to_pymatgen(rock_salt(a=7.5)))  # scaled to one volume first
    kcl = Cell(nacl.matrix, nacl.frac, np.where(nacl.numbers == 11, 19, 17))
    reference = Reference(nacl)
    assert [reference.fits(c) for c in (nacl, rotated, translated, larger)] == [True] * 4
    assert not reference.fits(doubled) and not reference.fits(kcl)  # no supercells; another composition
    assert reference.reach > 0 and Reference(larger).fits(nacl)  # lattice points out to the furthest asked for


def test_assignment_is_scipys_even_on_ties():
    """The compiled assignment picks scipy's among several optimal ones: small integer costs tie often, FAR marks the
    pairs pymatgen skips."""
    from scipy.optimize import linear_sum_assignment

    from unite_mol.evaluate.site_fit import FAR, assignment

    rng = np.random.default_rng(0)
    for trial in range(600):
        n = int(rng.integers(1, 25))
        cost = rng.random((n, n)) if trial % 3 == 0 else rng.integers(0, 3, (n, n)).astype(float)
        if trial % 3 == 2:
            cost[rng.random((n, n)) < 0.4] = FAR
        assert np.array_equal(assignment(cost), linear_sum_assignment(cost)[1])


def test_lll_is_pymatgens_and_leaves_near_ties_to_it():
    """`site_fit.lll` reduces as pymatgen's `Lattice` does (to the last 1e-9 Å) on random cells and on unimodular
    transforms of cubic-like cells; exactly hexagonal cells, whose reduction is decided by the last bits, are flagged
    and `crystal_fit._lll` hands them to pymatgen."""
    from pymatgen.core import Lattice

    from unite_mol.evaluate.crystal_fit import _lll
    from unite_mol.evaluate.site_fit import lll

    rng = np.random.default_rng(1)
    unimodular = [u for u in rng.integers(-3, 4, (3000, 3, 3)) if abs(round(np.linalg.det(u))) == 1][:200]
    cells = [rng.normal(size=(3, 3)) * rng.uniform(1, 10, (3, 1)) for _ in range(300)]
    cells += [u @ np.diag(rng.uniform(2, 8, 3)) for u in unimodular]
    hexagonal = np.array([u @ Lattice.hexagonal(3.2, 7.0).matrix for u in unimodular[:40]])
    reduced, inverse, near = lll(np.array(cells))
    assert not near.any()
    for cell, r, i in zip(cells, reduced, inverse):
        lattice = Lattice(cell)
        np.testing.assert_allclose(r, lattice.lll_matrix, rtol=0, atol=1e-9)
        np.testing.assert_allclose(i, lattice.lll_inverse, rtol=0, atol=1e-9)
    assert lll(hexagonal)[2].all()
    for cell, r in zip(hexagonal, _lll(hexagonal)[0]):
        assert np.array_equal(r, Lattice(cell).lll_matrix)


def test_exactly_hexagonal_pairs_go_to_pymatgens_reduction_and_answer_as_the_matcher():
    """Graphite against itself and against a stack of atoms along c: the average lattices are exactly hexagonal, so the
    compiled search reports near ties (`NEAR_TIE`) and pymatgen reduces those bases; the answers are StructureMatcher's
    (one fit, one not)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Lattice, Structure as PymatgenStructure

    from unite_mol.evaluate.crystal_fit import ANGLE_TOL, LTOL, STOL, Cells
    from unite_mol.evaluate.site_fit import NEAR_TIE, fit_codes

    lattice = Lattice.hexagonal(2.46, 6.70)
    graphite = PymatgenStructure(lattice, ["C"] * 4, [[0, 0, 0.25], [0, 0, 0.75], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])
    shifted = PymatgenStructure(lattice, ["C"] * 4, [[0, 0, 0], [1 / 3, 2 / 3, 0.1], [2 / 3, 1 / 3, 0.2], [0, 0, 0.3]])
    matcher, reference = StructureMatcher(**MATCHER), Reference(Cell.of(graphite))
    others = Cells.of([Cell.of(graphite), Cell.of(shifted)])
    reference._reach(others.matrices)
    codes = fit_codes(reference.n, reference.cart, reference.length, reference.cell.matrix, reference.frac,
                      reference.numbers, others.matrices, others.fracs, others.numbers, False, STOL, LTOL, ANGLE_TOL)
    assert codes.tolist() == [NEAR_TIE, NEAR_TIE]
    expected = [matcher.fit(graphite, s, skip_structure_reduction=True) for s in (graphite, shifted)]
    assert reference.fits_each(others).tolist() == expected == [True, False]
