"""`crystal_fit` gives StructureMatcher.fit's answer (CDVAE's tolerances, skip_structure_reduction=True) on real cells
of one element and of three, on copies shaken and strained to the edge of the tolerances, and on the hand-built
cases."""
import numpy as np
import pytest

from unite_mol.data.crystals import read_crystals, to_pymatgen
from unite_mol.evaluate.crystal import MATCHER, reduced_cell
from unite_mol.evaluate.crystal_fit import Cell, Reference, fits, parameters

from crystal_cells import SHARED, csv_rows, rock_salt, rock_salt_copies, write_csv


def pairs_of(path, tmp_path, n_cells: int, n_pairs: int, shake: float, seed: int) -> list:
    """Pairs of Niggli-reduced primitive cells of one composition and size, half of them a cell and a shaken, strained
    copy of it (up to `shake` Å a site): both answers come often, and some pairs fail only at the sites."""
    cells = [reduced_cell(s) for s in read_crystals(write_csv(tmp_path / "c.csv", csv_rows(path, n_cells))).structures]
    rng, pairs = np.random.default_rng(seed), []
    while len(pairs) < n_pairs:
        a = cells[rng.integers(len(cells))]
        if rng.random() < 0.5:
            b = a.copy()
            b.perturb(rng.uniform(0.1, shake))
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
