"""Read JSONL (plain or gzip) in large binary chunks and hand out lines in batches.

Reading 8 MiB at a time and splitting on b"\\n" keeps Python's per-line cost to one list slot;
the line number and byte offset of every line stay known, so findings can say file:line and
a later pass can seek straight to a row.

A plain file can also be cut into byte ranges of whole lines (`plan_ranges`), so that the
ranges are scanned apart (by worker processes or a cluster) and merged back in file order.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import add
from pathlib import Path
from typing import IO, Protocol, cast

__all__ = [
    "CHUNK_BYTES",
    "ByteRange",
    "Digest",
    "LineBatch",
    "is_gzip",
    "iter_batches",
    "open_binary",
    "plan_ranges",
    "read_line_at",
    "read_range",
]

CHUNK_BYTES = 8 << 20
_PROBE = 64 << 10


class Digest(Protocol):
    """A running hash (hashlib object) fed with the raw bytes as they are read."""

    def update(self, data: bytes | memoryview, /) -> None:
        """Add `data` to the hash."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes [start, end) of input `source`: whole lines, in file order.

    A range starts at a line start and ends just after a newline or at the end of the file.
    `end` is -1 for "to the end of the stream": a gzip input is always one such range, since
    its decompressed offsets cannot be sought to.
    """

    source: int
    path: str
    start: int
    end: int

    @property
    def size(self) -> int:
        """Bytes in the range (0 when unknown: a whole gzip stream)."""
        return 0 if self.end < 0 else self.end - self.start


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


def is_gzip(path: Path | str) -> bool:
    """Whether the input is read through gzip (by its name, as `open_binary` decides)."""
    return str(path).endswith(".gz")


def open_binary(path: Path) -> IO[bytes]:
    """Open `path` for binary reading, through gzip when it ends in .gz."""
    if is_gzip(path):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _offsets(start: int, lines: list[bytes]) -> list[int]:
    # accumulate/map/add all iterate in C: ~5x faster than a Python loop over the lines.
    out = list(accumulate(map(add, map(len, lines), repeat(1)), initial=start))
    out.pop()
    return out


def iter_batches(
    path: Path,
    *,
    with_offsets: bool = False,
    digest: Digest | None = None,
    start: int = 0,
    end: int = -1,
) -> Iterator[LineBatch]:
    """Yield the lines of `path` (or of its bytes [start, end)) in batches, in file order.

    A file that does not end in a newline still yields its last line; an empty file yields
    nothing. Offsets are filled only when `with_offsets` (they cost a loop over the lines).
    A plain file's bytes also go to `digest` as they are read, so the manifest's sha256
    costs no second read; a .gz file is not fed (its digest is of the compressed file).
    `first_line` counts from the start of the range; a range must start at a line start.
    """
    feed = digest if digest is not None and not is_gzip(path) else None
    with open_binary(path) as fh:
        if start:
            fh.seek(start)
        left = end - start if end >= 0 else -1
        line_no = 1
        offset = start
        tail = b""
        while left != 0:
            chunk = fh.read(CHUNK_BYTES if left < 0 else min(CHUNK_BYTES, left))
            if not chunk:
                break
            if left > 0:
                left -= len(chunk)
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


def _next_line_start(fh: IO[bytes], pos: int, size: int) -> int:
    """The first line start at or after `pos` (a line starts after a newline)."""
    fh.seek(pos - 1)
    while True:
        block = fh.read(_PROBE)
        if not block:
            return size
        found = block.find(b"\n")
        if found >= 0:
            return fh.tell() - len(block) + found + 1
        # no newline in this block: the line goes on; keep looking


def plan_ranges(paths: Sequence[Path], target_bytes: int) -> list[ByteRange]:
    """Cut each input into ranges of about `target_bytes` at line boundaries, in input order.

    How a file is cut never changes a tool's result (results are merged by file and line);
    it only decides how the work spreads. Gzip inputs and empty files are one range each.
    """
    ranges: list[ByteRange] = []
    target = max(1, target_bytes)
    for source, path in enumerate(paths):
        if is_gzip(path):
            ranges.append(ByteRange(source, str(path), 0, -1))
            continue
        size = os.path.getsize(path)
        cuts = [0]
        with path.open("rb") as fh:
            pos = target
            while pos < size:
                cut = _next_line_start(fh, pos, size)
                if cut >= size:
                    break
                cuts.append(cut)
                pos = cut + target
        cuts.append(size)
        ranges += [ByteRange(source, str(path), a, b) for a, b in zip(cuts, cuts[1:], strict=False)]
        if size == 0:
            ranges.append(ByteRange(source, str(path), 0, 0))
    return ranges


def read_range(fd: int, start: int, end: int) -> bytes:
    """The bytes [start, end) of an open plain file, read with one pread where it can."""
    want = end - start
    data = os.pread(fd, want, start)
    if len(data) == want:
        return data
    parts = [data]
    got = len(data)
    while got < want:
        more = os.pread(fd, want - got, start + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def read_line_at(fh: IO[bytes], offset: int) -> bytes:
    """Read the line that starts at byte `offset` of an open (seekable) file."""
    fh.seek(offset)
    return fh.readline().rstrip(b"\n")
