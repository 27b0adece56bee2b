"""`unite-mol evaluate`: each protocol pinned on hand-checked molecules, bad records tallied, the CLI end to end."""
import json
import os

import numpy as np
import pytest

from unite_mol.evaluate import EvalOptions, Protocol, TrainSet, evaluate_files
from unite_mol.evaluate.babel import check_babel
from unite_mol.evaluate.checks import check_native
from unite_mol.evaluate.distribution import build_reference, compare, wasserstein_1d
from unite_mol.evaluate.edm import bond_orders, check_edm, stable_composition
from unite_mol.evaluate.posebusters import bust_chunk, score_posebusters
from unite_mol.formats import write_structures
from unite_mol.structure import Structure

from conftest import qm9_rows

TETRA = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)


def mol(numbers, positions) -> Structure:
    return Structure(np.array(numbers), np.asarray(positions, dtype=np.float32))


def methane(at=(0, 0, 0)) -> Structure:
    return mol([6, 1, 1, 1, 1], np.vstack([[0, 0, 0], 1.09 * TETRA]) + np.array(at))


def water(at=(0, 0, 0)) -> Structure:
    angle = np.deg2rad(104.5 / 2)
    h = [[0.96 * np.sin(angle), 0.96 * np.cos(angle), 0], [-0.96 * np.sin(angle), 0.96 * np.cos(angle), 0]]
    return mol([8, 1, 1], np.vstack([[0, 0, 0], h]) + np.array(at))


def methyl_radical() -> Structure:
    h = [[1.08 * np.cos(a), 1.08 * np.sin(a), 0] for a in np.deg2rad([0, 120, 240])]
    return mol([6, 1, 1, 1], np.vstack([[0, 0, 0], h]))


def five_valent_carbon() -> Structure:
    directions = np.vstack([TETRA, [[0, 0, -1.0]]])
    directions[3] = [0, 0, 1.0]  # five H around one C at 1.09 Å
    return mol([6] * 1 + [1] * 5, np.vstack([[0, 0, 0], 1.09 * directions / np.linalg.norm(directions, axis=1, keepdims=True)]))


def two_fragments() -> Structure:
    a, b = methane(), water(at=(8, 0, 0))
    return mol(np.concatenate([a.numbers, b.numbers]), np.vstack([a.positions, b.positions]))


def clash() -> Structure:
    """Two waters with their oxygens 2.0 Å apart, hydrogens pointing away: bonded by no protocol, a steric clash."""
    a = water()
    a = mol(a.numbers, a.positions[:, [1, 0, 2]] * [-1, 1, 1])  # H on the -x side
    b = mol(a.numbers, a.positions * [-1, 1, 1] + [2.0, 0, 0])  # mirrored, O at x = 2
    return mol(np.concatenate([a.numbers, b.numbers]), np.vstack([a.positions, b.positions]))


def test_edm_bond_orders_follow_the_length_tables():
    # C-C at 1.20 Å is triple (< 1.23), 1.35 double (< 1.39), 1.50 single (< 1.64), 1.70 none
    for d, order in [(1.20, 3), (1.35, 2), (1.50, 1), (1.70, 0)]:
        assert bond_orders(mol([6, 6], [[0, 0, 0], [d, 0, 0]]))[0, 1] == order


def test_edm_protocol_on_hand_checked_molecules():
    stable = check_edm(methane())
    assert (stable.atoms, stable.stable_atoms, stable.valid, stable.smiles) == (5, 5, True, "C")
    radical = check_edm(methyl_radical())
    assert (radical.stable_atoms, radical.valid) == (3, True)  # C has valence 3; EDM validity lets RDKit add the H
    wrong = check_edm(five_valent_carbon())
    assert wrong.stable_atoms == 5 and not wrong.valid  # the five H are stable, the carbon is not; RDKit refuses it
    frags = check_edm(two_fragments())
    assert frags.stable_atoms == frags.atoms == 8 and frags.smiles == "C"  # largest fragment
    crowded = check_edm(clash())
    assert crowded.stable_atoms == crowded.atoms  # 1.2 Å H..H is beyond the H-H table length + margin


