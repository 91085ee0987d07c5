"""The append-only journal `sprints/events.jsonl`: one event a line, chained by `prev` hashes.

Line N holds `seq` N and `prev` = xxh3 of line N-1, so a truncated, edited or
reverted journal is detected. The head this host last committed is kept in
`.sprintboard/head.json` (never synced) and checked on every load, together with a hash
of every byte up to it (so an edit of a middle line that keeps its length is seen on
open, not only by `validate`) and a digest of the snapshot written with it.

The chain is not keyed: it proves the lines are the ones this host wrote up to its head,
in order; it cannot tell a line forged after the head by someone who can write the file
from one a process on this host appended (README, "Trust model").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import xxhash

from sprintboard.board.codec import event_from_dict, event_to_dict
from sprintboard.board.collector import collector_paused
from sprintboard.board.models import OPS, Event
from sprintboard.errors import JournalCorrupt, JournalRolledBack
from sprintboard.files import append_durable, atomic_write, fsync_dir

__all__ = [
    "Head",
    "Journal",
    "JournalLine",
    "JournalRead",
    "content_digest",
    "encode_event",
    "header_problem",
    "line_hash",
]

log = logging.getLogger(__name__)

_ID_KEY = b'"id":"'


def line_hash(line: bytes) -> str:
    """xxh3-64 of a journal line without its newline, as 16 hex digits."""
    return xxhash.xxh3_64_hexdigest(line)


def encode_event(event: Event) -> bytes:
    return orjson.dumps(event_to_dict(event))


_HEADER_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "ts": (str,),
    "actor": (str,),
    "task": (str, type(None)),
    "fields": (dict,),
    "fence": (int, type(None)),
}


def header_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with the types of a journal line's keys (contract 3), or None."""
    for key, types in _HEADER_TYPES.items():
        value = data.get(key)
        if not isinstance(value, types) or isinstance(value, bool):
            return f"{key} is {str(value)[:40]!r}, of the wrong type"
    return None


def content_digest(data: bytes) -> str:
    """xxh3-128 of `data` as 32 hex digits (the snapshot's digest in the recorded head)."""
    return xxhash.xxh3_128_hexdigest(data)


@dataclass(frozen=True, slots=True)
class Head:
    """Where the journal ended at the last commit this host saw: seq, line hash, byte offset.

    A recorded head also carries `prefix`, the xxh3-128 of the journal's first `offset`
    bytes, and `snapshot`, the digest of the snapshot written with it.
    """

    seq: int = 0
    hash: str | None = None
    offset: int = 0
    prefix: str | None = field(default=None, compare=False)
    snapshot: str | None = field(default=None, compare=False)


@dataclass(slots=True)
class JournalLine:
    event: Event
    raw: bytes
    hash: str
    end: int


@dataclass(slots=True)
class JournalRead:
    """Complete lines read from an offset, and any torn tail after them."""

    lines: list[JournalLine] = field(default_factory=list)
    torn: bytes = b""
    torn_at: int = 0


