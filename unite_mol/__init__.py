"""unite_mol: UNITE for all-atom 3-D molecules (QM9 and your own SDF / XYZ / extxyz files) and crystals
(Perov-5, Carbon-24, MP-20 in the CDVAE CSV layout; CIF, extxyz).

    import unite_mol
    gen = unite_mol.load("qm9")               # the shipped QM9 model; or a run folder, checkpoint or packed file
    structures = gen.sample(100)              # list[Structure]: numbers (n,), positions (n, 3) in Å
    mols = [unite_mol.perceive(s) for s in structures]   # RDKit bonds, sanitised flag, SMILES
    report = unite_mol.evaluate_files(["samples.sdf"])   # EDM / OpenBabel / RDKit / PoseBusters protocols
"""
from unite_core.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["Perceived", "perceive"], "unite_mol.chem"),
    **dict.fromkeys(["BadRecord", "FileFormat", "read_structures", "write_structures"], "unite_mol.formats"),
    **dict.fromkeys(["MolGenerator", "load"], "unite_mol.generator"),
    **dict.fromkeys(["MolConfig", "build_model", "train"], "unite_mol.run"),
    **dict.fromkeys(["ElementVocab", "MolBatch", "collate"], "unite_mol.batch"),
    **dict.fromkeys(["EvalOptions", "Evaluation", "evaluate_files"], "unite_mol.evaluate"),
    "Structure": "unite_mol.structure",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
