"""`sprintboard a2a serve`: the host daemon.

A watchdog observer on `inbox/new/` wakes the loop as soon as a message lands; a full
rescan every `rescan` seconds catches what inotify dropped (it does under load) and is
the only signal on synced or network folders (`--polling` uses watchdog's polling
observer instead of inotify). The observer is supervised: if its thread dies, a new one
is started. On the owner the loop also expires overdue leases (re-queueing their tasks)
and handles the inbox; on other hosts it only syncs the transport (their `RemoteBoard`
reads their inbox).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sprintboard.a2a.node import a2a_dir, open_owner, open_postbox
from sprintboard.a2a.owner import OwnerHandler
from sprintboard.a2a.postbox import Postbox
from sprintboard.config import current_host, load_config
from sprintboard.errors import SprintboardError
from sprintboard.workspace import find_workspace

__all__ = ["Daemon", "ServeStats", "serve"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ServeStats:
    """What a daemon did (printed on exit, asserted on in tests)."""

    handled: int = 0
    rescans: int = 0
    wakeups: int = 0
    observer_restarts: int = 0
    expired: list[str] = field(default_factory=list)


class Daemon:
    """The serve loop, usable in-process (tests, benchmark) and from the CLI."""

    def __init__(
        self,
        postbox: Postbox,
        watch: Path,
        *,
        owner: OwnerHandler | None = None,
        polling: bool = False,
        rescan: float = 2.0,
        sync_every: float = 0.5,
    ) -> None:
        self.postbox = postbox
        self.watch = Path(watch)
        self.owner = owner
        self.polling = polling
        self.rescan = rescan
        self.sync_every = sync_every
        self.supervise_every = 0.5
        """Seconds between checks that the observer thread is alive."""
        self.stats = ServeStats()
        self.wake = threading.Event()
        self.stop = threading.Event()
        self._observer: Any = None

    def _start_observer(self) -> None:
        # watchdog loads only when a folder is watched (start-up time)
        from watchdog.events import FileSystemEventHandler  # watchdog: only the daemon needs it
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        wake, new = self.wake, str(self.watch / "inbox" / "new")

        class _Wake(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if new in (os.path.dirname(event.src_path), os.path.dirname(event.dest_path)):
                    wake.set()

        observer: Any = PollingObserver(timeout=0.2) if self.polling else Observer()
        # Watch the whole host tree, not just new/: watchdog holds an unpaired IN_MOVED_FROM
        # for 0.5 s and every later event queues behind it; with new/, cur/ and archive/
        # in one watch, our claim and archive renames pair up and pass at once.
        observer.schedule(_Wake(), str(self.watch), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def supervise(self) -> None:
        """Restart the observer if its thread died (a watch can fail on a flaky mount)."""
        if self._observer is None or not self._observer.is_alive():
            if self._observer is not None:
                log.warning("inbox observer on %s died; restarting it", self.watch)
                self.stats.observer_restarts += 1
            try:
                self._start_observer()
            except OSError as exc:  # e.g. inotify watch limit: the rescan still works
                log.warning(
                    "cannot watch %s (%s); relying on the %gs rescan", self.watch, exc, self.rescan
                )

    def step(self, *, sync: bool = True) -> int:
        """One pass: sync the transport, expire leases (owner), handle the inbox and tell
        hosts about answers to their agents' questions (owner)."""
        if sync:
            self.postbox.transport.sync()
        if self.owner is None:
            return 0
        self.stats.expired += self.owner.board.expire_leases()
        n = self.postbox.process(self.owner)
        self.owner.push_answers()
        self.stats.handled += n
        return n

    def run(self, *, until: float | None = None) -> ServeStats:
        """Loop until `stop` is set (or `until` seconds pass)."""
        deadline = None if until is None else time.monotonic() + until
        next_rescan = next_sync = 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            self.supervise()
            woken = self.wake.is_set()
            sync, rescan = now >= next_sync, now >= next_rescan
            if woken or sync or rescan:
                self.wake.clear()
                self.stats.wakeups += woken
                self.stats.rescans += rescan
                if sync:
                    next_sync = now + self.sync_every
                if rescan:
                    next_rescan = now + self.rescan
                try:
                    if self.step(sync=sync):
                        continue  # more may have landed while we worked
                except (OSError, SprintboardError) as exc:  # disk, lock, git: retry next pass
                    log.warning("a2a serve %s: %s; retrying", self.postbox.host, exc)
            next_check = time.monotonic() + self.supervise_every
            self.wake.wait(max(0.0, min(next_sync, next_rescan, next_check) - time.monotonic()))
        self.close()
        return self.stats

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None


def serve(
    workspace: Path | None,
    host: str | None = None,
    *,
    polling: bool = False,
    rescan: float = 2.0,
    keys: Path | None = None,
    until: float | None = None,
) -> ServeStats:
    """Run the daemon of `host` in a workspace until interrupted (or `until` seconds)."""
    root = find_workspace(workspace)
    config = load_config(root)
    name = current_host(config, host)
    postbox = open_postbox(root, name, keys=keys)
    owner = open_owner(root, postbox=postbox) if name == config.board.owner else None
    watch = a2a_dir(root, config) / name
    daemon = Daemon(postbox, watch, owner=owner, polling=polling, rescan=rescan)
    try:
        return daemon.run(until=until)
    except KeyboardInterrupt:
        daemon.close()
        return daemon.stats
