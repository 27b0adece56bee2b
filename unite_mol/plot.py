"""Pictures of samples: a grid of 2-D depictions of the molecules RDKit could sanitise."""
from pathlib import Path

from unite_core.io import atomic_path
from unite_mol.chem import Perceived


def draw_grid(perceived: list[Perceived], path: Path, count: int = 24, per_row: int = 6) -> None:
    """The first `count` sanitised molecules with their SMILES; nothing is written if none sanitised."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    mols = [Chem.RemoveHs(p.mol, sanitize=False) for p in perceived if p.sanitized][:count]
    if not mols:
        return
    for m in mols:
        m.RemoveAllConformers()
    image = Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=(200, 200), legends=[Chem.MolToSmiles(m) for m in mols])
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
