"""`unite-mol evaluate`: every published molecule-generation protocol side by side, on any SDF / XYZ / extxyz file."""
from unite_mol.evaluate.checks import Protocol
from unite_mol.evaluate.reference import TrainSet
from unite_mol.evaluate.run import EvalOptions, Evaluation, evaluate_entries, evaluate_files

__all__ = ["EvalOptions", "Evaluation", "Protocol", "TrainSet", "evaluate_entries", "evaluate_files"]
