"""The append-only journal `sprints/events.jsonl`: one event a line, chained by `prev` hashes.

Line N holds `seq` N and `prev` = xxh3 of line N-1, so a truncated, edited or
reverted journal is detected. The head this host last committed is kept in
`.sprintboard/head.json` (never synced) and checked on every load.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import xxhash

from sprintboard.board.codec import event_from_dict, event_to_dict
from sprintboard.board.models import OPS, Event
from sprintboard.errors import JournalCorrupt, JournalRolledBack
from sprintboard.files import append_durable, atomic_write, fsync_dir

__all__ = ["Head", "Journal", "JournalLine", "JournalRead", "encode_event", "line_hash"]

log = logging.getLogger(__name__)

_ID_KEY = b'"id":"'


def line_hash(line: bytes) -> str:
    """xxh3-64 of a journal line without its newline, as 16 hex digits."""
    return xxhash.xxh3_64_hexdigest(line)


def encode_event(event: Event) -> bytes:
    return orjson.dumps(event_to_dict(event))


@dataclass(frozen=True, slots=True)
class Head:
    """Where the journal ended at the last commit this host saw: seq, line hash, byte offset."""

    seq: int = 0
    hash: str | None = None
    offset: int = 0


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

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    # -- head -------------------------------------------------------------------------------

    def load_head(self) -> Head | None:
        try:
            data = orjson.loads(self.head_path.read_bytes())
        except FileNotFoundError:
            return None
        except orjson.JSONDecodeError:
            log.warning("%s is unreadable; verifying the whole journal instead", self.head_path)
            return None
        return Head(seq=data["seq"], hash=data["hash"], offset=data["offset"])

    def store_head(self, head: Head) -> None:
        # Not fsynced: a head lost in a crash is older than the journal (lines past it are
        # verified and accepted) or unreadable (the whole journal is verified instead).
        data = orjson.dumps({"seq": head.seq, "hash": head.hash, "offset": head.offset})
        atomic_write(self.head_path, data, durable=False)

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
        except FileNotFoundError:
            return result
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
        return result

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
                f"hash chain broken: prev is {data.get('prev')!r}, expected {prev!r}",
            )
        if data.get("op") not in OPS:
            raise JournalCorrupt(self.path, seq, f"unknown op {data.get('op')!r}")
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
        end = append_durable(self.path, b"".join(line + b"\n" for line in lines), at)
        if created:
            fsync_dir(self.path.parent)
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
        log.warning(
            "%s: a torn last line (%d bytes, crash mid-append) was set aside in %s",
            self.path,
            len(torn),
            keep,
        )
        return keep
