"""condition=formula: the GE is told each molecule's formula; sampling draws training formulas, or one given."""
import shutil
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch

import unite_mol
from unite_mol.data import Packed, StructureDataset
from unite_mol.formats import read_structures, write_structures
from unite_mol.formula import Condition, Formulas, hill, parse_formula
from unite_mol.pretrained import read_packed
from unite_mol.run import build_model, load_init
from unite_mol.sampling import draw_starts

from conftest import mol, qm9_rows
from tiny_models import TINY


def _hill_of(numbers) -> str:
    return hill(Counter(np.asarray(numbers).tolist()))


def test_hill_formulas_parse_and_print_in_hill_order():
    assert hill({6: 7, 1: 10, 8: 2}) == "C7H10O2" and hill({1: 3, 7: 1}) == "H3N" and hill({8: 1, 6: 1}) == "CO"
    assert hill({1: 1, 9: 1}) == "FH"  # no carbon: alphabetical
    assert parse_formula("H10C7O2") == {1: 10, 6: 7, 8: 2} and parse_formula("CH4") == {6: 1, 1: 4}
    for bad in ("", "C7h", "Xx2", "C2C3", "C0", "7C", "C-1"):
        with pytest.raises(ValueError, match=rf"^formula '{bad}'"):
            parse_formula(bad)


def test_the_formula_table_counts_each_training_formula_most_common_first():
    rows = qm9_rows(300)
    train = StructureDataset(Packed.from_structures(rows), np.arange(20, 300))  # the first 20 are held out
    formulas, conds = Formulas.of(train)
    expected = Counter(_hill_of(s.numbers) for s in rows[20:])
    assert dict(zip(formulas.names, formulas.counts)) == dict(expected) and formulas.counts == sorted(formulas.counts, reverse=True)
    assert [formulas.names[c] for c in conds] == [_hill_of(s.numbers) for s in rows[20:]]
    assert formulas.atoms().tolist() == [sum(parse_formula(n).values()) for n in formulas.names]
    assert formulas.index(formulas.names[3]) == 3
    with pytest.raises(ValueError, match=r"^formula C40H2: not one of the model's \d+ training formulas \(most common: "):
        formulas.index("C40H2")
    drawn, conds = draw_starts(20_000, np.zeros(1), formulas, torch.Generator().manual_seed(0))
    assert torch.equal(drawn, formulas.atoms()[conds])
    share = torch.bincount(conds, minlength=len(formulas)).float() / len(conds)
    assert torch.allclose(share, torch.tensor(formulas.counts) / sum(formulas.counts), atol=0.01)


@pytest.fixture(scope="module")
def formula_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("formula")
    write_structures(tmp / "mols.xyz", qm9_rows(80))
    common = ["dataset=files", f"data.path={tmp / 'mols.xyz'}", *TINY, "trainer=smoke", "trainer.batch_size=16", "trainer.progress=false",
              "eval_molecules=4", "eval_samples=3", "sampler.steps=2"]
    done = mol("train", *common, "trainer.max_steps=2", f"run.dir={tmp / 'plain'}")
    assert done.returncode == 0, done.stderr
    done = mol("train", *common, "trainer.max_steps=3", "trainer.eval_every=3", "condition=formula", f"init_from={tmp / 'plain'}",
               f"run.dir={tmp / 'run'}")
    assert done.returncode == 0 and "starting from its EMA weights" in done.stdout, done.stderr
    return tmp


def test_a_formula_run_starts_from_an_unconditional_model_with_every_formula_as_its_one_condition(formula_run):
    plain, run = unite_mol.load(formula_run / "plain"), unite_mol.load(formula_run / "run")
    formulas = Formulas.load(formula_run / "run")
    assert run.formulas == formulas and run.config.num_conditions == len(formulas) > 1 and plain.formulas is None
    cfg = replace(plain.config, condition=Condition.formula, num_conditions=5, init_from=str(formula_run / "plain"))
    model = build_model(cfg)
    load_init(model, cfg)
    one, table = plain.model.ge.c_embed.table.weight, model.ge.c_embed.table.weight  # (2, D), (6, D): the last row is the null one
    assert torch.equal(table[:5], one[:1].expand(5, -1)) and torch.equal(table[5], one[1])
    trained = run.model.ge.c_embed.table.weight  # (formulas + 1, D)
    assert trained.shape[0] == len(formulas) + 1 and not torch.equal(trained[0], trained[1])  # trained apart from one start
    assert len(read_structures(formula_run / "run" / "samples.sdf").structures) == 3  # its own evaluation sampled


def test_a_formula_model_samples_training_formulas_or_the_one_asked_for(formula_run, tmp_path):
    gen = unite_mol.load(formula_run / "run")
    made = gen.sample(6, steps=2, seed=1)
    sizes = gen.formulas.atoms()
    assert all(len(s.numbers) in sizes.tolist() for s in made)
    wanted = gen.formulas.names[0]
    done = mol("sample", "--ckpt", str(formula_run / "run"), "--formula", wanted, "--n", "4", "--steps", "2", "--cfg", "2",
               "--out", str(tmp_path / "x.xyz"))
    assert done.returncode == 0, done.stderr
    assert [len(s.numbers) for s in read_structures(tmp_path / "x.xyz").structures] == [sum(parse_formula(wanted).values())] * 4
    done = mol("sample", "--ckpt", str(formula_run / "run"), "--formula", "C40H2", "--out", str(tmp_path / "y.xyz"))
    assert done.returncode == 2 and done.stderr.startswith("unite-mol: error: formula C40H2: not one of the model's"), done.stderr
    done = mol("sample", "--ckpt", str(formula_run / "plain"), "--formula", wanted, "--out", str(tmp_path / "y.xyz"))
    assert done.returncode == 2 and done.stderr.strip() == (f"unite-mol: error: formula {wanted}: this model is not formula-conditioned "
                                                            "(it was trained with condition=dataset)")


def test_a_packed_formula_model_keeps_its_formulas_and_only_a_guide_of_the_same_formulas_guides_it(formula_run, tmp_path):
    run = formula_run / "run"
    done = mol("pack", "--ckpt", str(run), "--out", str(tmp_path / "f.pt"))
    assert done.returncode == 0, done.stderr
    assert read_packed(tmp_path / "f.pt").formulas == Formulas.load(run).to_dict()
    packed = unite_mol.load(tmp_path / "f.pt")
    assert packed.formulas == Formulas.load(run) and len(packed.sample(2, steps=2, formula=packed.formulas.names[1])) == 2
    with pytest.raises(ValueError, match=r"^condition=formula differs from guide .*plain's dataset$"):
        unite_mol.load(run, guide=formula_run / "plain")
    assert unite_mol.load(run, guide=tmp_path / "f.pt").guide is not None
    other = tmp_path / "other"  # a run of as many formulas, trained on other molecules
    shutil.copytree(run, other)
    Formulas(list(reversed(packed.formulas.names)), packed.formulas.counts).save(other)
    with pytest.raises(ValueError, match=rf"^guide {other}: its training formulas \(its conditions\) differ from the model's$"):
        unite_mol.load(run, guide=other)


def test_a_joint_run_cannot_condition_on_formulas():
    done = mol("train", "dataset=qm9_perov5", "condition=formula", "joint.0.path=nowhere", "run.dir=/nonexistent/r")
    assert done.returncode == 2 and done.stderr.strip() == ("unite-mol: error: condition=formula conditions one dataset on its "
                                                            "formulas; a joint run's condition is the dataset id"), done.stderr
