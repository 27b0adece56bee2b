"""Where configuration stops: Hydra YAML from the installed `unite_configs` package, composed with
command-line overrides, validated once into a dataclass schema. Errors are one line naming the key."""
from typing import TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

T = TypeVar("T")


class ConfigError(ValueError):
    pass


def _one_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def compose(config_name: str, overrides: list[str]) -> DictConfig:
    """Compose configs/<config_name>.yaml with Hydra overrides such as `model=S trainer.max_steps=100`."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.errors import HydraException

    try:
        with initialize_config_module(config_module="unite_configs", version_base=None):
            return hydra_compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(f"config: {_one_line(err)}") from None


def validate(cfg: DictConfig, schema: type[T]) -> T:
    """Merge onto the schema (unknown keys and wrong types fail here, once) and build the dataclass."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), cfg)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None)
        where = f" (key '{key}')" if key else ""
        raise ConfigError(f"config{where}: {_one_line(err)}") from None


def to_yaml(config: object) -> str:
    """The resolved config as YAML, to store beside a run and inside its checkpoints."""
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def from_yaml(text: str, schema: type[T]) -> T:
    return validate(OmegaConf.create(text), schema)
