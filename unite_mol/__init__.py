"""unite_mol: UNITE for all-atom 3-D molecules (QM9 and your own SDF / XYZ / extxyz files).

    import unite_mol
    gen = unite_mol.load("runs/qm9")          # run folder or checkpoint file
    structures = gen.sample(100)              # list[Structure]: numbers (n,), positions (n, 3) in Å
    mols = [unite_mol.perceive(s) for s in structures]   # RDKit bonds, sanitised flag, SMILES
"""
from unite_mol.chem import Perceived, perceive
from unite_mol.formats import BadRecord, FileFormat, read_structures, write_structures
from unite_mol.generator import MolGenerator, load
from unite_mol.run import MolConfig, build_model, train
from unite_mol.structure import ElementVocab, MolBatch, Structure, collate

__all__ = [
    "BadRecord", "ElementVocab", "FileFormat", "MolBatch", "MolConfig", "MolGenerator", "Perceived", "Structure",
    "build_model", "collate", "load", "perceive", "read_structures", "train", "write_structures",
]
