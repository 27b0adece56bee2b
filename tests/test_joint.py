"""Joint runs (ADiT's joint model): one GE on molecules and crystals, the dataset id as the condition, one kind per batch."""
import subprocess

import pytest
import torch

from unite_core.config import compose, validate
from unite_core.flow import SamplerConfig
from unite_core.rng import BatchRandom
from unite_mol.batch import ElementVocab, collate
from unite_mol.data.crystals import read_crystals
from unite_mol.data.joint import JointDataset, collate_labelled
from unite_mol.data.packed import Packed, StructureDataset
from unite_mol.decoder import LatticeReadout
from unite_mol.run import MolConfig, build_model
from unite_mol.sampling import Kind, generate_structures

from conftest import TORCHRUN, TORCHRUN_ENV, mol, qm9_rows
from crystal_cells import SHARED, csv_rows, write_csv
from tiny_models import TINY, tiny_mol


def _joint_config(lattice: LatticeReadout = LatticeReadout.token) -> MolConfig:
    cfg = validate(compose("mol", ["dataset=qm9_perov5"], MolConfig), MolConfig)
    tiny = tiny_mol()
    tiny.data, tiny.joint, tiny.num_conditions, tiny.lattice = cfg.data, cfg.joint, cfg.num_conditions, lattice
    return tiny


def _batches(tmp_path) -> tuple[ElementVocab, object, object]:
    cfg = _joint_config()
    vocab = ElementVocab(cfg.elements)
    crystals = read_crystals(write_csv(tmp_path / "p.csv", csv_rows(SHARED / "perov_5/val.csv", 4))).structures
    molecules = [m.centred() for m in qm9_rows(4)]
    return vocab, collate(molecules, vocab, 0), collate(crystals, vocab, 1)


def test_the_joint_preset_unites_the_vocabularies_and_needs_the_lattice_token():
    cfg = _joint_config()
    assert cfg.elements[:5] == ["H", "C", "N", "O", "F"] and len(cfg.elements) == 5 + 56 - 3  # N, O, F are shared
    assert cfg.max_atoms == 29 and [p.dataset_id for p in cfg.parts] == [0, 1] and cfg.part(1).periodic
    with pytest.raises(ValueError, match="need lattice=token"):
        build_model(_joint_config(LatticeReadout.pooled))
    clash = _joint_config()
    clash.joint[0].dataset_id = 0
    with pytest.raises(ValueError, match="must differ"):
        build_model(clash)
    with pytest.raises(ValueError, match="knows \\[0, 1\\]"):
        cfg.part(2)


def test_one_model_trains_on_molecule_and_crystal_batches_and_samples_both(tmp_path):
    vocab, molecules, crystals = _batches(tmp_path)
    model = build_model(_joint_config())
    mol_obs, cry_obs = model.tokenizer(molecules), model.tokenizer(crystals)
    assert not mol_obs.latent_mask[:, 0].any() and cry_obs.latent_mask[:, 0].all()  # a molecule's lattice latent is off
    for batch, used, unused in ((molecules, "molecule_head", "lattice_head"), (crystals, "lattice_head", "molecule_head")):
        model.zero_grad()
        B = len(batch)
        losses = model(batch, BatchRandom.for_step(0, 0, 0, slice(0, B), B, torch.device("cpu")))
        assert torch.isfinite(losses.total)
        losses.total.backward()
        assert getattr(model.decoder, used).weight.grad.abs().sum() > 0
        assert getattr(model.decoder, unused).weight.grad is None or getattr(model.decoder, unused).weight.grad.abs().sum() == 0
    model.eval()
    gen = torch.Generator().manual_seed(0)
    cfg = _joint_config()
    qm9, perov = Kind.of(cfg.part(0), vocab), Kind.of(cfg.part(1), vocab)
    assert (qm9.cond, qm9.periodic, qm9.types) == (0, False, (0, 1, 2, 3, 4)) and perov.periodic and len(perov.types) == 56
    assert qm9.odd[:5] == (True, False, True, False, True) and not any(qm9.odd[5:]) and perov.odd is None  # H C N O F; metals unused
    guided = generate_structures(model, torch.tensor([5, 9] * 4), qm9, SamplerConfig(steps=2, constraint_scale=1.0), vocab, gen)
    assert {z for s in guided for z in s.numbers} <= {1, 6, 7, 8, 9}  # guided over the molecules' elements only
    with pytest.raises(ValueError, match="the even-valence constraint is for molecules"):
        generate_structures(model, torch.tensor([5, 5]), perov, SamplerConfig(steps=2, constraint_scale=1.0), vocab, gen)
    made = generate_structures(model, torch.tensor([5, 9] * 20), qm9, SamplerConfig(steps=2), vocab, gen)
    assert [len(s.numbers) for s in made] == [5, 9] * 20 and not any(s.is_crystal for s in made)
    assert {z for s in made for z in s.numbers} <= {1, 6, 7, 8, 9}  # an untrained model's molecules: still only H C N O F
    made = generate_structures(model, torch.tensor([5, 5] * 20), perov, SamplerConfig(steps=2), vocab, gen)
    assert all(s.is_crystal for s in made) and not {z for s in made for z in s.numbers} & {1, 6}  # no H or C in Perov-5
    mixed = torch.cat([mol_obs.latent_mask[:1, :6], cry_obs.latent_mask[:1, :6]])
    with pytest.raises(ValueError, match="mixes molecules and crystals"):
        model.decoder(torch.zeros(2, 6, 8), mixed)


