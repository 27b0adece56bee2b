"""COV-R / COV-P (CDVAE's coverage): the definition on hand-made fingerprints, the fingerprints' invariances on a real
cell, and `unite-mol evaluate --coverage` on Perov-5 test crystals."""
import numpy as np
import pytest

from unite_mol.data.crystals import read_crystals
from unite_mol.evaluate.coverage import CoverageCutoffs, Fingerprint, coverage, featurizers, fingerprint
from unite_mol.structure import Structure

from conftest import mol, run_python
from crystal_cells import SHARED, csv_rows, rock_salt, rock_salt_copies, write_csv


def _fp(structure: float, composition: float) -> Fingerprint:
    """A fingerprint at a chosen distance from the origin along the first axis of each kind."""
    return Fingerprint(np.eye(61)[0] * structure, np.eye(132)[0] * composition)


def test_coverage_counts_as_cdvae():
    test = [_fp(0, 0), _fp(1, 0), _fp(0, 20), _fp(5, 50)]  # cut-offs (perov5): structure 0.2, composition 4
    generated = [
        _fp(0.1, 1),  # near test 0 on both
        _fp(1, 18),  # near test 1 in structure, near test 2 in composition
        _fp(0.9, 25),  # near test 1 in structure; composition 5 from test 2
        None,  # no fingerprint: in COV-P's denominator, as CDVAE
    ]
    score = coverage(generated, test, CoverageCutoffs.perov5)
    # CDVAE's compute_cov minimises each distance on its own: test 1 is recalled by generated 1's structure and
    # generated 0's composition, test 2 by generated 0's structure (0.1) and generated 1's composition (2); test 3 is far
    assert score.recall == pytest.approx(3 / 4)
    assert score.precision == pytest.approx(2 / 4) and score.fingerprinted == 3  # generated 0 and 1
    assert score.structure_recall_distance == pytest.approx((0.1 + 0 + 0.1 + 4) / 4)
    with pytest.raises(ValueError, match="0 generated"):
        coverage([None], test, CoverageCutoffs.perov5)
    assert [c.distances for c in CoverageCutoffs] == [(0.2, 4.0), (0.2, 4.0), (0.4, 10.0)]  # all three, none an alias
    wide = coverage(generated, test, CoverageCutoffs.mp20)  # 0.4 / 10: generated 2 (composition 5 from test 2) is precise too
    assert wide.precision == pytest.approx(3 / 4)


def test_fingerprints_ignore_rotation_translation_and_supercells():
    nacl = rock_salt()
    base = fingerprint(nacl)
    assert base.structure.shape == (61,) and base.composition.shape == (132,)
    labels = featurizers()[0].feature_labels()
    for label in ("wt CN_6", "octahedral CN_6"):  # every site six-coordinated, octahedral
        assert base.structure[labels.index(label)] == pytest.approx(1.0)
    for copy in rock_salt_copies(nacl):
        f = fingerprint(copy)
        np.testing.assert_allclose(f.structure, base.structure, atol=1e-6)
        np.testing.assert_allclose(f.composition, base.composition, atol=1e-9)
    kcl = fingerprint(Structure(np.array([19] * 4 + [17] * 4), nacl.positions, nacl.cell))
    assert np.linalg.norm(kcl.composition - base.composition) > 0.5  # another composition moves the Magpie features


def test_evaluate_coverage_of_test_crystals_against_themselves(tmp_path):
    test = write_csv(tmp_path / "test.csv", csv_rows(SHARED / "perov_5" / "test.csv", 12))
    cache = tmp_path / "cache"
    first = mol("evaluate", str(test), "--test", str(test), "--coverage", "perov5", "--workers", "1", "--cache", str(cache),
                 "--json", str(tmp_path / "ev.json"))
    assert first.returncode == 0, first.stderr
    assert "COV-R % (test crystals recalled)" in first.stdout and "100.00" in first.stdout.split("COV-R")[1].splitlines()[0]
    assert len(read_crystals(test, skip_bad=True).structures) == 12
    kept = list(cache.glob("coverage_*.npz"))
    assert len(kept) == 1  # the test crystals' fingerprints, computed once ...
    again = mol("evaluate", str(test), "--test", str(test), "--coverage", "perov5", "--workers", "1", "--cache", str(cache))
    table = lambda out: out.split("COV-R")[1].split("\n\n")[0]  # noqa: E731  (the figures, not the timing after them)
    assert table(again.stdout) == table(first.stdout)  # ... and read back to the same figures
    done = mol("evaluate", str(test), "--coverage", "carbon24", "--workers", "1")
    assert done.returncode == 2 and "needs the test crystals (--test)" in done.stderr, done.stderr  # carbon24 is a choice


def test_crystal_leaderboard_puts_our_coverage_beside_the_published_rows(tmp_path):
    from conftest import REPO

    test = write_csv(tmp_path / "test.csv", csv_rows(SHARED / "perov_5" / "test.csv", 6))
    done = mol("evaluate", str(test), "--test", str(test), "--coverage", "perov5", "--workers", "1",
                "--cache", str(tmp_path / "cache"), "--json", str(tmp_path / "ev.json"))
    assert done.returncode == 0, done.stderr
    board = run_python(str(REPO / "benchmarks" / "crystal_leaderboard.py"), f"perov_5:ours={tmp_path / 'ev.json'}", "--out", str(tmp_path / "b.md"))
    assert board.returncode == 0, board.stderr
    text = (tmp_path / "b.md").read_text()
    generation = text.split("## perov_5: generation")[1].split("##")[0]
    assert "| CDVAE | 100.00 | 98.59 | – | 99.45 | 98.46 |" in generation  # published, with its source
    ours = next(line for line in generation.splitlines() if line.startswith("| ours |"))
    assert ours.split(" | ")[4:6] == ["100.00", "100.00"]  # COV-R, COV-P of the test crystals against themselves
    assert "| ours |" not in text.split("## perov_5: reconstruction")[1]  # a generation row only