def test_only_compositions_with_an_even_valence_sum_can_be_stable():
    assert stable_composition(methane()) and stable_composition(water())
    assert not stable_composition(methyl_radical())  # CH3: 4 + 3 = 7
    assert all(stable_composition(s) for s in qm9_rows(300))
    at = lambda numbers: Structure(np.array(numbers), np.zeros((len(numbers), 3)))  # noqa: E731
    assert not stable_composition(at([7, 1, 1, 1, 1]))  # NH4: 3 + 4
    assert stable_composition(at([80, 1])) and stable_composition(at([80, 1, 1]))  # Hg: 1 or 2, either parity
    assert not stable_composition(at([15, 1, 1, 1, 1]))  # P: 3 or 5, both odd


def test_rdkit_native_and_openbabel_protocols_on_hand_checked_molecules():
    assert check_native(methane()).valid and check_native(methane()).neutral
    assert not check_native(methyl_radical()).valid  # rdDetermineBonds finds no charge-0 closed-shell structure
    assert not check_native(five_valent_carbon()).valid
    assert check_native(two_fragments()).fragments == 2
    assert check_babel(methane()).valid and check_babel(water()).smiles == "O"
    crowded = check_babel(five_valent_carbon())  # OpenBabel caps carbon at four bonds: CH4 plus a lone H atom
    assert crowded.valid and crowded.fragments == 2 and crowded.smiles == "C"
    assert check_babel(two_fragments()).fragments == 2


def test_posebusters_flags_the_clash_and_passes_methane():
    frames = [bust_chunk([check_babel(s).molblock for s in (methane(), clash())])]
    report = frames[0]
    assert bool(report["internal_steric_clash"].iloc[0]) and not bool(report["internal_steric_clash"].iloc[1])
    score = score_posebusters(frames)
    assert score.tested == 2 and score.checks["internal_steric_clash"] == 0.5


def test_edm_scores_real_qm9_as_published():
    """The first 300 QM9 molecules: the tables must make almost every real atom stable (published data row: 99.0 %)."""
    checks = [check_edm(s) for s in qm9_rows(300)]
    atoms = sum(c.atoms for c in checks)
    assert sum(c.stable_atoms for c in checks) / atoms > 0.985
    assert np.mean([c.valid for c in checks]) > 0.95


def test_evaluate_files_counts_bad_records_and_names_denominators(tmp_path):
    good = [methane(), methane(), water(), methyl_radical(), five_valent_carbon()]
    write_structures(tmp_path / "good.xyz", good)
    (tmp_path / "bad.xyz").write_text(
        "1\n\nXx 0 0 0\n"  # unknown element
        "2\n\nC 0 0 0\nH nan 0 0\n"  # NaN coordinate
        "0\nempty\n"  # no atoms
        "3\n\nC 0 0 0\nH 1 0 0\n"  # truncated: ends after 2 of 3 atom lines
    )
    smiles = tmp_path / "train.smi"
    smiles.write_text("C\nCCO\n")
    options = EvalOptions(train_set=TrainSet.none, train_smiles=smiles, posebusters_limit=2, workers=2)
    ev = evaluate_files([tmp_path], options)
    assert ev.molecules == 9 and ev.unreadable == {"unknown element": 1, "non-finite coordinates": 1, "empty": 1, "unparseable": 1}
    assert "bad.xyz: record 1" in ev.first_unreadable[0]
    # EDM: methane x2 and water stable (13 atoms) + radical (3 of 4) + CH5 (5 of 6) = 21 of 23 atoms
    assert ev.edm.atom_stability == pytest.approx(21 / 23)
    assert ev.edm.molecule_stability == pytest.approx(3 / 9)
    assert ev.edm.stable_composition == pytest.approx(3 / 9)  # CH3 (4 + 3) and CH5 (4 + 5) have odd valence sums
    assert ev.edm.validity == pytest.approx(4 / 9)  # methane x2, water, radical
    assert ev.edm.uniqueness == pytest.approx(2 / 4)  # C, C, O and C again (RDKit gives the radical an implicit H)
    assert ev.edm.novelty == pytest.approx(1 / 4)  # only O is absent from the training SMILES
    assert ev.rdkit.validity == pytest.approx(3 / 9) and ev.rdkit.clean == pytest.approx(3 / 9)
    assert ev.openbabel.validity >= ev.rdkit.validity
    assert ev.posebusters.tested == 2
    assert {"edm", "openbabel", "rdkit", "posebusters"} <= set(ev.seconds)


