"""The CDVAE protocol's definitions on hand-built cells and real Carbon-24 cells: validity, uniqueness, novelty,
reconstruction, CHGNet stability, and `unite-mol evaluate` on a folder of CIFs."""
import numpy as np
import pytest

from unite_mol.data.crystals import read_crystals, to_pymatgen
from unite_mol.evaluate.crystal import (EMD_SAMPLES, check_crystal, compositionally_valid, density, novel_count,
                                        property_emds, score_crystals, structurally_valid, unique_groups)
from unite_mol.structure import ATOMIC_NUMBER, Structure

from conftest import mol
from crystal_cells import SHARED, csv_rows, rock_salt, rock_salt_copies, rotation, shaken_rock_salt, write_csv


def test_validity_definitions_on_hand_built_cells():
    nacl = rock_salt()
    assert check_crystal(nacl).valid
    squeezed = Structure(nacl.numbers, nacl.positions.copy(), nacl.cell)
    squeezed.positions[1] = squeezed.positions[0] + [0.2, 0, 0]  # two atoms 0.2 Å apart
    assert not structurally_valid(squeezed)
    assert not structurally_valid(Structure(nacl.numbers, nacl.positions, np.eye(3) * 0.01))  # volume 1e-6 Å³
    z = ATOMIC_NUMBER
    assert not compositionally_valid(np.array([z["Na"], z["Cl"], z["Cl"]]))  # NaCl2: no neutral assignment
    assert compositionally_valid(np.array([z["Fe"], z["Ni"], z["Ni"]]))  # all metals: an alloy
    assert compositionally_valid(np.array([z["C"]] * 6))  # one element
    assert compositionally_valid(np.array([z["Sr"], z["Ti"], z["O"], z["O"], z["O"]]))  # SrTiO3


def test_rotated_translated_and_supercell_copies_match():
    nacl = rock_salt()
    rotated, translated, doubled = rock_salt_copies(nacl)
    other = rock_salt(a=7.5)  # same composition, 33 % larger: still matched (StructureMatcher scales volumes) ...
    kcl = Structure(np.array([19] * 4 + [17] * 4), nacl.positions, nacl.cell)  # ... another composition never is
    copies = [nacl, rotated, translated, doubled, other]
    assert unique_groups(copies) == 1 and unique_groups(copies + [kcl]) == 2
    # novelty as the peers compute it (fit with skip_structure_reduction=True): a supercell copy counts as novel
    assert novel_count(copies + [kcl], train=[nacl]) == 2 and novel_count([doubled], train=[nacl]) == 1
    score = score_crystals(copies + [kcl], [check_crystal(c) for c in copies + [kcl]], [nacl], [nacl])
    assert score.validity == 1 and score.uniqueness == pytest.approx(2 / 6) and score.novelty == pytest.approx(2 / 6)


def test_property_emds_first_block_is_cdvaes_figure_and_the_rest_come_in_disjoint_blocks():
    from scipy.stats import wasserstein_distance

    nacl, rng = rock_salt(), np.random.default_rng(0)
    cells = [Structure(nacl.numbers, nacl.positions * f, nacl.cell * f) for f in rng.uniform(0.9, 1.1, 2 * EMD_SAMPLES + 500)]
    cells[EMD_SAMPLES:] = [Structure(np.array([11, 17, 17, 19, 11, 17, 11, 19]), c.positions, c.cell) for c in cells[EMD_SAMPLES:]]
    test = [rock_salt(a=a) for a in (5.4, 5.6, 5.8)]
    d_blocks, e_blocks = property_emds(cells, test)
    assert len(d_blocks) == len(e_blocks) == 2  # 2,500 valid: two whole blocks, the last 500 left out
    for block, emd in zip((cells[:EMD_SAMPLES], cells[EMD_SAMPLES : 2 * EMD_SAMPLES]), d_blocks):
        assert emd == wasserstein_distance([density(s) for s in block], [density(s) for s in test])
    assert e_blocks == [0.0, 1.0]  # the first block has NaCl's two elements, as the test crystals; the second three
    assert property_emds(cells[:10], test)[0] == [wasserstein_distance([density(s) for s in cells[:10]], [density(s) for s in test])]
    assert property_emds([], test) == ([], [])
    score = score_crystals(cells[:3], [check_crystal(c) for c in cells[:3]], None, test)
    assert score.density_emd == score.density_emd_blocks[0] and len(score.elements_emd_blocks) == 1


