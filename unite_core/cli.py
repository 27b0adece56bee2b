"""Shared command-line plumbing: user errors become one line on stderr, never a deep traceback."""
import os
import sys
from typing import Callable

from unite_core.config import ConfigError
from unite_core.train import NonFiniteLoss

USER_ERRORS = (ConfigError, NonFiniteLoss, OSError, ValueError)


def run_cli(prog: str, main: Callable[[list[str]], int], argv: list[str] | None = None) -> int:
    """Call main(argv); a user error prints `prog: error: ...` and exits 2 (UNITE_DEBUG=1 shows the traceback)."""
    try:
        return main(sys.argv[1:] if argv is None else argv)
    except USER_ERRORS as err:
        if os.environ.get("UNITE_DEBUG"):
            raise
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; the newest checkpoint is kept and `run.resume=true` continues it", file=sys.stderr)
        return 130
