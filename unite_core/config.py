"""Where configuration stops: Hydra YAML from the installed `unite_configs` package, composed with
command-line overrides, validated once into a dataclass schema. Errors are one line naming the key."""
from typing import TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

T = TypeVar("T")


class ConfigError(ValueError):
    pass


def at_least(section: str, config: object, low: float, *names: str) -> None:
    """A schema's range check, one line for the first of `names` below `low` (NaN too): `section.name must be >= low`."""
    for name in names:
        if not getattr(config, name) >= low:
            raise ValueError(f"{section}.{name} must be >= {low}, got {getattr(config, name)}")


def _one_line(err: BaseException) -> str:
    """The root cause of a Hydra/OmegaConf error as one line, naming the key (or the group's options)."""
    cause = err.__cause__ if isinstance(err.__cause__, OmegaConfBaseException) else err
    lines = [line.strip() for line in str(cause).strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(err).__name__
    key = getattr(cause, "full_key", None)
    if key:
        return f"key '{key}': {first}"
    if "Available options" in str(cause):
        options = [line for line in lines if not line.startswith(("Available", "Config search", "provider="))][1:]
        return f"{first} (options: {', '.join(options)})"
    return first


def compose(config_name: str, overrides: list[str], schema: type) -> DictConfig:
    """Compose configs/<config_name>.yaml with Hydra overrides such as `model=S trainer.max_steps=100`.

    The schema is registered as `<config_name>_schema`, which the YAML names first in its defaults list, so
    every schema field can be overridden and an unknown key fails here, naming the key."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.config_store import ConfigStore
    from hydra.errors import HydraException

    ConfigStore.instance().store(name=f"{config_name}_schema", node=schema)
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
        raise ConfigError(f"config: {_one_line(err)}") from None


def to_yaml(config: object) -> str:
    """The resolved config as YAML, to store beside a run and inside its checkpoints."""
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def changed_keys(old_yaml: str, new_yaml: str, schema: type | None = None) -> list[str]:
    """Dotted keys whose values differ between two resolved configs. With `schema`, a key the older config
    lacks (it was written before the key existed) counts at its default; a key since removed still counts."""
    if schema is not None:
        try:
            old_yaml = to_yaml(from_yaml(old_yaml, schema))
        except ConfigError:
            pass

    def flat(node: object, prefix: str = "") -> dict[str, object]:
        if isinstance(node, dict):
            return {k: v for key, sub in node.items() for k, v in flat(sub, f"{prefix}{key}.").items()}
        return {prefix[:-1]: node}

    old, new = (flat(OmegaConf.to_container(OmegaConf.create(y))) for y in (old_yaml, new_yaml))
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def from_yaml(text: str, schema: type[T]) -> T:
    return validate(OmegaConf.create(text), schema)
