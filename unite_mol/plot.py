"""Pictures of samples: a grid of 2-D depictions of the molecules RDKit could sanitise, and of crystal unit cells."""
from pathlib import Path

from unite_core.io import atomic_path
from unite_mol.chem import Perceived
from unite_mol.structure import Structure


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


def draw_crystal_grid(structures: list[Structure], path: Path, count: int = 16, per_row: int = 4) -> None:
    """The first `count` crystals' unit cells (ASE's drawing, atoms coloured by element), titled by formula."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ase.visualize.plot import plot_atoms

    shown = structures[:count]
    if not shown:
        return
    rows = -(-len(shown) // per_row)
    fig, axes = plt.subplots(rows, per_row, figsize=(2.6 * per_row, 2.6 * rows), squeeze=False)
    for ax, s in zip(axes.flat, shown):
        atoms = s.to_ase()
        plot_atoms(atoms, ax, radii=0.4, rotation="10x,20y,0z", show_unit_cell=2)
        ax.set_title(atoms.get_chemical_formula(), fontsize=8)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