class Journal:
    """Reads, verifies and appends `events.jsonl`."""

    def __init__(self, path: Path, head_path: Path) -> None:
        self.path = path
        self.head_path = head_path
        # xxh3-128 of the first `_prefix_end` bytes, extended as lines are read or appended
        # in order, so recording the head costs only the new bytes.
        self._prefix = xxhash.xxh3_128()
        self._prefix_end = 0
        self._stamp: tuple[int, int, int] | None = None
        """(inode, size, mtime) after this process last read to the end or appended."""

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    # -- head -------------------------------------------------------------------------------

    def load_head(self) -> Head | None:
        try:
            data: Any = orjson.loads(self.head_path.read_bytes())
            head = Head(
                seq=data["seq"],
                hash=data["hash"],
                offset=data["offset"],
                prefix=data.get("prefix"),
                snapshot=data.get("snapshot"),
            )
            if not (isinstance(head.seq, int) and isinstance(head.offset, int)):
                raise TypeError("seq and offset must be numbers")
        except FileNotFoundError:
            return None
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            log.warning("%s is unreadable; verifying the whole journal instead", self.head_path)
            return None
        return head

    def store_head(self, head: Head, snapshot: str | None = None) -> None:
        """Record `head` with the hash of the journal up to it and the snapshot's digest."""
        # Not fsynced: a head lost in a crash is older than the journal (lines past it are
        # verified and accepted) or unreadable (the whole journal is verified instead).
        data = orjson.dumps(
            {
                "seq": head.seq,
                "hash": head.hash,
                "offset": head.offset,
                "prefix": self.prefix_digest(head.offset),
                "snapshot": snapshot,
            }
        )
        atomic_write(self.head_path, data, durable=False)

    # -- the hash of every byte up to the head ----------------------------------------------

    def _feed(self, data: bytes, start: int) -> None:
        if start == self._prefix_end and data:
            self._prefix.update(data)
            self._prefix_end += len(data)

    def prefix_digest(self, offset: int, *, reread: bool = False) -> str:
        """xxh3-128 of the journal's first `offset` bytes (streamed from the file when not
        tracked, or when `reread`)."""
        if reread or offset != self._prefix_end:
            hasher, done = xxhash.xxh3_128(), 0
            try:
                with self.path.open("rb") as fh:
                    while done < offset:
                        chunk = fh.read(min(1 << 20, offset - done))
                        if not chunk:
                            break
                        hasher.update(chunk)
                        done += len(chunk)
            except FileNotFoundError:
                pass
            self._prefix, self._prefix_end = hasher, done
        return self._prefix.hexdigest()

    def _note_stamp(self, st: os.stat_result | None = None) -> None:
        try:
            st = st or self.path.stat()
        except FileNotFoundError:
            self._stamp = None
            return
        self._stamp = (st.st_ino, st.st_size, st.st_mtime_ns)

    def rewritten(self) -> bool:
        """The file was replaced or rewritten in place since this process last saw it.

        Appends (here or by another process) make it longer, so a file of the same size
        with a new modification time, or another inode, was edited, not appended to.
        """
        if self._stamp is None:
            return False
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return True
        ino, size, mtime = self._stamp
        return st.st_ino != ino or (st.st_size == size and st.st_mtime_ns != mtime)

    def tracked_prefix(self, offset: int) -> str | None:
        """The hash of the first `offset` bytes as this process read them, if it tracked them."""
        return self._prefix.hexdigest() if offset == self._prefix_end else None

    def check_prefix(self, head: Head) -> None:
        """Refuse a journal whose bytes before the recorded head changed (a middle edit).

        Raises:
            JournalCorrupt: naming the first line where the hash chain breaks.
            JournalRolledBack: the chain holds but the lines were rewritten consistently.
        """
        if head.prefix is None or head.offset == 0:
            return
        if self.prefix_digest(head.offset, reread=True) == head.prefix:
            return
        self._prefix, self._prefix_end = xxhash.xxh3_128(), 0
        self.read()  # raises JournalCorrupt at the first line that no longer fits the chain
        raise JournalRolledBack(
            self.path,
            f"seq {head.seq} ({head.hash}) after the lines this host wrote",
            "lines before it rewritten",
        )

    def check_head(self, head: Head) -> None:
        """Refuse a journal that no longer contains the head this host committed.

        Raises:
            JournalRolledBack: the journal is shorter than the head, or the line there differs.
        """
        if head.seq == 0:
            return
        size = self.size()
        if size < head.offset:
            raise JournalRolledBack(
                self.path,
                f"seq {head.seq} ({head.hash})",
                f"a journal of {size} bytes (< {head.offset})",
            )
        found = self.hash_of_line_ending_at(head.offset)
        if found != head.hash:
            raise JournalRolledBack(
                self.path, f"seq {head.seq} ({head.hash})", f"line hash {found}"
            )

    def hash_of_line_ending_at(self, offset: int) -> str | None:
        """Hash of the line whose newline is the byte before `offset`."""
        if offset <= 0:
            return None
        window = 4096
        with self.path.open("rb") as fh:
            while True:
                start = max(0, offset - window)
                fh.seek(start)
                chunk = fh.read(offset - start)
                if len(chunk) != offset - start or not chunk.endswith(b"\n"):
                    return None
                nl = chunk.rfind(b"\n", 0, len(chunk) - 1)
                if nl >= 0 or start == 0:
                    return line_hash(chunk[nl + 1 : -1])
                window *= 4

    # -- reading ----------------------------------------------------------------------------

    def read(self, offset: int = 0, seq: int = 0, prev: str | None = None) -> JournalRead:
        """Parse and verify every complete line from `offset` (which follows line `seq`).

        A last line without its newline is returned as `torn`, not parsed.

        Raises:
            JournalCorrupt: a line is not JSON, breaks the seq or prev chain, or has a bad shape.
        """
        result = JournalRead(torn_at=offset)
        try:
            with self.path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read()
                self._note_stamp(os.fstat(fh.fileno()))
        except FileNotFoundError:
            return result
        with collector_paused():  # one Event per line, no cycles: see board/collector.py
            self._read_lines(data, offset, seq, prev, result)
        self._feed(data[: result.torn_at - offset], offset)
        return result

    def _read_lines(
        self, data: bytes, offset: int, seq: int, prev: str | None, result: JournalRead
    ) -> None:
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl < 0:
                result.torn = data[pos:]
                result.torn_at = offset + pos
                break
            raw = data[pos:nl]
            seq += 1
            event = self._parse(raw, seq, prev)
            digest = line_hash(raw)
            result.lines.append(JournalLine(event, raw, digest, offset + nl + 1))
            prev = digest
            pos = nl + 1
        else:
            result.torn_at = offset + pos

    def _parse(self, raw: bytes, seq: int, prev: str | None) -> Event:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise JournalCorrupt(self.path, seq, f"not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise JournalCorrupt(self.path, seq, "a line must be a JSON object")
        if data.get("seq") != seq:
            raise JournalCorrupt(self.path, seq, f"seq is {data.get('seq')!r}, expected {seq}")
        if data.get("prev") != prev:
            raise JournalCorrupt(
                self.path,
                seq,
                f"hash chain broken: prev is {data.get('prev')!r}, but line {seq - 1} hashes "
                f"to {prev!r} (line {seq - 1} was changed, or this line was not written after it)",
            )
        if data.get("op") not in OPS:
            raise JournalCorrupt(self.path, seq, f"unknown op {data.get('op')!r}")
        problem = header_problem(data)
        if problem:
            raise JournalCorrupt(self.path, seq, problem)
        try:
            return event_from_dict(data)
        except (KeyError, TypeError) as exc:
            raise JournalCorrupt(self.path, seq, f"missing or bad field ({exc})") from None

    def event_ids(self) -> set[str]:
        """Ids of every event in the journal (for idempotent re-apply)."""
        ids: set[str] = set()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return ids
        for raw in data.splitlines():
            start = raw.find(_ID_KEY)
            if start >= 0:
                start += len(_ID_KEY)
                ids.add(raw[start : raw.index(b'"', start)].decode("utf-8"))
        return ids

    # -- writing ----------------------------------------------------------------------------

    def append(self, lines: Sequence[bytes], at: int) -> int:
        """Append encoded lines at byte offset `at` (the current end) and fsync."""
        created = not self.path.exists()
        data = b"".join(line + b"\n" for line in lines)
        end = append_durable(self.path, data, at)
        if created:
            fsync_dir(self.path.parent)
        self._feed(data, at)
        self._note_stamp()
        return end

    def set_aside(self, torn: bytes, torn_at: int, into: Path) -> Path:
        """Move a torn tail (a crash mid-append) out of the journal, keeping its bytes."""
        into.mkdir(parents=True, exist_ok=True)
        keep = into / f"events.torn-at-{torn_at}.bin"
        atomic_write(keep, torn)
        with self.path.open("r+b") as fh:
            fh.truncate(torn_at)
            fh.flush()
            os.fsync(fh.fileno())
        self._note_stamp()
        log.warning(
            "%s: a torn last line (%d bytes, crash mid-append) was set aside in %s",
            self.path,
            len(torn),
            keep,
        )
        return keep
