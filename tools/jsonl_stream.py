"""Read JSONL (plain or gzip) in large binary chunks and hand out lines in batches.

Reading 8 MiB at a time and splitting on b"\\n" keeps Python's per-line cost to one list slot;
the line number and byte offset of every line stay known, so findings can say file:line and
a later pass can seek straight to a row.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, cast

__all__ = ["CHUNK_BYTES", "Digest", "LineBatch", "iter_batches", "open_binary", "read_line_at"]

CHUNK_BYTES = 8 << 20


class Digest(Protocol):
    """A running hash (hashlib object) fed with the raw bytes as they are read."""

    def update(self, data: bytes, /) -> None:
        """Add `data` to the hash."""


@dataclass(slots=True)
class LineBatch:
    """Consecutive lines of one file: `lines[i]` is line `first_line + i` (1-based).

    Lines carry no trailing newline. `offsets[i]` is the byte offset of line i in the
    (decompressed) stream; `last_unterminated` is true when the batch holds the file's last
    line and that line had no newline (a truncated write looks like this).
    """

    first_line: int
    lines: list[bytes]
    offsets: list[int]
    last_unterminated: bool
    bytes_read: int
    """Bytes (decompressed) this batch consumed, for progress bars."""


def open_binary(path: Path) -> IO[bytes]:
    """Open `path` for binary reading, through gzip when it ends in .gz."""
    if path.name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _offsets(start: int, lines: list[bytes]) -> list[int]:
    out = []
    pos = start
    for line in lines:
        out.append(pos)
        pos += len(line) + 1
    return out


def iter_batches(
    path: Path, *, with_offsets: bool = False, digest: Digest | None = None
) -> Iterator[LineBatch]:
    """Yield the lines of `path` in batches (one per chunk read), in file order.

    A file that does not end in a newline still yields its last line; an empty file yields
    nothing. Offsets are filled only when `with_offsets` (they cost a loop over the lines).
    A plain file's bytes also go to `digest` as they are read, so the manifest's sha256
    costs no second read; a .gz file is not fed (its digest is of the compressed file).
    """
    feed = digest if digest is not None and not path.name.endswith(".gz") else None
    with open_binary(path) as fh:
        line_no = 1
        offset = 0
        tail = b""
        while True:
            chunk = fh.read(CHUNK_BYTES)
            if not chunk:
                break
            if feed is not None:
                feed.update(chunk)
            parts = chunk.split(b"\n")
            if tail:  # join the carried-over piece to one line, not to the whole chunk
                parts[0] = tail + parts[0]
            tail = parts.pop()
            if parts:
                offs = _offsets(offset, parts) if with_offsets else []
                yield LineBatch(line_no, parts, offs, False, len(chunk))
                line_no += len(parts)
                offset += sum(map(len, parts)) + len(parts)
        if tail:
            offs = [offset] if with_offsets else []
            yield LineBatch(line_no, [tail], offs, True, 0)


def read_line_at(fh: IO[bytes], offset: int) -> bytes:
    """Read the line that starts at byte `offset` of an open (seekable) file."""
    fh.seek(offset)
    return fh.readline().rstrip(b"\n")