def test_a_joint_dataset_labels_each_structure_and_a_batch_never_mixes_kinds(tmp_path):
    vocab, _, _ = _batches(tmp_path)
    molecules = StructureDataset(Packed.from_structures(qm9_rows(6)), [0, 2, 4])
    crystals = StructureDataset(Packed.from_structures(read_crystals(tmp_path / "p.csv").structures), [1, 3])
    joint = JointDataset([molecules, crystals], [0, 1], [1, 3])
    assert len(joint) == 3 + 2 * 3 and joint.groups.tolist() == [0] * 3 + [1] * 6
    assert joint[4].cond == 1 and joint[4].structure.is_crystal and joint[0].cond == 0 and not joint[0].structure.is_crystal
    assert joint.sizes.tolist()[:3] == molecules.sizes.tolist()
    batch = collate_labelled([joint[i] for i in (3, 5)], vocab)
    assert batch.cond.tolist() == [1, 1] and batch.cells.shape == (2, 3, 3)
    with pytest.raises(ValueError, match="mixes molecules and crystals"):
        collate_labelled([joint[0], joint[3]], vocab)


def _joint_args(tmp_path) -> list[str]:
    """A small joint run: 40 QM9 molecules from a file and 24 Perov-5 crystals (val.csv) twice over."""
    from unite_mol.formats import write_structures

    write_structures(tmp_path / "mols.xyz", qm9_rows(40))
    perov = tmp_path / "perov"
    perov.mkdir()
    write_csv(perov / "val.csv", csv_rows(SHARED / "perov_5/val.csv", 24))
    write_csv(perov / "test.csv", csv_rows(SHARED / "perov_5/test.csv", 6))
    return ["dataset=qm9_perov5", "data.source=files", f"data.path={tmp_path / 'mols.xyz'}", f"data.cache={tmp_path / 'cache'}",
            f"joint.0.path={perov}", "joint.0.train_split=val", "joint.0.repeat=2", f"joint.0.cache={tmp_path / 'cache'}", *TINY,
            "trainer=smoke", "trainer.batch_size=8", "trainer.progress=false", "eval_samples=3", "eval_molecules=3", "sampler.steps=2"]


def test_train_a_joint_run_then_sample_and_pack_each_dataset(tmp_path):
    run = tmp_path / "run"
    done = mol("train", *_joint_args(tmp_path), "trainer.max_steps=4", "trainer.eval_every=4", f"run.dir={run}")
    assert done.returncode == 0, done.stderr
    header = (run / "eval.csv").read_text().splitlines()[0]
    assert "sample_sanitized" in header and "d1_sample_structural" in header and "d1_recon_fractional_error" in header
    assert (run / "samples.sdf").is_file() and (run / "samples_d1.extxyz").is_file()
    done = mol("pack", "--ckpt", str(run), "--out", str(tmp_path / "joint.pt"))
    assert done.returncode == 0, done.stderr
    for ckpt in (run, tmp_path / "joint.pt"):
        done = mol("sample", "--ckpt", str(ckpt), "--dataset-id", "1", "--n", "3", "--steps", "2",
                    "--out", str(tmp_path / "x.cif"))
        assert done.returncode == 0 and "3 crystals" in done.stdout, done.stderr
    done = mol("sample", "--ckpt", str(run), "--n", "3", "--steps", "2", "--out", str(tmp_path / "x.sdf"))
    assert done.returncode == 0 and "RDKit-sanitisable" in done.stdout, done.stderr
    done = mol("sample", "--ckpt", str(run), "--dataset-id", "1", "--n", "3", "--out", str(tmp_path / "y.sdf"))
    assert done.returncode == 2 and "crystals are written as .cif" in done.stderr


def test_a_joint_run_trains_on_two_processes(tmp_path):
    """DDP must allow a step to leave parameters unused (a molecule batch never reaches the lattice head)."""
    cmd = [*TORCHRUN, "-m", "unite_mol", "train", *_joint_args(tmp_path), "trainer.max_steps=6", "trainer.eval_every=100",
           "run.device=cpu", f"run.dir={tmp_path / 'run'}"]
    done = subprocess.run(cmd, env=TORCHRUN_ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained to step 6" in done.stdout + done.stderr
