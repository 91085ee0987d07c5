"""Message ids a host has handled, kept at least until each message's expiry plus skew.

A replayed message is caught here while it is still inside its validity window; after
that, the envelope's expiry refuses it. The file is local to the host (`.sprintboard/`),
appended in groups (one fsync per batch) and compacted when mostly stale.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sprintboard.files import atomic_write

__all__ = ["SeenIds"]


class SeenIds:
    """`id -> keep-until (epoch seconds)`, durable in one append-only file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._ids: dict[str, float] = {}
        self._buffer: list[str] = []
        self._lines = 0
        self._offset = 0
        self._catch_up()

    def _catch_up(self) -> None:
        """Read ids other processes (the daemon, the HTTP endpoint) appended since last time."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size < self._offset:  # compacted by another process: read it whole again
            self._offset = 0
        if size == self._offset:
            return
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            data = fh.read(size - self._offset)
        end = data.rfind(b"\n") + 1  # a torn last line is read once it is complete
        self._offset += end
        for line in data[:end].decode("utf-8", errors="replace").splitlines():
            parts = line.split(" ")
            if len(parts) == 2:
                try:
                    self._ids[parts[0]] = float(parts[1])
                    self._lines += 1
                except ValueError:
                    continue

    def __contains__(self, message_id: object) -> bool:
        if message_id in self._ids:
            return True
        self._catch_up()  # a replay may have been handled by the other route meanwhile
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, message_id: str, keep_until: datetime) -> None:
        """Remember an id (durable after the next `flush`)."""
        until = keep_until.timestamp()
        self._ids[message_id] = until
        self._buffer.append(f"{message_id} {until:.3f}\n")

    def flush(self) -> None:
        """Append the ids added since the last flush and fsync them (group commit)."""
        if not self._buffer:
            return
        data = "".join(self._buffer).encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._lines += len(self._buffer)
        self._buffer.clear()

    def prune(self, now: datetime) -> int:
        """Forget ids past their keep-until; rewrites the file when most lines are stale."""
        cutoff = now.timestamp()
        stale = [k for k, until in self._ids.items() if until < cutoff]
        for key in stale:
            del self._ids[key]
        if self._lines > 1000 and len(self._ids) < self._lines // 2:
            self.flush()
            body = "".join(f"{k} {v:.3f}\n" for k, v in self._ids.items())
            atomic_write(self.path, body.encode("utf-8"))
            self._lines = len(self._ids)
            self._offset = len(body.encode("utf-8"))
        return len(stale)
