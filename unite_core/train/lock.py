"""One process per run folder: `run.lock` is locked (flock) before anything is written and names its
holder (pid, host, start time), so a double launch, or a requeue while the first job still runs, is
refused with the holder named. The kernel drops the lock when its process dies however it dies, so a
lock file left by a process that is gone is taken over, with a warning naming that process."""
import fcntl
import json
import os
import socket
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from unite_core.errors import RunLocked


@dataclass
class LockInfo:
    pid: int
    host: str
    started: str  # local time, ISO 8601

    @classmethod
    def mine(cls) -> "LockInfo":
        return cls(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    @classmethod
    def parse(cls, text: str) -> "LockInfo | None":
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None  # empty or torn: a crash between creating and writing the file

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started}"


class RunLock:
    """`with RunLock(run_dir):` holds `run_dir/run.lock` for the block; the file is removed on exit."""

    NAME = "run.lock"

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / self.NAME
        self.info = LockInfo.mine()
        self.fd: int | None = None

    def _holder(self, fd: int) -> "LockInfo | None":
        return LockInfo.parse(os.pread(fd, 4096, 0).decode(errors="replace"))

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder(fd)
                os.close(fd)
                raise RunLocked(f"{self.path.parent} is in use by another run ({holder or 'holder not yet written'}); "
                                f"wait for it to finish or stop it first") from None
            if os.path.exists(self.path) and os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                break
            os.close(fd)  # the holder removed the file between our open and our lock: lock the new one
        previous = self._holder(fd)
        if previous is not None:
            warnings.warn(f"{self.path}: took over the lock of {previous}, which is gone", stacklevel=2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(self.info)).encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # while still locked, so nobody locks the old file meanwhile
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
