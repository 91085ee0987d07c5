"""Output files that appear whole or not at all, hashed while they are written.

A tool writes to a temporary file beside the target and renames it into place only on
success, so a crash never leaves a half-written dataset under the real name; the sha256 for
the manifest is computed from the bytes as they go out, not by reading the file again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from types import TracebackType

from sprintboard.tools.manifest import FileRef

__all__ = ["HashingWriter"]

_FLUSH_BYTES = 1 << 20


class HashingWriter:
    """Collect lines, write them to a temp file in ~1 MiB blocks, rename into place on commit.

    Use as a context manager: leaving the block normally commits, an exception removes the
    temp file and leaves any earlier file at `path` untouched.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        self._tmp = Path(tmp)
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; a dataset is meant to be read by others
        self._fh = os.fdopen(fd, "wb")
        self._sha = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.size = 0
        self.lines = 0
        self.ref: FileRef | None = None

    def write_line(self, line: bytes) -> None:
        """Queue one line (without its newline)."""
        self._pending.append(line)
        self._pending_bytes += len(line) + 1
        self.lines += 1
        if self._pending_bytes >= _FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        block = b"\n".join(self._pending) + b"\n"
        self._fh.write(block)
        self._sha.update(block)
        self.size += len(block)
        self._pending.clear()
        self._pending_bytes = 0

    def commit(self) -> FileRef:
        """Flush, fsync, rename into place; return the file's content reference."""
        self._flush()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)
        self.ref = FileRef(path=str(self.path), sha256=self._sha.hexdigest(), size=self.size)
        return self.ref

    def abort(self) -> None:
        """Drop everything written so far."""
        self._fh.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
