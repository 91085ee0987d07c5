"""`PgStore`: the board's events in PostgreSQL, reached through a psycopg connection pool.

One append is one transaction: `SELECT ... FROM sb_head FOR UPDATE` (the head row lock),
read the rows committed since this process's head, insert the new rows, `COMMIT`. The row
lock, not SERIALIZABLE, because every append extends the one chain anyway: the lock
queues writers in the server (each waits its turn once), where serializable isolation
would let them all work and then abort all but one, to retry under contention. Readers
take no lock (MVCC). A client killed mid-transaction leaves nothing: the server rolls
back what was not committed. The database's clock is read with the head, so every host
expires leases by one clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sprintboard.board.pg.schema import CHANNEL, SCHEMA
from sprintboard.errors import BoardError, StoreUnavailable

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["EventRow", "PgStore", "StoreHead", "Transaction", "redact"]

_PASSWORD = re.compile(r"(://[^:/@]*):[^@/]*@")
_INSTALL = "install the PostgreSQL driver: pip install 'sprintboard[postgres]'"


def redact(dsn: str) -> str:
    """The connection string without its password (for messages and logs)."""
    text = _PASSWORD.sub(r"\1:***@", dsn)
    return re.sub(r"password=\S+", "password=***", text)


@dataclass(frozen=True, slots=True)
class StoreHead:
    seq: int = 0
    hash: str | None = None
    fence: int = 0


@dataclass(frozen=True, slots=True)
class EventRow:
    """One journal line as stored: its seq, the exact line, and the hash recorded with it."""

    seq: int
    line: bytes
    hash: str
    prev: str | None = None


@dataclass(slots=True)
class Transaction:
    """An append in progress: the head row is locked until `commit` (or rollback on exit)."""

    conn: psycopg.Connection[Any]
    head: StoreHead
    now: datetime
    """The database's clock when the lock was taken."""
    committed: bool = False
    rows: list[EventRow] = field(default_factory=list)
    """The rows committed after the seq `locked` was given, as of the lock."""

    def insert(
        self,
        rows: Sequence[tuple[int, str, bytes, str, str | None, int | None]],
        *,
        commit: bool = True,
    ) -> None:
        """Insert (seq, id, line, hash, prev, granted fence) rows and commit them (unless
        told not to: a migration inserts in batches, then commits once)."""
        # one statement, one round trip, however many rows
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
        params: list[object] = []
        for seq, event_id, line, digest, prev, fence in rows:
            params += [seq, event_id, line.decode("utf-8"), digest, prev, fence]
        query = f"INSERT INTO sb_events (seq, id, line, hash, prev, grant_fence) VALUES {values}"
        if not commit:
            self.conn.execute(query, params)
            return
        with self.conn.pipeline():  # the rows and the COMMIT in one round trip
            self.conn.execute(query, params)
            self.conn.commit()
        self.committed = True

    def commit(self) -> None:
        self.conn.commit()
        self.committed = True


_ROWS = "SELECT seq, line, hash, prev FROM sb_events WHERE seq > %s"


def _rows(conn: psycopg.Connection[Any], after: int, until: int | None = None) -> list[EventRow]:
    query = _ROWS
    params: list[int] = [after]
    if until is not None:
        query += " AND seq <= %s"
        params.append(until)
    rows = conn.execute(query + " ORDER BY seq", params).fetchall()
    return [EventRow(s, line.encode("utf-8"), h, p) for s, line, h, p in rows]


