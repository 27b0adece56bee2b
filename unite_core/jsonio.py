"""Standard JSON out: no NaN or Infinity (which strict parsers reject). A figure that is undefined is an
`Undefined` (a NaN float that carries its reason); written, it becomes `null` beside `<key>_undefined`."""
import json
import math
import os
from typing import Any

from unite_core.io import write_text_atomic


class Undefined(float):
    """NaN with a reason, e.g. Undefined("no valid molecules") for a uniqueness over zero valid molecules."""

    reason: str

    def __new__(cls, reason: str) -> "Undefined":
        value = super().__new__(cls, "nan")
        value.reason = reason
        return value

    def __reduce__(self):
        return Undefined, (self.reason,)


def _why(value: float) -> str:
    return getattr(value, "reason", "infinite" if math.isinf(value) else "not a number")


def strict(obj: Any) -> Any:
    """A copy of dicts / lists / tuples with every non-finite float as None; in a dict, `<key>_undefined`
    follows the key with the reason."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            out[key] = strict(value)
            if isinstance(value, float) and not math.isfinite(value):
                out[f"{key}_undefined"] = _why(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


def dumps(obj: Any, indent: int | None = 1) -> str:
    return json.dumps(strict(obj), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Standard JSON, written atomically."""
    write_text_atomic(path, dumps(obj) + "\n")


def figure(value: float, spec: str = ".4f") -> str:
    """A figure for a console table: `n/a` where it is undefined."""
    return format(value, spec) if math.isfinite(value) else "n/a"
