"""The shared-directory transport: every host sees the same `.a2a/` (NFS, Syncthing, Dropbox).

Sending is a durable Maildir delivery straight into the recipient's `inbox/new/`; blobs
are already shared, so `send_blob` has nothing to do; `sync` is a no-op (the sync tool
or the file server moves the bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sprintboard.a2a.envelope import check_host
from sprintboard.a2a.maildir import Maildir

__all__ = ["DirTransport"]


class DirTransport:
    """Messages go into `<a2a_dir>/<recipient>/inbox/`."""

    def __init__(self, a2a_dir: Path) -> None:
        self.a2a_dir = Path(a2a_dir)
        self._boxes: dict[str, Maildir] = {}

    def _box(self, host: str) -> Maildir:
        box = self._boxes.get(host)
        if box is None:
            box = self._boxes[host] = Maildir(self.a2a_dir / check_host(host))
        return box

    def send(self, recipient: str, items: Sequence[tuple[str, bytes]]) -> None:
        self._box(recipient).deliver_many(items)

    def send_blob(self, sha256: str, source: Path) -> None:
        return None

    def inbox(self, host: str) -> Maildir:
        return self._box(host)

    def sync(self) -> int:
        return 0
