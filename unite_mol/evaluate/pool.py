"""Per-molecule work spread over worker processes in chunks, with a progress bar (serial for one worker)."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from tqdm import tqdm


class Chunked:
    """Picklable `lambda chunk: [fn(x) for x in chunk]` for a module-level `fn`."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, chunk: list) -> list:
        return [self.fn(x) for x in chunk]


class WorkerPool:
    """Worker processes (forked where the platform can). A worker that dies (killed, out of memory, a crash in compiled
    code) stops the map with an error naming the step, where `multiprocessing.Pool` would wait for its result forever."""

    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.workers = workers
        self.pool = ProcessPoolExecutor(workers, mp_context=ctx) if workers > 1 else None

    def map(self, fn: Callable[[list], list], items: list, label: str, chunks_per_worker: int = 8) -> list:
        """fn maps a chunk of items to a list of results; the results come back flat and in order."""
        size = max(1, -(-len(items) // (self.workers * chunks_per_worker)))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        mapped = self.pool.map(fn, chunks) if self.pool else map(fn, chunks)
        try:
            return [r for part in tqdm(mapped, total=len(chunks), desc=label, unit="chunk", leave=False) for r in part]
        except BrokenProcessPool:
            raise RuntimeError(f"{label}: a worker process died (killed, out of memory or crashed); "
                               "run again with --workers 1 to see where") from None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool:
            self.pool.shutdown()