class PgStore:
    """The events of one board in one PostgreSQL database.

    ```python
    store = PgStore("postgresql://sb@db.lan:5432/board")
    with store.locked() as tx:          # head row locked
        tx.insert(rows)                 # committed
    store.close()
    ```

    Raises:
        StoreUnavailable: psycopg is not installed, or the server cannot be reached.
    """

    def __init__(self, dsn: str, *, pool_size: int = 4, timeout: float = 10.0) -> None:
        self.dsn = dsn
        self.label = redact(dsn)
        self.timeout = timeout
        try:
            # psycopg is the optional postgres extra: without it, a one-line install hint
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise StoreUnavailable(self.label, _INSTALL) from None
        try:
            # one plain connection first: an unreachable server is said at once, in one
            # line, not after the pool's retries; it also makes the tables if they are new
            with psycopg.connect(dsn, connect_timeout=max(1, int(timeout))) as probe:
                self.board_id = _ensure_schema(probe)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(self.label, f"cannot connect ({_reason(exc)})") from None
        self._pool: ConnectionPool[Any] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max(1, pool_size),
            timeout=timeout,
            open=False,
            kwargs={"connect_timeout": max(1, int(timeout))},
            name="sprintboard",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except Exception as exc:
            self._pool.close()
            raise StoreUnavailable(self.label, f"cannot connect ({_reason(exc)})") from None
        self._listener: psycopg.Connection[Any] | None = None

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._pool.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (rolled back on return unless committed).

        Raises:
            StoreUnavailable: no connection within the timeout, or the server went away.
        """
        # the optional postgres extra, present once __init__ got this far
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreUnavailable(self.label, f"no connection ({exc})") from None
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(self.label, f"connection lost ({_reason(exc)})") from None

    # -- appends ------------------------------------------------------------------------------

    @contextmanager
    def locked(self, after: int = 0) -> Iterator[Transaction]:
        """A transaction holding the head row lock, with the rows committed after seq
        `after` (`Transaction.rows`); rolled back unless `insert` committed.

        Raises:
            StoreUnavailable: the server went away (an append cut off there is not committed,
                or, if the connection broke during COMMIT, may be: retry with the same ids).
            BoardError: the server refused the rows (out of chain, a fence not above the
                counter, a duplicate id).
        """
        import psycopg  # the optional postgres extra, present once __init__ got this far

        with self.connection() as conn:
            tx: Transaction | None = None
            try:
                # One round trip: the lock, then the rows as of after the lock was granted (a
                # second statement: in READ COMMITTED each statement sees what was committed
                # when it began, so it sees everything the previous holder committed).
                with conn.pipeline():
                    head = conn.execute(
                        "SELECT seq, hash, fence, statement_timestamp() FROM sb_head FOR UPDATE"
                    )
                    new = conn.execute(_ROWS + " ORDER BY seq", [after])
                row = head.fetchone()
                assert row is not None
                tx = Transaction(conn, StoreHead(row[0], row[1], row[2]), row[3])
                tx.rows = [EventRow(q, line.encode("utf-8"), h, p) for q, line, h, p in new]
                yield tx
            except psycopg.errors.RaiseException as exc:
                raise BoardError(
                    f"{self.label}: the store refused the append ({_reason(exc)})"
                ) from None
            except psycopg.errors.UniqueViolation as exc:
                raise BoardError(
                    f"{self.label}: an event id is already stored ({_reason(exc)})"
                ) from None
            finally:
                if tx is None or not tx.committed:
                    conn.rollback()

    # -- reads --------------------------------------------------------------------------------

    def head(self) -> StoreHead:
        with self.connection() as conn:
            row = conn.execute("SELECT seq, hash, fence FROM sb_head").fetchone()
            conn.commit()
        assert row is not None
        return StoreHead(row[0], row[1], row[2])

    def rows(self, after: int = 0, until: int | None = None) -> list[EventRow]:
        """Stored lines with seq in (`after`, `until`], in order (one snapshot)."""
        with self.connection() as conn:
            out = _rows(conn, after, until)
            conn.commit()
        return out

    def hash_at(self, seq: int) -> str | None:
        with self.connection() as conn:
            row = conn.execute("SELECT hash FROM sb_events WHERE seq = %s", [seq]).fetchone()
            conn.commit()
        return None if row is None else str(row[0])

    def now(self) -> datetime:
        with self.connection() as conn:
            row = conn.execute("SELECT statement_timestamp()").fetchone()
            conn.commit()
        assert row is not None
        moment: datetime = row[0]
        return moment

    # -- LISTEN/NOTIFY ------------------------------------------------------------------------

    def wait_notified(self, timeout: float, current: int) -> bool:
        """Wait up to `timeout` seconds for a commit past seq `current`; True if there is one.

        One dedicated connection listens (a pooled one would miss notices between uses).
        """
        import psycopg  # the optional postgres extra, present once __init__ got this far

        try:
            if self._listener is None or self._listener.closed:
                self._listener = psycopg.connect(self.dsn, autocommit=True)
                self._listener.execute(f"LISTEN {CHANNEL}")
            conn = self._listener
            row = conn.execute("SELECT seq FROM sb_head").fetchone()
            if row is not None and row[0] != current:
                return True  # committed before we listened, or while we were folding
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                return True
        except psycopg.OperationalError as exc:
            self._listener = None
            raise StoreUnavailable(self.label, f"connection lost ({_reason(exc)})") from None
        return False

    # -- named leases (the renderer's) --------------------------------------------------------

    def take_lease(self, name: str, holder: str, ttl: float) -> int | None:
        """Take or renew lease `name` for `holder` for `ttl` seconds of the database's clock;
        its token (unchanged on renewal), or None while someone else holds it."""
        with self.connection() as conn:
            row = conn.execute(
                "INSERT INTO sb_leases AS l (name, holder, expires, token) "
                "VALUES (%(name)s, %(holder)s, statement_timestamp() + make_interval(secs => %(ttl)s),"
                " nextval('sb_lease_tokens')) "
                "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
                "expires = EXCLUDED.expires, "
                "token = CASE WHEN l.holder = EXCLUDED.holder THEN l.token ELSE EXCLUDED.token END "
                "WHERE l.holder = EXCLUDED.holder OR l.expires < statement_timestamp() "
                "RETURNING token",
                {"name": name, "holder": holder, "ttl": float(ttl)},
            ).fetchone()
            conn.commit()
        return None if row is None else int(row[0])

    def lease_holder(self, name: str) -> tuple[str, datetime] | None:
        """Who holds lease `name` and until when, or None when it is free."""
        with self.connection() as conn:
            row = conn.execute(
                "SELECT holder, expires FROM sb_leases "
                "WHERE name = %s AND expires >= statement_timestamp()",
                [name],
            ).fetchone()
            conn.commit()
        return None if row is None else (str(row[0]), row[1])

    def release_lease(self, name: str, holder: str) -> None:
        with self.connection() as conn:
            conn.execute("DELETE FROM sb_leases WHERE name = %s AND holder = %s", [name, holder])
            conn.commit()

    def is_empty(self) -> bool:
        return self.head().seq == 0


def _ensure_schema(conn: psycopg.Connection[Any]) -> str:
    """Make the tables if the database has none yet; the board's id."""
    found = conn.execute("SELECT to_regclass('sb_events'), to_regclass('sb_meta')").fetchone()
    if found is None or None in found:
        # one creator at a time: many hosts may open a fresh database at once
        conn.execute("SELECT pg_advisory_xact_lock(2024120701)")
        conn.execute(SCHEMA)
        conn.commit()
    row = conn.execute("SELECT value FROM sb_meta WHERE key = 'board_id'").fetchone()
    conn.commit()
    assert row is not None
    return str(row[0])


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
