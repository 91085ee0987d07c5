"""The board lock: an `flock` on a file in `.sprintboard/`, exclusive for writers, shared for readers."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sprintboard.errors import LockTimeout

__all__ = ["BoardLock"]


class BoardLock:
    """An inter-process lock (flock) plus a thread lock, with a timeout.

    flock locks belong to an open file description, so each `BoardLock` opens its own;
    two boards in one process exclude each other like two processes do.
    """

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._thread_lock = threading.RLock()

    @contextmanager
    def hold(self, *, shared: bool = False) -> Iterator[None]:
        """Hold the lock for the block; raises `LockTimeout` after `timeout` seconds."""
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise LockTimeout(self.path, self.timeout)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                self._acquire(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        finally:
            self._thread_lock.release()

    def _acquire(self, fd: int, mode: int) -> None:
        deadline = time.monotonic() + self.timeout
        delay = 0.0005
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(self.path, self.timeout) from None
                time.sleep(delay)  # flock has no timed wait; back off up to 20 ms
                delay = min(delay * 2, 0.02)
