"""Output files that appear whole or not at all, hashed while they are written.

A tool writes to a temporary file beside the target and renames it into place only on
success, so a crash never leaves a half-written dataset under the real name; the sha256 for
the manifest is computed from the bytes as they go out, not by reading the file again.
Parts of an output written elsewhere (by workers, one per byte range) are joined in order by
`append_file`: the kernel copies them and the hash reads them from a mapping.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

from sprintboard.files import FileRef
from sprintboard.tools.jsonl_stream import Digest, iter_batches, read_range
from sprintboard.tools.row_scan import RangeScan

__all__ = ["HashingWriter", "PartWriter", "RowSink", "copy_rows", "dataset_stem"]

_FLUSH_BYTES = 1 << 20
_IOV_MAX = 512


def _write_all(fd: int, blocks: Sequence[bytes | memoryview]) -> None:
    """writev every block, going on after a short write."""
    left = sum(len(b) for b in blocks)
    written = os.writev(fd, blocks)
    if written == left:
        return
    data = memoryview(b"".join(blocks))[written:]  # rare: finish with plain writes
    while data:
        data = data[os.write(fd, data) :]


def dataset_stem(path: Path) -> str:
    """`data/train.jsonl.gz` -> `train`: the name outputs made from an input start with."""
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


class _Blocks:
    """Lines and blocks queued for one file descriptor, written ~1 MiB per writev."""

    def __init__(self, fd: int, digest: Digest | None) -> None:
        self._fd = fd
        self._sha = digest
        self._pending: list[bytes] = []
        self._blocks: list[bytes | memoryview] = []
        self._pending_bytes = 0
        self.size = 0
        self.lines = 0

    def write_line(self, line: bytes) -> None:
        """Queue one line (without its newline)."""
        self._pending.append(line)
        self._pending_bytes += len(line) + 1
        self.lines += 1
        if self._pending_bytes >= _FLUSH_BYTES:
            self._flush()

    def write_block(self, data: bytes | memoryview) -> None:
        """Queue whole lines as they are (each already ending in a newline)."""
        self._end_lines()
        self._blocks.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= _FLUSH_BYTES:
            self._flush()

    def _end_lines(self) -> None:
        # Queued lines become one block, so lines and blocks keep their order.
        if self._pending:
            self._blocks.append(b"\n".join(self._pending) + b"\n")
            self._pending.clear()

    def _flush(self) -> None:
        self._end_lines()
        if not self._blocks:
            return
        # One writev per ~1 MiB of blocks: thousands of small writes cost more, and joining
        # them first would copy every byte once more.
        blocks = self._blocks
        if self._sha is not None:
            for block in blocks:
                self._sha.update(block)
        for start in range(0, len(blocks), _IOV_MAX):
            _write_all(self._fd, blocks[start : start + _IOV_MAX])
        self.size += self._pending_bytes
        blocks.clear()
        self._pending_bytes = 0


class PartWriter(_Blocks):
    """One piece of a later output (written by a worker, joined in order by `append_file`):
    no hash, no rename, as few copies as the rows allow."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), None)

    def close(self) -> int:
        """Write what is queued and close; the part's size in bytes."""
        self._flush()
        os.close(self._fd)
        self._fd = -1
        return self.size


class HashingWriter(_Blocks):
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
        self._hash = hashlib.sha256()
        super().__init__(fd, self._hash)
        self.ref: FileRef | None = None

    def append_file(self, part: Path) -> None:
        """Append a whole file's bytes (a part written elsewhere), hashing them on the way.

        The bytes are hashed from a read-only mapping and copied by the kernel
        (copy_file_range), so they never pass through a Python buffer.
        """
        self._flush()
        with part.open("rb") as src:
            size = os.fstat(src.fileno()).st_size
            if not size:
                return
            with mmap.mmap(src.fileno(), size, access=mmap.ACCESS_READ) as mapped:
                self._hash.update(mapped)
                _copy_file(src.fileno(), self._fd, size, mapped)
        self.size += size

    def commit(self) -> FileRef:
        """Flush, fsync, rename into place; return the file's content reference."""
        self._flush()
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = -1
        os.replace(self._tmp, self.path)
        self.ref = FileRef(path=str(self.path), sha256=self._hash.hexdigest(), size=self.size)
        return self.ref

    def abort(self) -> None:
        """Drop everything written so far."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
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


def _copy_file(src: int, dst: int, size: int, mapped: mmap.mmap) -> None:
    """Copy `size` bytes from the start of `src` to the end of `dst`, in the kernel where it can."""
    offset = 0
    try:
        while offset < size:
            done = os.copy_file_range(src, dst, size - offset, offset)
            if not done:
                break
            offset += done
    except (AttributeError, OSError):
        pass  # no copy_file_range here (or not between these file systems): write the rest
    data = memoryview(mapped)[offset:]
    try:
        while data:
            data = data[os.write(dst, data) :]
    finally:
        data.release()


class RowSink(Protocol):
    """Where `copy_rows` puts rows: a `HashingWriter` or a `PartWriter`."""

    def write_line(self, line: bytes) -> None:
        """Queue one line (without its newline)."""

    def write_block(self, data: bytes | memoryview) -> None:
        """Queue whole lines as they are."""


def copy_rows(
    scan: RangeScan,
    dest: Sequence[int],
    writers: Sequence[RowSink],
    replace: Mapping[int, bytes] | None = None,
) -> None:
    """Copy the rows of a scanned range to `writers[dest[i]]` (-1: left out), in order.

    Rows go out as the bytes they were read as, each ending in a newline; `replace` gives
    other bytes for some rows. A plain file is read back with one pread per range and
    written in runs of consecutive rows, not line by line.
    """
    rng = scan.range
    if not scan.rows:
        return
    replace = replace or {}
    if rng.end < 0:  # a gzip stream cannot be read from an offset: go through its lines
        index = 0
        for batch in iter_batches(Path(rng.path)):
            for raw in batch.lines:
                target = dest[index]
                if target >= 0:
                    writers[target].write_line(replace.get(index, raw))
                index += 1
        return
    fd = os.open(rng.path, os.O_RDONLY)
    try:
        data = memoryview(read_range(fd, rng.start, scan.end))
    finally:
        os.close(fd)
    offsets, base, rows = scan.offsets, rng.start, scan.rows
    i = 0
    while i < rows:
        target = dest[i]
        j = i + 1
        if i not in replace:
            while j < rows and dest[j] == target and j not in replace:
                j += 1
        if target >= 0:
            writer = writers[target]
            if i in replace:
                writer.write_line(replace[i])
            else:
                stop = offsets[j] - base if j < rows else len(data)
                writer.write_block(data[offsets[i] - base : stop])
                if j == rows and scan.unterminated:
                    writer.write_block(b"\n")  # the file's last line had none
        i = j
