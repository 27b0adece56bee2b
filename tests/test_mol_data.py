"""Molecule data: QM9 parsing against known molecules, the fixed split, files in and out, bad records."""
import numpy as np
import pandas as pd
import pytest
import torch

from unite_mol.chem import perceive
from unite_mol.data import DataSource, MolDataConfig, load_data
from unite_mol.data.qm9 import SPLIT_DIGEST, SPLIT_SIZES, QM9_SIZE, _parse_row, make_split, qm9_csv_files, split_digest
from unite_mol.formats import BadRecord, read_structures, write_structures
from unite_mol.batch import ElementVocab, collate
from unite_mol.structure import Structure

from conftest import qm9_rows


def _bond(s: Structure, i: int, j: int) -> float:
    return float(np.linalg.norm(s.positions[i] - s.positions[j]))


def test_qm9_first_molecules_are_methane_ammonia_water():
    methane, ammonia, water = qm9_rows(3)
    assert methane.symbols == ["C", "H", "H", "H", "H"] and ammonia.symbols == ["N", "H", "H", "H"] and water.symbols == ["O", "H", "H"]
    assert all(abs(_bond(methane, 0, k) - 1.0919) < 1e-3 for k in range(1, 5))  # C–H in QM9's B3LYP geometry
    assert abs(_bond(water, 0, 1) - 0.9614) < 1e-3
    np.testing.assert_allclose(methane.positions.mean(0), 0, atol=1e-6)  # centred


def test_qm9_rows_perceive_to_their_smiles():
    rows = qm9_rows(30)
    smiles = [perceive(s).smiles for s in rows[:8]]
    assert smiles == ["C", "N", "O", "C#C", "C#N", "C=O", "CC", "CO"]


def test_mathematica_exponents_parse():
    s = _parse_row("['C','H']", "[[0.1,2.5*^-5,0.],[1.09,0.,1e-3]]")
    assert s.positions.shape == (2, 3) and np.isfinite(s.positions).all()


def test_split_is_fixed_and_disjoint():
    split = make_split(QM9_SIZE)
    assert split_digest(split) == SPLIT_DIGEST
    assert [len(split[k]) for k in ("train", "val", "test")] == [*SPLIT_SIZES, QM9_SIZE - sum(SPLIT_SIZES)]
    assert len(np.unique(np.concatenate(list(split.values())))) == QM9_SIZE


def test_collate_pads_and_masks():
    vocab = ElementVocab(["H", "C", "N", "O", "F"])
    rows = qm9_rows(3)
    batch = collate(rows, vocab)
    assert batch.types.shape == (3, 5) and batch.mask.sum(1).tolist() == [5, 4, 3]
    assert torch.all(batch.positions[~batch.mask] == 0) and batch.types[0].tolist() == [1, 0, 0, 0, 0]


@pytest.mark.parametrize("suffix", ["sdf", "xyz", "extxyz"])
def test_structure_files_round_trip(tmp_path, suffix):
    rows = qm9_rows(12)
    path = write_structures(tmp_path / f"mols.{suffix}", rows, [perceive(s) for s in rows])
    back = read_structures(path).structures
    assert len(back) == len(rows)
    for a, b in zip(rows, back):
        assert a.symbols == b.symbols
        np.testing.assert_allclose(a.positions, b.positions, atol=2e-4)


def test_sdf_keeps_unsanitisable_samples_with_a_flag(tmp_path):
    from rdkit import Chem

    tetra = np.array([[0, 0, 0], [1, 1, 1], [-1, -1, 1], [-1, 1, -1], [1, -1, -1], [0, 0, 1.7]], np.float32) * 0.63
    broken = Structure(np.array([6, 1, 1, 1, 1, 1]), tetra)  # CH5: no valid bond orders
    good = qm9_rows(6)[5]
    mols = [broken, good]
    path = write_structures(tmp_path / "out.sdf", mols, [perceive(s) for s in mols])
    flags = [m.GetIntProp("unite_sanitized") for m in Chem.SDMolSupplier(str(path), removeHs=False, sanitize=False)]
    assert flags == [0, 1]


def test_ase_reads_our_extxyz(tmp_path):
    import ase.io

    rows = qm9_rows(4)
    path = write_structures(tmp_path / "m.extxyz", rows, [perceive(s) for s in rows])
    atoms = ase.io.read(path, index=":")
    assert [a.get_chemical_symbols() for a in atoms] == [s.symbols for s in rows]


BAD_XYZ = "3\nok\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n2\nbad\nC 0 0 0\nC nan 0 0\n2\nbad element\nQq 0 0 0\nH 1 0 0\n1\nshort\n"


def test_bad_xyz_records_name_file_and_record(tmp_path):
    path = tmp_path / "bad.xyz"
    path.write_text(BAD_XYZ)
    with pytest.raises(BadRecord, match=r"bad.xyz: record 2 \(line 6\): non-finite coordinates"):
        read_structures(path)
    result = read_structures(path, skip_bad=True)
    assert len(result.structures) == 1 and result.skipped == 3 and result.records == [1]


def test_bad_sdf_record_is_named(tmp_path):
    good = write_structures(tmp_path / "g.sdf", qm9_rows(2), [perceive(s) for s in qm9_rows(2)]).read_text()
    (tmp_path / "b.sdf").write_text(good + "garbage\n  no atoms here\n\nM  END\n$$$$\n")
    with pytest.raises(BadRecord, match=r"b.sdf: record 3"):
        read_structures(tmp_path / "b.sdf")
    assert read_structures(tmp_path / "b.sdf", skip_bad=True).skipped == 1


