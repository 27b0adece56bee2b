"""Molecule data: QM9 from qm9pack (fixed split, cached) and your own SDF / XYZ / extxyz files."""
from unite_mol.data.dataset import DataSource, MolData, MolDataConfig, load_data
from unite_mol.data.packed import Packed, StructureDataset
from unite_mol.data.qm9 import QM9, load_qm9

__all__ = ["DataSource", "MolData", "MolDataConfig", "Packed", "QM9", "StructureDataset", "load_data", "load_qm9"]
