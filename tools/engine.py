"""Where per-range work runs: in this process, in local worker processes, or on Dask.

An engine maps a plain, picklable function over picklable jobs and hands the results back
in job order, as soon as each is ready (so the caller merges and writes while later jobs
still run). Tools never depend on which engine ran: results are merged by (file, line), so
the outputs are the same bytes for every engine and worker count.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from sprintboard.errors import ToolError

__all__ = [
    "Dataflow",
    "Engine",
    "EngineName",
    "Handle",
    "LocalEngine",
    "available_cores",
    "engine_scope",
    "open_engine",
]

_POOL_MIN_BYTES = 8 << 20
J = TypeVar("J")
R = TypeVar("R")
EngineName = Literal["local", "dask"]
Handle = Any
"""A result left on the worker that computed it (a Dask future); only `Dataflow.fetch` brings
it to the caller."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, so `taskset -c 0` gives 1)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class Engine(Protocol):
    """Runs a function over jobs and yields the results in job order."""

    name: str
    workers: int
    range_bytes: int | None
    """Bytes of input per job; None: chosen from the input size and the workers."""

    def map(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[R]:
        """`fn(job)` for each job, in job order; a job's failure is raised when reached."""
        ...

    def close(self) -> None:
        """Stop the workers this engine started."""
        ...


@runtime_checkable
class Dataflow(Protocol):
    """An engine that leaves results on its workers and moves them only where asked.

    A tool that holds too much for one machine (dedup's key table) runs as stages of tasks:
    each task's arguments may be handles to earlier results, which the engine resolves on the
    worker that runs it, so data goes from worker to worker and never through the caller.
    """

    name: str
    workers: int
    range_bytes: int | None
    """Bytes of input per scan job; None: chosen from the input size and the workers."""
    partitions: int | None
    """How many partitions a shuffle makes; None: one per worker."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Handle:
        """Run `fn(*args)` on a worker (handles among `args` become their results there)."""
        ...

    def map_each(self, fn: Callable[..., Any], items: Sequence[Any], *shared: Any) -> list[Handle]:
        """`fn(item, *shared)` for each item (a value or a handle), on the workers."""
        ...

    def pieces(self, handle: Handle, count: int) -> list[Handle]:
        """Handles to `result[0] .. result[count - 1]` of a sequence-valued result."""
        ...

    def share(self, value: Any) -> Handle:
        """Put `value` on the workers once, for many tasks to use."""
        ...

    def fetch(self, handles: Sequence[Handle]) -> list[Any]:
        """The results, in order; a task's failure is raised here (a lost worker as ToolError)."""
        ...

    def each_done(self, handles: Sequence[Handle]) -> Iterator[tuple[int, Any]]:
        """(index in `handles`, result) of each task as it finishes, in the order they finish:
        what progress is reported from; failures are raised as by `fetch`."""
        ...


class LocalEngine:
    """This machine: the calling process alone (1 worker) or a pool of worker processes.

    The pool's processes are started when the engine is made, before any progress-bar
    thread exists: on Linux, in a process with no other thread, they are forked, so they
    start in milliseconds with every module already imported. Where other threads run (an
    agent's graph runner, say), forking could copy a lock some thread holds; the workers
    then come from a fresh forkserver (or are spawned, off Linux) instead.
    """

    name = "local"

    def __init__(self, workers: int | None = None, *, range_bytes: int | None = None) -> None:
        self.workers = max(1, workers or available_cores())
        self.range_bytes = range_bytes
        self._pool: ProcessPoolExecutor | None = None
        if self.workers > 1:
            if sys.platform != "linux":
                method = "spawn"
            else:
                method = "fork" if threading.active_count() == 1 else "forkserver"
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context(method)
            )
            self._pool.submit(int).result()  # starts every worker now (fork: all at once)

    def map(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[R]:
        """`fn(job)` per job, in order: in this process, or spread over the pool."""
        if self._pool is None:
            return (fn(job) for job in jobs)
        # Every job is submitted here, not when the results are first asked for: two maps
        # made one after the other run side by side.
        return self._results(self._pool.map(fn, jobs))

    @staticmethod
    def _results(results: Iterator[R]) -> Iterator[R]:
        try:
            yield from results
        except BrokenProcessPool as exc:
            raise ToolError(
                "engine",
                f"a worker process died ({exc}); it was probably killed or ran out of memory. "
                "Nothing was written; run again, with fewer --workers if memory is short",
            ) from None

    def close(self) -> None:
        """Stop the worker processes (pending jobs are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@contextmanager
def engine_scope(engine: Engine | None, total_bytes: int | None = None) -> Iterator[Engine]:
    """`engine` as it is (the caller closes it), or a new `LocalEngine` closed on leaving:
    on every core, unless the input is so small (`total_bytes`) that starting worker
    processes would cost more than they save."""
    if engine is not None:
        yield engine
        return
    small = total_bytes is not None and total_bytes < _POOL_MIN_BYTES
    with LocalEngine(1 if small else None) as local:
        yield local


def open_engine(
    name: EngineName = "local", workers: int | None = None, scheduler: str | None = None
) -> Engine:
    """The engine called `name`: `local` (this machine's cores, or `workers` processes) or
    `dask` (a new local cluster of `workers` processes, or the cluster at `scheduler`).

    Raises:
        ToolError: an unknown name, a scheduler for the local engine, or dask not installed.
    """
    if name == "local":
        if scheduler is not None:
            raise ToolError("engine", "--scheduler needs --engine dask")
        return LocalEngine(workers)
    if name == "dask":
        # Dask is an optional extra, loaded only for --engine dask
        from sprintboard.tools.dask_engine import DaskEngine

        return DaskEngine(workers, scheduler)
    raise ToolError("engine", f"unknown engine {name!r}; use local or dask")
