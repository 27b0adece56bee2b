"""Self-healing caches: a file derived from a source (a package's data, a wheel's weights) is written
atomically with a SHA-256 digest beside it (`<name>.sha256`); when it is read, a missing or wrong digest, or
a reader that fails, means it is rebuilt from its source with a one-line warning. Never for files that must
not silently change (the QM9 split): those are checked by their own code."""
import hashlib
import os
import warnings
from pathlib import Path
from typing import Callable, TypeVar

from unite_core.io import atomic_path, write_text_atomic

T = TypeVar("T")


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _problem(path: Path) -> str | None:
    if not path.exists():
        return "missing"
    recorded = digest_path(path)
    if not recorded.exists():
        return "has no digest (written by an older version, or cut off before it)"
    if recorded.read_text().strip() != file_digest(path):
        return "does not match its digest (truncated or changed)"
    return None


def cached(path: str | os.PathLike, build: Callable[[Path], None], read: Callable[[Path], T], source: str) -> T:
    """`read(path)`, after (re)building the file with `build(tmp_path)` where it is missing or broken."""
    path = Path(path)
    problem = _problem(path)
    if problem is None:
        try:
            return read(path)
        except Exception as err:  # any failure to read our own cache means it is broken; it is rebuilt below
            problem = f"is unreadable ({type(err).__name__})"
    if problem != "missing":
        warnings.warn(f"cache {path} {problem}; rebuilding it from {source}", stacklevel=2)
    with atomic_path(path) as tmp:
        build(tmp)
    write_text_atomic(digest_path(path), file_digest(path) + "\n")
    return read(path)
