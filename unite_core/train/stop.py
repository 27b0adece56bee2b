"""Graceful stop: SIGTERM (cluster preemption, `timeout`, systemd), SIGINT (the first Ctrl-C) and SIGUSR1
ask the training loop to finish its optimiser step, write a checkpoint and return; a second signal aborts
at once (KeyboardInterrupt). A run stopped this way exits with STOPPED_EXIT and resumes exactly."""
import signal
import threading
from types import FrameType

STOPPED_EXIT = 75  # EX_TEMPFAIL: stopped early with a checkpoint written; re-run the same command to continue
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class StopRequest:
    """`with StopRequest() as stop:` ... `stop.signal` is the name of the first signal received, or None.
    Handlers are installed only in the main thread (Python delivers signals there) and restored on exit."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt(f"second signal ({signal.Signals(signum).name}): aborted without a checkpoint")
        self.signal = signal.Signals(signum).name

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}


def ignore_stop_signals(worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C (sent to the whole foreground process group) and SIGUSR1 to the main
    process, which ends them when it is done. SIGTERM keeps its default: the loader ends stuck workers with it."""
    for s in (signal.SIGINT, signal.SIGUSR1):
        signal.signal(s, signal.SIG_IGN)
