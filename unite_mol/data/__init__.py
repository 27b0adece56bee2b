"""Molecule and crystal data: QM9 from qm9pack (fixed split, cached), the CDVAE crystal CSVs, your own structure files,
and several of them as one joint training set."""
from unite_mol.data.dataset import (DataSource, MolData, MolDataConfig, load_data, place, run_atom_counts,
                                    save_atom_counts)
from unite_mol.data.frame import Frame, to_frame
from unite_mol.data.joint import JointDataset, Labelled, collate_labelled
from unite_mol.data.origin import Origin, to_origin
from unite_mol.data.packed import Packed, StructureDataset
from unite_mol.data.qm9 import QM9, load_qm9
from unite_mol.data.site_order import SiteOrder, to_site_order

__all__ = ["DataSource", "Frame", "JointDataset", "Labelled", "MolData", "MolDataConfig", "Origin", "Packed", "QM9",
           "SiteOrder", "StructureDataset", "collate_labelled", "load_data", "load_qm9", "place", "run_atom_counts",
           "save_atom_counts", "to_frame", "to_origin", "to_site_order"]
