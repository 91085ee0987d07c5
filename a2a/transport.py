"""The transport seam: how message bytes get from one host into another host's inbox.

`Transport` is the protocol; `DirTransport` (transport_dir) and `GitTransport`
(transport_git) are the real ones, `MemoryTransport` is the in-process fake that keeps the
same contract (inboxes in memory, nothing on disk).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from sprintboard.errors import MessageRejected

__all__ = ["Inbox", "MemoryInbox", "MemoryTransport", "Transport"]


class Inbox(Protocol):
    """A host's inbox (the `Maildir` on disk, or `MemoryInbox`)."""

    def deliver_many(self, items: Sequence[tuple[str, bytes]]) -> int: ...

    def pending(self) -> list[str]: ...

    def left_over(self) -> list[str]: ...

    def claim(self, name: str) -> bool: ...

    def read(self, name: str) -> bytes: ...

    def archive(self, name: str) -> None: ...

    def quarantine(self, name: str, reason: str, *, source: str = "cur") -> Path | None: ...


class Transport(Protocol):
    """Moves messages and blobs between hosts."""

    def send(self, recipient: str, items: Sequence[tuple[str, bytes]]) -> None:
        """Make the messages appear in `recipient`'s inbox (now, or at the next sync)."""
        ...

    def send_blob(self, sha256: str, source: Path) -> None:
        """Make a blob available to the other hosts (a no-op where the blob dir is shared)."""
        ...

    def inbox(self, host: str) -> Inbox:
        """This host's own inbox."""
        ...

    def sync(self) -> int:
        """Exchange with the other side; returns how many messages arrived."""
        ...


class MemoryInbox:
    """An inbox in memory with the `Maildir` states (new, cur, archive, quarantine)."""

    __test__ = False

    def __init__(self) -> None:
        self.new: dict[str, bytes] = {}
        self.cur: dict[str, bytes] = {}
        self.archived: dict[str, bytes] = {}
        self.quarantined: dict[str, str] = {}

    def deliver_many(self, items: Sequence[tuple[str, bytes]]) -> int:
        added = 0
        for name, data in items:
            if name not in self.new:
                self.new[name] = data
                added += 1
        return added

    def pending(self) -> list[str]:
        return sorted(self.new)

    def left_over(self) -> list[str]:
        return sorted(self.cur)

    def claim(self, name: str) -> bool:
        if name not in self.new:
            return False
        self.cur[name] = self.new.pop(name)
        return True

    def read(self, name: str) -> bytes:
        try:
            return self.cur[name]
        except KeyError:
            raise MessageRejected(name, "not claimed") from None

    def archive(self, name: str) -> None:
        if name in self.cur:
            self.archived[name] = self.cur.pop(name)

    def quarantine(self, name: str, reason: str, *, source: str = "cur") -> Path | None:
        (self.cur if source == "cur" else self.new).pop(name, None)
        self.quarantined[name] = reason
        return None


class MemoryTransport:
    """All hosts in one process; `send` drops bytes straight into the peer's `MemoryInbox`.

    Build one per host over a shared `boxes` dict: `MemoryTransport("beta", boxes)`.
    """

    __test__ = False

    def __init__(self, host: str, boxes: dict[str, MemoryInbox] | None = None) -> None:
        self.host = host
        self.boxes: dict[str, MemoryInbox] = {} if boxes is None else boxes
        self.blobs: dict[str, Path] = {}

    def _box(self, host: str) -> MemoryInbox:
        return self.boxes.setdefault(host, MemoryInbox())

    def send(self, recipient: str, items: Sequence[tuple[str, bytes]]) -> None:
        self._box(recipient).deliver_many(items)

    def send_blob(self, sha256: str, source: Path) -> None:
        self.blobs[sha256] = source

    def inbox(self, host: str) -> MemoryInbox:
        return self._box(host)

    def sync(self) -> int:
        return 0
