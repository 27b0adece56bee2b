"""Hydra configs, installed as the package `unite_configs` so console scripts find them without a checkout."""
