"""The board's files on one host: journal, snapshot and recorded head, kept consistent.

Loading prefers the snapshot when it is the one this host wrote (its digest is in the
recorded head) and matches the journal, else replays the journal; catching up folds in
lines other processes appended; a torn tail is set aside; lines minted by another owner
host are refused. Callers hold the board lock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sprintboard.board.collector import collector_paused
from sprintboard.board.journal import Head, Journal, JournalLine, content_digest
from sprintboard.board.models import Event
from sprintboard.board.snapshot import first_difference, parse_snapshot, render_snapshot
from sprintboard.board.state import BoardState, reduce
from sprintboard.errors import BoardError, JournalCorrupt, JournalRolledBack, SecondOwner
from sprintboard.files import atomic_write

__all__ = ["BoardStore", "SnapshotCheck", "Verification", "board_paths"]

log = logging.getLogger(__name__)

# An id a LocalBoard minted itself: `<host>:<26-char ULID or counter>`. Remote drafts keep
# their message id (`beta:beta-01J...`), so only an owner's own writes look like this.
_MINTED = re.compile(r"([^:]+):[0-9A-Z]{26}")


def board_paths(root: Path) -> dict[str, Path]:
    """Where a workspace keeps its board files."""
    return {
        "journal": root / "sprints" / "events.jsonl",
        "snapshot": root / "sprints" / "SPRINT_QUEUE.json",
        "local": root / ".sprintboard",
        "head": root / ".sprintboard" / "head.json",
        "lock": root / ".sprintboard" / "board.lock",
        "torn": root / ".sprintboard" / "torn",
    }


@dataclass(slots=True)
class SnapshotCheck:
    """What loading found of `SPRINT_QUEUE.json` (for `validate`)."""

    state: Literal["in step", "missing", "damaged", "unverified", "changed"] = "in step"
    """`unverified`: no digest recorded for it (a fresh copy, an older head); `changed`: it
    is not the snapshot this host wrote last."""
    detail: str = ""
    data: bytes | None = field(default=None, repr=False)
    """The bytes set aside, to compare with the journal."""


@dataclass(frozen=True, slots=True)
class Verification:
    """What `validate` found: the events, and whether the snapshot agreed with them."""

    events: int
    snapshot: Literal["in step", "rebuilt", "differs"]
    detail: str = ""


class BoardStore:
    """Journal + snapshot + head of one workspace, as seen from `host`."""

    def __init__(self, paths: dict[str, Path], host: str, *, check_writers: bool) -> None:
        self.host = host
        self.check_writers_enabled = check_writers
        self.journal_path, self.snapshot_path = paths["journal"], paths["snapshot"]
        self.torn_dir = paths["torn"]
        paths["local"].mkdir(parents=True, exist_ok=True)
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.journal_path, paths["head"])
        self.snapshot_check = SnapshotCheck()

    def load(self) -> tuple[BoardState, Head]:
        """The current state, from the snapshot when it matches the journal, else replayed.

        Raises:
            JournalCorrupt, JournalRolledBack, SecondOwner.
        """
        recorded = self.journal.load_head()
        if recorded is not None:
            self.journal.check_head(recorded)
            self.journal.check_prefix(recorded)
            # what was appended since this machine's last commit must not be another owner's
            tail = self.journal.read(recorded.offset, recorded.seq, recorded.hash)
            self.check_writers(tail.lines)
        cached, head = self._from_snapshot(recorded)
        state, head = (cached, head) if cached is not None else self.replay()
        current, head = self.catch_up(state, head, writer=True)
        if cached is None or recorded != head or current is not cached:
            self.persist(current, head)
        return current, head

    def _from_snapshot(self, recorded: Head | None) -> tuple[BoardState | None, Head]:
        """The snapshot's state if it is the one this host last wrote, else None (replay)."""
        try:
            data = self.snapshot_path.read_bytes()
        except FileNotFoundError:
            self.snapshot_check = SnapshotCheck("missing", "it was missing")
            return None, Head()
        if recorded is None or recorded.snapshot is None:
            # nothing says which snapshot this host wrote: the journal decides
            self.snapshot_check = SnapshotCheck("unverified", "no digest recorded", data)
            return None, Head()
        if content_digest(data) != recorded.snapshot:
            log.warning(
                "%s is not the snapshot this host wrote last (edited by hand?); rebuilding it "
                "from the journal",
                self.snapshot_path,
            )
            self.snapshot_check = SnapshotCheck("changed", "its digest differs", data)
            return None, Head()
        try:
            state, head = parse_snapshot(data)
        except ValueError as exc:
            log.warning("%s: %s; rebuilding it from the journal", self.snapshot_path, exc)
            self.snapshot_check = SnapshotCheck("damaged", str(exc), data)
            return None, Head()
        if head.seq and self.journal.hash_of_line_ending_at(head.offset) != head.hash:
            log.warning("%s does not match the journal; rebuilding it", self.snapshot_path)
            self.snapshot_check = SnapshotCheck("changed", "its journal head differs", data)
            return None, Head()
        self.snapshot_check = SnapshotCheck()
        return state, head

    def replay(self, until: int | None = None) -> tuple[BoardState, Head]:
        """Fold the whole journal (or its first `until` events), verifying every line and
        the hash chain."""
        state = BoardState()
        read = self.journal.read()
        last = None
        with collector_paused():
            for line in read.lines:
                if until is not None and line.event.seq > until:
                    break
                self._fold(state, line.event)
                last = line
        head = Head(last.event.seq, last.hash, last.end) if last else Head()
        state.head = head.hash
        return state, head

    def verify(self) -> Verification:
        """Re-read the whole journal (every line, the chain, the recorded head and the bytes
        before it) and say what loading found of the snapshot.

        Raises:
            JournalCorrupt, JournalRolledBack.
        """
        recorded = self.journal.load_head()
        if recorded is not None:
            self.journal.check_head(recorded)
            self.journal.check_prefix(recorded)
        _, head = self.replay()
        check = self.snapshot_check
        name = self.snapshot_path.name
        if check.state == "in step":
            return Verification(head.seq, "in step")
        if check.state == "missing":
            return Verification(
                head.seq, "rebuilt", f"{name} was missing; rebuilt from the journal"
            )
        difference = self.snapshot_difference()
        if difference is None:
            return Verification(
                head.seq,
                "rebuilt",
                f"{name} was rebuilt from the journal ({check.detail}; it agreed)",
            )
        return Verification(head.seq, "differs", difference)

    def snapshot_difference(self) -> str | None:
        """How the snapshot set aside at load differs from the journal at its own seq.

        None when it agrees (a crash between writing the snapshot and recording its digest
        leaves a correct snapshot with an unknown digest) or when none was set aside.
        """
        check = self.snapshot_check
        if check.data is None:
            return None
        try:
            cached, head = parse_snapshot(check.data)
        except ValueError as exc:
            return f"it cannot be read ({exc})"
        state, real = self.replay(head.seq)
        if real.seq != head.seq:
            return f"it is at journal seq {head.seq}, but the journal has only {real.seq} events"
        return first_difference(cached, state)

    def _fold(self, state: BoardState, event: Event) -> None:
        try:
            reduce(state, event)
        except BoardError as exc:
            raise JournalCorrupt(
                self.journal_path, event.seq, f"event does not apply: {exc}"
            ) from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            # a value the reducer cannot fold (a NaN stored as null by an older version)
            raise JournalCorrupt(
                self.journal_path,
                event.seq,
                f"event does not apply: {event.op} has a bad value ({type(exc).__name__}: {exc})",
            ) from None

    def catch_up(
        self, state: BoardState, head: Head, *, writer: bool, seen: set[str] | None = None
    ) -> tuple[BoardState, Head]:
        """Fold in lines appended since `head`; only a `writer` (exclusive lock) sets aside a torn tail.

        Raises:
            JournalRolledBack: the journal no longer holds `head`.
        """
        if writer and self.journal.rewritten():
            # edited in place while this process held it open: check the bytes it committed
            # before writing after them (a plain append by another process skips this)
            known = self.journal.tracked_prefix(head.offset)
            self.journal.check_head(head)
            self.journal.check_prefix(Head(head.seq, head.hash, head.offset, prefix=known))
        size = self.journal.size()
        if size < head.offset:
            raise JournalRolledBack(
                self.journal_path, f"seq {head.seq}", f"a journal of {size} bytes"
            )
        if size == head.offset:
            return state, head
        if head.seq and self.journal.hash_of_line_ending_at(head.offset) != head.hash:
            raise JournalRolledBack(
                self.journal_path, f"seq {head.seq} ({head.hash})", "another line"
            )
        read = self.journal.read(head.offset, head.seq, head.hash)
        self.check_writers(read.lines)
        if read.lines:
            state = state.fork()
            for line in read.lines:
                self._fold(state, line.event)
                if seen is not None:
                    seen.add(line.event.id)
            last = read.lines[-1]
            state.head = last.hash
            head = Head(last.event.seq, last.hash, last.end)
        if read.torn and writer:
            self.journal.set_aside(read.torn, read.torn_at, self.torn_dir)
        return state, head

    def check_writers(self, lines: Sequence[JournalLine]) -> None:
        """Refuse lines another host minted as board owner (a misconfigured second owner).

        Raises:
            SecondOwner: a line's id was minted by a LocalBoard on another host.
        """
        if not self.check_writers_enabled:
            return
        for line in lines:
            minted = _MINTED.fullmatch(line.event.id)
            if minted and minted.group(1) != self.host:
                raise SecondOwner(
                    self.journal_path, line.event.seq, line.event.id, minted.group(1), self.host
                )

    def persist(self, state: BoardState, head: Head) -> None:
        """Replace the snapshot and record the head; a failure here leaves the commit standing."""
        try:
            data = render_snapshot(state, head)
            atomic_write(self.snapshot_path, data)
            self.journal.store_head(head, snapshot=content_digest(data))
        except OSError as exc:
            # The journal line is already durable, so the commit stands: raising would tell
            # the caller "not written" and a retry would do it twice. The snapshot and head
            # are derived and checked against the journal on every load.
            log.warning(
                "%s not updated after seq %d (%s); it is rebuilt from the journal on the "
                "next write or load",
                self.snapshot_path,
                head.seq,
                exc,
            )