def test_novelty_bucketed_by_site_count_counts_as_comparing_every_pair(tmp_path):
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from unite_mol.evaluate.crystal import MATCHER

    carbon = read_crystals(write_csv(tmp_path / "c.csv", csv_rows(SHARED / "carbon_24/val.csv", 40))).structures
    train, rng = carbon[:25], np.random.default_rng(0)
    jittered = [Structure(c.numbers, (c.positions + rng.normal(0, 0.05, c.positions.shape)).astype(np.float32), c.cell) for c in carbon[:8]]
    made = jittered + carbon[25:]  # 8 copies of training crystals, 15 others (of 6 to 24 atoms)
    matcher, known = StructureMatcher(**MATCHER), [to_pymatgen(k) for k in train]
    every_pair = sum(not any(matcher.fit(to_pymatgen(s), k, skip_structure_reduction=True) for k in known) for s in made)
    assert novel_count(made, train) == every_pair <= len(made) - 8 and len({len(s.numbers) for s in made}) > 3


def test_uniqueness_in_buckets_of_primitive_size_counts_as_group_structures(tmp_path):
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from unite_mol.evaluate.crystal import MATCHER

    carbon = read_crystals(write_csv(tmp_path / "c.csv", csv_rows(SHARED / "carbon_24/val.csv", 30))).structures
    rng = np.random.default_rng(1)
    doubled = rock_salt_copies(carbon[3])[2]  # a supercell: another site count, the same primitive cell
    jittered = [Structure(c.numbers, (c.positions + rng.normal(0, 0.05, c.positions.shape)).astype(np.float32), c.cell)
                for c in carbon[:10]]
    made = [carbon[i] for i in rng.permutation(len(carbon))] + jittered + [doubled]  # one formula, C, of 6 to 24 sites
    groups = len(StructureMatcher(**MATCHER).group_structures([to_pymatgen(s) for s in made]))
    assert unique_groups(made) == unique_groups(made, workers=2) == groups <= len(carbon)
    assert len({len(s.numbers) for s in made}) > 3


def test_reconstruction_match_rate_and_rmse_as_cdvae():
    from unite_mol.evaluate.crystal_matching import match_crystal_pair, score_crystal_matches

    nacl = rock_salt()
    shaken = Structure(nacl.numbers, nacl.positions + np.random.default_rng(0).normal(0, 0.05, (8, 3)).astype(np.float32), nacl.cell)
    rotated = Structure(nacl.numbers, (nacl.positions @ rotation(0.3).T).astype(np.float32), nacl.cell @ rotation(0.3).T)
    kcl = Structure(np.where(nacl.numbers == 11, 19, 17), nacl.positions, nacl.cell)
    assert match_crystal_pair((rotated, nacl)) < 1e-6
    rms = match_crystal_pair((shaken, nacl))
    assert 0.005 < rms < 0.05  # normalised by (V/N)^(1/3) = 2.82 Å: about 0.05 Å / 2.82 per atom
    assert match_crystal_pair((kcl, nacl)) == np.inf and match_crystal_pair((None, nacl)) == np.inf
    score = score_crystal_matches([0.0, rms, np.inf, 0.0], valid=[True, True, True, False])  # the last: matched, but invalid
    assert score.pairs == 4 and score.match_rate == 0.5 and score.match_rate_any == 0.75 and score.rmse == pytest.approx(rms / 2)


def test_evaluate_detects_crystals_and_prints_the_cdvae_protocol(tmp_path):
    folder = tmp_path / "cifs"
    folder.mkdir()
    for i, a in enumerate((5.64, 5.7)):
        (folder / f"{i}.cif").write_text(to_pymatgen(rock_salt(a)).to(fmt="cif"))
    done = mol("evaluate", str(folder), "--test", str(folder), "--workers", "1", "--json", str(tmp_path / "r.json"),
                "--plot", str(tmp_path / "plots"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "plots" / "grid.png").stat().st_size > 1000  # the unit cells drawn
    assert "CDVAE protocol, 2 crystals" in done.stdout and "overall validity %" in done.stdout
    assert '"uniqueness": 0.5' in (tmp_path / "r.json").read_text()


def test_chgnet_stability_of_a_minimum_and_a_shaken_crystal():
    from unite_mol.evaluate.stability import RelaxTask, relax_crystal, score_stability

    nacl = rock_salt()
    at_minimum = relax_crystal(RelaxTask(nacl, 200))
    moved = relax_crystal(RelaxTask(shaken_rock_salt(0), 200))
    assert at_minimum.converged and at_minimum.rmsd < 0.01 and abs(at_minimum.energy - at_minimum.relaxed_energy) < 1e-3
    assert moved.converged and moved.energy - moved.relaxed_energy > 0.05  # relaxation finds lower energy
    assert abs(moved.relaxed_energy - at_minimum.relaxed_energy) < 5e-3  # ... the same minimum
    score = score_stability([at_minimum, moved])
    assert score.relaxed == 2 and score.barely_moves == 0.5 and score.converged == 1