def test_reconstruction_matches_rotated_copies_and_rejects_other_molecules(tmp_path):
    from unite_mol.evaluate.matching import match_pair, score_matches

    real = qm9_rows(12)[4:8]
    theta = 0.7
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    moved = [mol(s.numbers[::-1], (s.positions @ rot.T + 3.0)[::-1]) for s in real]  # rotated, shifted, reordered
    rmsd = [match_pair(p) for p in zip(moved, real)]
    assert all(r < 1e-3 for r in rmsd)
    assert match_pair((methane(), water())) == float("inf") and match_pair((None, methane())) == float("inf")
    score = score_matches(rmsd + [float("inf"), 0.05])
    assert score.pairs == 6 and score.match_rate == pytest.approx(5 / 6) and score.within_tolerance == pytest.approx(4 / 6)
    assert score.rmsd == pytest.approx((sum(rmsd) + 0.05) / 5)
    write_structures(tmp_path / "samples.xyz", moved)
    write_structures(tmp_path / "reference.xyz", real)
    options = EvalOptions(protocols=[Protocol.edm], train_set=TrainSet.none, reference=[tmp_path / "reference.xyz"], workers=1)
    assert evaluate_files([tmp_path / "samples.xyz"], options).reconstruction.match_rate == 1.0


def test_distribution_distances():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=2000), rng.normal(size=3000) + 0.5
    assert wasserstein_1d(a, b) == pytest.approx(0.5, abs=0.05)  # a shift moves every quantile by the shift
    assert wasserstein_1d(a, a) == 0.0
    real = qm9_rows(200)
    ref = build_reference(real, real)
    same = compare(real, np.concatenate([check_edm(s).bonds for s in real]), ref)
    assert same.atom_count_tv == 0 and same.element_tv == 0 and same.bond_length_w1 == 0
    stretched = [mol(s.numbers, 1.1 * s.positions) for s in real]
    bonds = np.concatenate([check_edm(s).bonds for s in stretched])
    assert compare(stretched, bonds, ref).bond_length_w1 > 0.05


def test_cli_writes_json_with_protocols_counts_and_versions(tmp_path, capsys):
    from unite_mol.cli import main

    write_structures(tmp_path / "m.xyz", [methane(), water(), two_fragments()])
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(tmp_path / "m.xyz"), "--dataset", "none", "--protocols", "edm,rdkit",
                 "--json", str(out), "--plot", str(tmp_path / "plots"), "--workers", "1"]) == 0
    report = json.loads(out.read_text())
    assert set(report["protocols"]) == {"edm", "rdkit"} and report["molecules"] == 3
    assert report["protocols"]["edm"]["samples"] == 3 and "EDM" in report["protocols"]["edm"]["protocol"]
    assert report["protocols"]["rdkit"]["figures"]["connected"] == pytest.approx(2 / 3)
    assert report["versions"]["rdkit"] and report["novelty_against"] is None
    assert (tmp_path / "plots" / "grid.png").stat().st_size > 0
    assert "molecule_stability" in capsys.readouterr().out


def test_cli_one_line_errors(tmp_path, capsys):
    from unite_mol.cli import entry

    cases = {(str(tmp_path / "missing.sdf"),): "missing.sdf: no such file",
             (str(tmp_path), "--protocols", "edm,nope"): "--protocols: unknown ['nope']",
             # the other kind's options were ignored without a word (a molecule file's --train measured nothing)
             (str(tmp_path / "m.xyz"), "--train", "t.csv", "--relax-n", "5"): "--train, --relax-n: not for molecule files",
             (str(tmp_path / "x.cif"), "--train-smiles", "t.smi"): "--train-smiles: not for crystal files"}
    write_structures(tmp_path / "m.xyz", [methane()])
    for args, expected in cases.items():
        with pytest.raises(SystemExit) as stop:
            import sys

            sys.argv = ["unite-mol", "evaluate", *args, "--dataset", "none"]
            entry()
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith("unite-mol: error:") and expected in err, err


