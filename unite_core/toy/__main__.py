from unite_core.toy.cli import entry

entry()
