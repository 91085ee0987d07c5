"""`KanbanWatcher`: merge people's KANBAN.md edits as they save them.

Editors save by writing a temp file and renaming it over the old one, so the watcher
watches the workspace directory, not the file. inotify can drop events and network or
synced folders send none, so a periodic rescan backs the observer up (`polling=True`
uses watchdog's polling observer for those folders). A burst of events is debounced, and
the file must hold still (same size and mtime twice) before it is read; a file that does
not parse is reported once and left alone until it changes again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from sprintboard.board.kanban.sync import KanbanSync, SyncReport
from sprintboard.board.local import LocalBoard

__all__ = ["KanbanWatcher"]

log = logging.getLogger(__name__)

_CHANGES = frozenset({"created", "modified", "moved", "deleted", "closed"})


class _Handler(FileSystemEventHandler):
    def __init__(self, name: str, poke: Callable[[], None]) -> None:
        self.name, self.poke = name, poke

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGES:
            return  # reads (ours, an editor's) open and close the file: not an edit
        paths = (event.src_path, getattr(event, "dest_path", "") or "")
        if any(Path(str(p)).name == self.name for p in paths if p):
            self.poke()


class KanbanWatcher:
    """Watch a workspace's KANBAN.md and `sync` each saved edit into the board.

    ```python
    with KanbanWatcher(board, kanban) as watcher:
        ...                      # people edit KANBAN.md; watcher.reports grows
    ```
    `debounce`: seconds without a new event before acting; `rescan`: seconds between
    checks that need no event; `poll_interval`: the polling observer's period.
    """

    def __init__(
        self,
        board: LocalBoard,
        kanban: KanbanSync,
        *,
        polling: bool = False,
        debounce: float = 0.05,
        rescan: float = 2.0,
        settle: float = 0.02,
        poll_interval: float = 0.5,
        on_sync: Callable[[SyncReport], None] | None = None,
    ) -> None:
        self.board, self.kanban = board, kanban
        self.polling, self.debounce, self.rescan, self.settle = polling, debounce, rescan, settle
        self.poll_interval = poll_interval
        self.on_sync = on_sync
        self.reports: list[SyncReport] = []
        self._poked = threading.Event()
        self._stop = threading.Event()
        self._last_poke = 0.0
        self._failed: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._observer: BaseObserver | None = None

    def __enter__(self) -> KanbanWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _poke(self) -> None:
        self._last_poke = time.monotonic()
        self._poked.set()

    def start(self) -> None:
        """Start the observer and the worker thread; an edit saved before start is merged too."""
        observer = PollingObserver(timeout=self.poll_interval) if self.polling else Observer()
        observer.schedule(_Handler(self.kanban.path.name, self._poke), str(self.kanban.root))
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._run, name="kanban-watcher", daemon=True)
        self._thread.start()
        self._poke()

    def stop(self) -> None:
        """Stop watching; waits for a sync in progress to finish."""
        self._stop.set()
        self._poked.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run_forever(self) -> None:
        """Watch until interrupted (Ctrl-C)."""
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            poked = self._poked.wait(self.rescan)
            if self._stop.is_set():
                return
            if poked:
                self._quiet()
            self._poked.clear()
            try:
                self.check_once()
            except Exception:  # the watcher must outlive one bad round; the error is logged
                log.exception("merging %s failed; will retry on the next change", self.kanban.path)

    def _quiet(self) -> None:
        """Wait until no event came for `debounce` seconds."""
        while not self._stop.is_set():
            left = self._last_poke + self.debounce - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(left)

    def _stable(self) -> tuple[int, int] | None:
        """(size, mtime) once the file holds still, or None if it is missing or moving."""
        try:
            first = self.kanban.path.stat()
            self._stop.wait(self.settle)
            second = self.kanban.path.stat()
        except FileNotFoundError:
            return None
        a = (first.st_size, first.st_mtime_ns)
        b = (second.st_size, second.st_mtime_ns)
        if a != b:
            self._poke()  # still being written: look again after the next quiet spell
            return None
        return b

    def check_once(self) -> SyncReport | None:
        """Merge the file if it holds an edit; None when there was nothing to do."""
        try:
            data = self.kanban.path.read_bytes()
        except FileNotFoundError:
            return None
        if self.kanban.is_rendered(data):
            return None
        stamp = self._stable()
        if stamp is None or stamp == self._failed:
            return None  # moving, or the same broken file we already reported
        report = self.kanban.sync(self.board)
        self._failed = stamp if report.error is not None else None
        if report.error is not None:
            log.error("%s", report.error)
        for warning in report.warnings:
            log.warning("%s", warning)
        self.reports.append(report)
        if self.on_sync is not None:
            self.on_sync(report)
        return report
