"""The Dask engine: the same per-range functions, run on a Dask cluster (contract 14).

A corpus that outgrows one machine's time or memory runs on an existing engine rather than
a home-made one. Jobs go to the cluster with `Client.map` and their results come back in job
order as each is ready, exactly as from `LocalEngine`, so every tool's outputs are the same
bytes on either engine. Without `scheduler` a `LocalCluster` of `workers` processes is
started here; with it, an existing cluster is used (its workers must see the input paths,
on a shared file system, and have sprintboard installed). This module is the only importer
of dask; it is an optional extra (`sprintboard[dask]`).

It is also a `Dataflow`: dedup runs on it as stages of tasks whose results stay on the
workers (scans, key and band partitions, per-range writes) and move from worker to worker;
the client only gets small summaries back.

A worker that dies is replaced and its jobs run again (Dask's own retries, from the lineage
of the lost results); a job that keeps killing workers fails the run with Dask's reason.
Errors raised by a job on a worker (an unreadable input, say) come back as the same exception.
"""

from __future__ import annotations

import importlib
import logging
import operator
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from sprintboard.errors import ToolError
from sprintboard.tools.engine import Handle, available_cores

__all__ = ["INSTALL_HINT", "DaskEngine"]

INSTALL_HINT = (
    "the dask engine needs the optional extra: pip install 'sprintboard[dask]' "
    "(in a checkout: make setup, or uv pip install 'dask[distributed]')"
)
J = TypeVar("J")
R = TypeVar("R")


class DaskEngine:
    """Runs jobs on a Dask cluster: a new local one of `workers` processes, or `scheduler`'s.

    Raises:
        ToolError: dask is not installed, or the scheduler cannot be reached.
    """

    name = "dask"

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        *,
        range_bytes: int | None = None,
    ) -> None:
        try:
            # Dask is an optional extra, loaded only for --engine dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise ToolError("engine", INSTALL_HINT) from None

        self.range_bytes = range_bytes
        self.partitions: int | None = None
        self._cluster: Any = None
        if scheduler is None:
            self._cluster = LocalCluster(
                n_workers=workers or available_cores(),
                threads_per_worker=1,  # the jobs hold the GIL: one process per core
                processes=True,
                host="127.0.0.1",  # this machine only
                dashboard_address=":0",  # any free port: two clusters never clash
                silence_logs=logging.ERROR,
            )
            self._client: Any = Client(self._cluster)
        else:
            try:
                self._client = Client(scheduler, timeout="10s")
            except OSError as exc:
                raise ToolError(
                    "engine", f"no Dask scheduler answers at {scheduler} ({exc}); check the address"
                ) from None
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))
        # Each worker imports the scan code now, so the engine is ready when made and the
        # first job is not charged a second of imports.
        for module in ("sprintboard.tools.row_scan", "sprintboard.tools.dedup_partitions"):
            self._client.run(importlib.import_module, module)

    def map(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[R]:
        """`fn(job)` per job on the cluster; results in job order, each as soon as it is ready."""
        futures = self._client.map(fn, list(jobs), pure=False)
        return self._results(futures)

    @staticmethod
    def _results(futures: list[Any]) -> Iterator[R]:
        try:
            with _worker_failures():
                for i, future in enumerate(futures):
                    value: R = future.result()
                    futures[i] = None  # the worker may drop it now: memory stays bounded
                    yield value
        finally:
            for future in futures:
                if future is not None:
                    future.cancel()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Handle:
        """Run `fn(*args)` on a worker; futures among `args` are resolved there."""
        return self._client.submit(fn, *args, pure=False)

    def map_each(self, fn: Callable[..., Any], items: Sequence[Any], *shared: Any) -> list[Handle]:
        """`fn(item, *shared)` per item, on the workers (tasks go to the data they read)."""
        n = len(items)
        return list(self._client.map(fn, list(items), *([s] * n for s in shared), pure=False))

    def pieces(self, handle: Handle, count: int) -> list[Handle]:
        """One task per piece: a shuffle moves each piece alone, never the whole result."""
        return list(self._client.map(operator.getitem, [handle] * count, range(count), pure=False))

    def share(self, value: Any) -> Handle:
        """Scatter `value` to every worker once (wrapped: a list would be scattered per item)."""
        # A key of its own (not a hash of the value): an equal value shared by an earlier
        # run would share its key, and that run releasing it would cancel this run's tasks.
        return self._client.scatter([value], broadcast=True, hash=False)[0]

    def fetch(self, handles: Sequence[Handle]) -> list[Any]:
        """Gather results to the client, in order; worker losses become ToolError."""
        with _worker_failures():
            return list(self._client.gather(list(handles)))

    def each_done(self, handles: Sequence[Handle]) -> Iterator[tuple[int, Any]]:
        """(index, result) per task in the order the workers finish them."""
        # Dask is an optional extra, loaded only for --engine dask
        from distributed import as_completed

        where = {future.key: i for i, future in enumerate(handles)}
        with _worker_failures():
            for future, value in as_completed(list(handles), with_results=True):
                yield where[future.key], value

    @property
    def address(self) -> str:
        """The scheduler's address: another client (`--scheduler`) can use this cluster."""
        address: str = self._client.scheduler.address
        return address

    def close(self) -> None:
        """Disconnect; stop the cluster if this engine started it."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@contextmanager
def _worker_failures() -> Iterator[None]:
    """Turn Dask's lost-worker and cancellation errors into a ToolError with the reason."""
    # Dask is an optional extra, loaded only for --engine dask
    from distributed import CancelledError
    from distributed.scheduler import KilledWorker

    try:
        yield
    except KilledWorker as exc:
        raise ToolError(
            "engine",
            f"Dask workers died running a job ({exc}); retried and gave up. Nothing was "
            "written; see the workers' logs (out of memory?)",
        ) from None
    except CancelledError as exc:
        raise ToolError(
            "engine",
            f"the Dask cluster cancelled a job ({exc}); a worker was probably lost and the "
            "scheduler could not redo its work. Nothing was written; run again",
        ) from None
