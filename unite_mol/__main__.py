from unite_mol.cli import entry

entry()
