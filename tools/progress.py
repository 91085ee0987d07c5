"""A rich progress bar on stderr for long tool work, and a silent stand-in when it is off."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

__all__ = ["Progress", "input_bytes", "progress"]


class Progress(Protocol):
    """Something that can be told how much work was done."""

    def advance(self, amount: float) -> None:
        """Add `amount` units of finished work."""


class _Silent:
    def advance(self, amount: float) -> None:
        pass


class _RichBar:
    def __init__(self, bar: RichProgress, task: TaskID) -> None:
        self._bar, self._task = bar, task

    def advance(self, amount: float) -> None:
        self._bar.advance(self._task, amount)


def input_bytes(paths: Iterable[Path]) -> int | None:
    """Total size to show progress against; None (no known total) when any input is gzip,
    whose decompressed size is not known up front."""
    paths = list(paths)
    if any(p.name.endswith(".gz") for p in paths):
        return None
    return sum(p.stat().st_size for p in paths)


@contextmanager
def progress(description: str, total: float | None, *, enabled: bool) -> Iterator[Progress]:
    """Show a transient bar on stderr while the block runs, when `enabled`.

    `total` is in the same units as `advance` (usually bytes); None shows a spinner-like bar.
    """
    if not enabled:
        yield _Silent()
        return
    # rich is imported here so that tools used without a bar never pay its import time.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as RichBar

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with RichBar(*columns, console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield _RichBar(bar, task)
