"""Moving a board between the file journal and PostgreSQL, both ways, byte for byte.

A journal line and an event row hold the same bytes (`sb_events.line`), so a migration
copies lines: every seq, id and `prev` hash stays what it was, and the target verifies
like the source. Both directions refuse a target that already holds events, and both
verify the source first (chain, hashes, the reducer), so a damaged board is not copied.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from sprintboard.board.journal import Journal, line_hash
from sprintboard.board.pg.store import PgStore
from sprintboard.board.state import BoardState, reduce
from sprintboard.errors import BoardError, JournalCorrupt, StoreCorrupt
from sprintboard.files import atomic_write

__all__ = ["journal_to_store", "store_to_journal"]

_BATCH = 500


def journal_to_store(journal: Path, store: PgStore) -> int:
    """Copy the file journal `journal` into the empty `store`; the number of events.

    Raises:
        JournalCorrupt: the journal does not verify (nothing is copied).
        BoardError: the store already holds events.
    """
    read = Journal(journal, journal.with_name(".migrate-head.json")).read()
    if read.torn:
        raise JournalCorrupt(journal, len(read.lines) + 1, "a torn last line; run validate first")
    state = BoardState()
    rows: list[tuple[int, str, bytes, str, str | None, int | None]] = []
    for line in read.lines:
        event = line.event
        try:
            reduce(state, event)
        except BoardError as exc:
            raise JournalCorrupt(journal, event.seq, f"event does not apply: {exc}") from None
        fence = event.fields.get("fence") if event.op == "lease.grant" else None
        rows.append((event.seq, event.id, line.raw, line.hash, event.prev, fence))
    with store.locked() as tx:
        if tx.head.seq != 0:
            raise BoardError(
                f"{store.label} already holds {tx.head.seq} events; migrate into an empty database"
            )
        for start in range(0, len(rows), _BATCH):
            tx.insert(rows[start : start + _BATCH], commit=False)
        tx.commit()
    return len(rows)


def store_to_journal(store: PgStore, journal: Path) -> int:
    """Write every event of `store` to the file journal `journal` (absent or empty); the
    number of events. The host's recorded head beside it is dropped (a new journal).

    Raises:
        StoreCorrupt: a row does not verify (nothing is written).
        BoardError: `journal` already holds events.
    """
    if journal.exists() and journal.stat().st_size > 0:
        raise BoardError(f"{journal} already holds events; migrate into a workspace without any")
    rows = store.rows(0)
    state = BoardState()
    prev: str | None = None
    for row in rows:
        if line_hash(row.line) != row.hash:
            raise StoreCorrupt(store.label, row.seq, "the line does not hash to its recorded hash")
        data = orjson.loads(row.line)
        if data.get("seq") != row.seq or data.get("prev") != prev:
            raise StoreCorrupt(store.label, row.seq, "out of the hash chain")
        prev = row.hash
    # the chain is checked; the reducer checks the rest exactly as a file load would
    journal.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(row.line + b"\n" for row in rows)
    tmp = journal.with_name(journal.name + ".migrating")
    atomic_write(tmp, data)
    for line in Journal(tmp, tmp.with_name(".migrate-head.json")).read().lines:
        try:
            reduce(state, line.event)
        except BoardError as exc:
            tmp.unlink()
            raise StoreCorrupt(
                store.label, line.event.seq, f"event does not apply: {exc}"
            ) from None
    tmp.replace(journal)
    return len(rows)