def test_sdf_with_a_broken_record_counts_it(tmp_path):
    from unite_mol.chem import perceive

    path = tmp_path / "m.sdf"
    write_structures(path, [methane(), water()], [perceive(methane()), perceive(water())])
    text = path.read_text().split("$$$$\n")
    path.write_text(text[0] + "$$$$\nbroken\n  RDKit\n\n  x  y  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n" + text[1] + "$$$$\n")
    ev = evaluate_files([path], EvalOptions(protocols=[Protocol.edm], train_set=TrainSet.none, workers=1))
    assert ev.molecules == 3 and ev.unreadable == {"unparseable": 1} and ev.edm.validity == pytest.approx(2 / 3)


def test_evaluate_never_imports_torch():
    import subprocess
    import sys

    code = "import sys, unite_mol.cli, unite_mol.evaluate.run; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_leaderboard_keeps_protocols_apart(tmp_path):
    import importlib.util

    from conftest import REPO
    from unite_mol.evaluate.report import write_report

    spec = importlib.util.spec_from_file_location("leaderboard", REPO / "benchmarks" / "leaderboard.py")
    board = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(board)
    write_structures(tmp_path / "m.xyz", [methane(), water()])
    ev = evaluate_files([tmp_path / "m.xyz"], EvalOptions(protocols=[Protocol.edm, Protocol.rdkit], train_set=TrainSet.none, workers=1))
    write_report(ev, tmp_path / "ev.json")
    import yaml

    rows = yaml.safe_load((REPO / "benchmarks" / "published_qm9.yaml").read_text()) + board._ours("ours", tmp_path / "ev.json")
    built = board.tables(rows)
    assert [r[0] for r in built["edm"][1]][-1] == "ours" and built["edm"][1][-1][1] == "100.00"  # atom stability, %
    assert "ours" not in [r[0] for r in built["openbabel"][1]]  # no OpenBabel figures were computed for it
    assert all(r["protocol"] in board.COLUMNS for r in rows)
    assert "| GeoLDM | 98.90 |" in board.markdown(built)


def test_molecules_without_hydrogens_are_scored_with_implicit_ones(tmp_path):
    heavy = [s.heavy_atoms() for s in qm9_rows(40)[5:]]  # past methane, ammonia, water (a single heavy atom)
    write_structures(tmp_path / "heavy.xyz", heavy)
    options = EvalOptions(protocols=[Protocol.edm, Protocol.rdkit], train_set=TrainSet.none, workers=1)
    ev = evaluate_files([tmp_path / "heavy.xyz"], options)
    assert ev.implicit_hydrogens and np.isnan(ev.edm.atom_stability) and np.isnan(ev.edm.molecule_stability)
    assert np.isnan(ev.edm.stable_composition)
    assert "no explicit hydrogens" in ev.edm.molecule_stability.reason
    assert ev.edm.validity > 0.9 and ev.rdkit.validity > 0.9 and ev.rdkit.connected == ev.rdkit.validity
    write_structures(tmp_path / "heavy.xyz", heavy + [methane()])  # one hydrogen anywhere: the explicit protocol
    ev = evaluate_files([tmp_path / "heavy.xyz"], options)
    assert not ev.implicit_hydrogens and ev.edm.atom_stability < 0.5 and ev.rdkit.clean < 0.3  # read as H-free molecules


def _dies_on_three(x: int) -> int:
    if x == 3:
        os._exit(1)  # as a worker killed by the kernel or crashing in compiled code
    return x


def test_a_dead_worker_stops_the_map_with_an_error():
    """multiprocessing.Pool would wait for the lost chunk forever; the pool names the step instead."""
    from unite_mol.evaluate.pool import Chunked, WorkerPool

    with WorkerPool(2) as pool:
        assert pool.map(Chunked(_dies_on_three), [0, 1, 2], "squares") == [0, 1, 2]
        with pytest.raises(RuntimeError, match="squares: a worker process died"):
            pool.map(Chunked(_dies_on_three), list(range(8)), "squares")
