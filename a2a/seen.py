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


def _last_line(data: bytes) -> bytes:
    """The last whole line of `data` (which ends with a newline), newline included."""
    return data[data.rfind(b"\n", 0, -1) + 1 :]


class SeenIds:
    """`id -> keep-until (epoch seconds)`, durable in one append-only file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._ids: dict[str, float] = {}
        self._buffer: list[str] = []
        self._lines = 0
        """Lines in the file as far as this process knows (each counted once)."""
        self._offset = 0
        """Where reading goes on: everything before it was read (or written) here."""
        self._tail = b""
        """The last line before `_offset`: if it is not there any more, the file was compacted."""
        self._inode: int | None = None
        self._catch_up()

    def _catch_up(self) -> None:
        """Read ids other processes (the daemon, the HTTP endpoint) appended since last time."""
        try:
            with self.path.open("rb") as fh:
                inode = os.fstat(fh.fileno()).st_ino
                start = self._offset - len(self._tail)
                fh.seek(start)
                data = fh.read()
                if inode != self._inode or not data.startswith(self._tail):
                    # Compacted by another process: rewritten, and maybe longer again by now
                    # than where this reader stopped. Only a whole read sees every id.
                    self._inode, self._offset, self._tail, self._lines = inode, 0, b"", 0
                    fh.seek(0)
                    data = fh.read()
                else:
                    data = data[len(self._tail) :]
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # a torn last line is read once it is complete
        if not end:
            return
        self._offset += end
        self._tail = _last_line(data[:end])
        for line in data[:end].decode(errors="replace").splitlines():
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
        self._catch_up()  # others' lines first, so that reading can go on after ours
        data = "".join(self._buffer).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            end = os.lseek(fd, 0, os.SEEK_CUR)
            inode = os.fstat(fd).st_ino
        finally:
            os.close(fd)
        if end - len(data) == self._offset and self._inode in (inode, None):
            # Nobody appended in between: our lines need not be read back (and counted) again.
            self._inode, self._offset = inode, end
            self._tail = _last_line(data)
            self._lines += len(self._buffer)
        self._buffer.clear()

    def prune(self, now: datetime) -> int:
        """Forget ids past their keep-until; rewrites the file when most lines are stale."""
        cutoff = now.timestamp()
        stale = [k for k, until in self._ids.items() if until < cutoff]
        for key in stale:
            del self._ids[key]
        self.flush()
        if self._lines > 1000 and len(self._ids) < self._lines // 2:
            self._catch_up()  # ids another process appended must survive the rewrite
            for key in stale:
                self._ids.pop(key, None)
            body = "".join(f"{k} {v:.3f}\n" for k, v in self._ids.items()).encode()
            atomic_write(self.path, body)
            self._inode, self._offset, self._tail = None, 0, b""
            self._lines = 0
            self._catch_up()
        return len(stale)