def test_an_empty_file_is_one_line_when_named_and_passed_over_in_a_folder(tmp_path):
    from unite_mol.data.crystals import read_crystals
    from unite_mol.evaluate.inputs import read_entries

    for name, read in (("e.sdf", read_structures), ("e.xyz", read_structures), ("e.cif", read_crystals)):
        (tmp_path / name).write_text(" \n\n")
        with pytest.raises(ValueError, match=rf"{name}: empty file \(no structures in it\)"):  # the .sdf was RDKit's "File error"
            read(tmp_path / name)
    write_structures(tmp_path / "a.xyz", qm9_rows(20))
    assert len(read_entries([tmp_path])) == 20  # evaluate on the folder: the empty files beside a.xyz hold nothing
    data = load_data(MolDataConfig(source=DataSource.files, path=str(tmp_path), holdout_fraction=0.1))
    assert len(data.train) + len(data.val) + len(data.test) == 20
    (tmp_path / "cells").mkdir()
    (tmp_path / "cells" / "e.cif").write_text("")
    with pytest.raises(FileNotFoundError, match=r"cells: no .* files \(empty ones aside\)"):
        read_crystals(tmp_path / "cells")


def test_files_dataset_reads_a_folder_and_names_unknown_elements(tmp_path):
    rows = qm9_rows(40)
    write_structures(tmp_path / "a.xyz", rows[:20])
    write_structures(tmp_path / "sub" / "b.extxyz", rows[20:])
    data = load_data(MolDataConfig(source=DataSource.files, path=str(tmp_path), holdout_fraction=0.1))
    assert (len(data.train), len(data.val), len(data.test)) == (32, 4, 4)
    assert data.atom_counts.sum() == 32
    with pytest.raises(ValueError, match=r"a.xyz: record 2: elements \['N'\] not in data.elements"):
        load_data(MolDataConfig(source=DataSource.files, path=str(tmp_path), elements=["H", "C", "O"]))
    with pytest.raises(FileNotFoundError, match="data.path"):
        load_data(MolDataConfig(source=DataSource.files, path=str(tmp_path / "none")))


def test_sample_scores_count_fragments_and_charges():
    from unite_mol.metrics import score_samples

    methane, ammonia, water, _, _, formaldehyde = qm9_rows(6)
    apart = Structure(np.concatenate([water.numbers, methane.numbers]), np.concatenate([water.positions, methane.positions + 8]))
    torn = formaldehyde.positions.copy()
    torn[3] += [0, 0, 6]  # one hydrogen pulled away: RDKit makes [CH-]=O + [H+]
    proton = Structure(formaldehyde.numbers, torn)
    tetra = np.array([[0, 0, 0], [1, 1, 1], [-1, -1, 1], [-1, 1, -1], [1, -1, -1], [0, 0, 1.7]], np.float32) * 0.63
    ch5 = Structure(np.array([6, 1, 1, 1, 1, 1]), tetra)
    perceived = [perceive(s) for s in (methane, ammonia, apart, proton, ch5)]
    assert [p.sanitized for p in perceived] == [True, True, True, True, False]
    assert [p.fragments for p in perceived[:4]] == [1, 1, 2, 2] and not perceived[3].neutral
    score = score_samples(perceived)
    assert (score.sanitized, score.connected, score.clean) == (0.8, 0.4, 0.4)
    assert score.unique == 0.75 and perceived[2].smiles == "C"  # the largest fragment of "apart" is methane again


def test_without_hydrogens_a_files_dataset_keeps_the_heavy_atoms_centred(tmp_path):
    rows = qm9_rows(40)
    write_structures(tmp_path / "a.xyz", rows)
    data = load_data(MolDataConfig(source=DataSource.files, path=str(tmp_path), elements=["C", "N", "O", "F"], max_atoms=9,
                                   hydrogens=False, holdout_fraction=0.1))
    kept = [data.train[i] for i in range(len(data.train))]
    assert all((s.numbers != 1).all() and np.allclose(s.positions.mean(0), 0, atol=1e-5) for s in kept)
    heavy = {tuple(sorted(r.numbers[r.numbers != 1])) for r in rows}
    assert {tuple(sorted(s.numbers)) for s in kept} <= heavy and data.atom_counts.argmax() <= 9
    write_structures(tmp_path / "h2.xyz", [Structure(np.array([1, 1]), np.array([[0, 0, 0], [0.74, 0, 0]], np.float32))])
    with pytest.raises(ValueError, match=r"h2.xyz: record 1: no heavy atoms \(data.hydrogens=false\)"):
        load_data(MolDataConfig(source=DataSource.files, path=str(tmp_path), hydrogens=False))
    with pytest.raises(ValueError, match="data.hydrogens=false is for molecules"):
        load_data(MolDataConfig(source=DataSource.crystals, path=str(tmp_path), hydrogens=False))


def test_heavy_atoms_perceive_with_implicit_hydrogens_to_the_dataset_smiles():
    from unite_mol.chem import canonical_smiles

    table = pd.read_csv(qm9_csv_files()[0], usecols=["SMILES"], nrows=60)["SMILES"]
    rows = qm9_rows(60)
    perceived = [perceive(s.heavy_atoms(), implicit_hydrogens=True) for s in rows]
    agree = [p.smiles == canonical_smiles(smiles) for p, smiles in zip(perceived, table)]
    assert np.mean(agree) > 0.9 and all(p.neutral for p in perceived if p.sanitized)
    crowded = Structure(np.array([6, 6, 6, 6, 6, 6]), np.vstack([[0, 0, 0], 1.5 * np.eye(3), -1.5 * np.eye(3)[:2]]).astype(np.float32))
    assert not perceive(crowded, implicit_hydrogens=True).sanitized  # a carbon with five single bonds
