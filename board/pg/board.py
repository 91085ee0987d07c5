"""`PgBoard`: the `BoardClient` on any host, writing the board's PostgreSQL store directly.

It is `LocalBoard` with another store under it (the seam: `_writing`, `_commit` and the
reads): drafts are validated, authorized and folded by the same code, then committed as
rows in one transaction under the head row lock (board/pg/store.py). No owner: every host
opens the store. Fences are checked against the store's counter by the server. Leases
expire by the database's clock (`StoreClock`), so skewed host clocks do not matter.

KANBAN.md and SPRINT_QUEUE.json are views: only the process holding the store's `render`
lease writes them (`take_render_lease`; `follow` keeps them current as other hosts
commit). This host remembers the last head it saw (`.sprintboard/store-head.json`) so a
store restored to an older state, or swapped for another board's, is refused loudly.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from sprintboard.board.client import BoardObserver
from sprintboard.board.clock import Clock, IdSource, SystemClock, UlidIds
from sprintboard.board.journal import Head, line_hash, parse_line
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Event
from sprintboard.board.pg.store import EventRow, PgStore, Transaction
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.board.snapshot import render_snapshot
from sprintboard.board.state import BoardState, reduce
from sprintboard.board.store import Verification, board_paths
from sprintboard.errors import BoardError, JournalCorrupt, StoreCorrupt, StoreRolledBack
from sprintboard.files import atomic_write

__all__ = ["RENDER_LEASE", "PgBoard", "StoreClock"]

log = logging.getLogger(__name__)

RENDER_LEASE = "render"
HEAD_FILE = "store-head.json"
_RECORD_EVERY = 1.0


class StoreClock:
    """A host's clock corrected to the database's: every write reads the server's time, and
    between writes this clock runs on from the last reading."""

    def __init__(self, base: Clock | None = None) -> None:
        self.base = base or SystemClock()
        self._offset = timedelta(0)

    def observe(self, server_now: datetime) -> None:
        self._offset = server_now.astimezone(UTC) - self.base.now()

    def now(self) -> datetime:
        return self.base.now() + self._offset


class PgBoard(LocalBoard):
    """The board in PostgreSQL, as host `host` sees it (its folder `root` holds the views).

    ```python
    store = PgStore("postgresql://sb@db:5432/board")
    board = PgBoard(workspace, store=store, host="beta", policy=policy)
    lease = board.claim("T001", agent="builder-beta", host="beta", ttl=900)
    ```

    Raises:
        StoreUnavailable: the store cannot be reached.
        StoreCorrupt, StoreRolledBack: the stored events cannot be trusted; nothing is written.
    """

    def __init__(
        self,
        root: Path,
        *,
        store: PgStore,
        host: str,
        policy: BoardPolicy | None = None,
        clock: Clock | None = None,
        ids: IdSource | None = None,
        observers: Sequence[BoardObserver] = (),
    ) -> None:
        # not LocalBoard.__init__: no owner check, no file journal or lock
        self.root = Path(root)
        self.policy = policy or BoardPolicy()
        self._host = host
        self.clock = clock or StoreClock()
        self._ids = ids or UlidIds(self.clock)
        self.observers: list[BoardObserver] = list(observers)
        paths = board_paths(self.root)
        paths["local"].mkdir(parents=True, exist_ok=True)
        self.journal_path, self.snapshot_path = paths["journal"], paths["snapshot"]
        self.store = store
        self._recorded = paths["local"] / HEAD_FILE
        self._mutex = threading.RLock()
        self._state, self._head = BoardState(), Head()
        self._seen_ids: set[str] | None = set()
        self._holder = f"{host}/{os.getpid()}/{id(self):x}"
        self._render_until = 0.0
        self._recorded_at = 0.0
        self._behind = False
        self._tx: Transaction | None = None
        self._check_recorded()
        if isinstance(self.clock, StoreClock):
            self.clock.observe(store.now())
        self.refresh()

    def close(self) -> None:
        """Record the head seen, give the render lease back, close the store's connections."""
        if self._head.seq:
            self._record(now=True)
        if self._render_until:
            self.release_render_lease()
        self.store.close()

    def __enter__(self) -> PgBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def adopt(cls, root: Path, **kwargs: Any) -> PgBoard:
        """Accept the store as it is now (a person restored an older database on purpose):
        every row must still verify; only this host's recorded head is dropped."""
        (board_paths(Path(root))["local"] / HEAD_FILE).unlink(missing_ok=True)
        board = cls(Path(root), **kwargs)
        board.validate()
        return board

    # -- the recorded head --------------------------------------------------------------------

    def _check_recorded(self) -> None:
        try:
            data: Any = orjson.loads(self._recorded.read_bytes())
            board, seq, digest = data["board"], int(data["seq"]), data["hash"]
        except FileNotFoundError:
            return
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning(
                "%s is unreadable; the store is verified from its first event", self._recorded
            )
            return
        label = self.store.label
        if board != self.store.board_id:
            raise StoreRolledBack(
                label, f"board {board}", f"board {self.store.board_id} (another database)"
            )
        if seq == 0:
            return
        found = self.store.hash_at(seq)
        if found != digest:
            head = self.store.head()
            raise StoreRolledBack(
                label,
                f"seq {seq} ({digest})",
                f"seq {head.seq}" if found is None else f"seq {seq} hashing to {found}",
            )

    def _record(self, *, now: bool = False) -> None:
        """Remember the head this host saw, at most once a second (a file replace per
        commit would cost as much as the commit) and on `close`."""
        moment = time.monotonic()
        if not now and moment - self._recorded_at < _RECORD_EVERY:
            return
        self._recorded_at = moment
        data = {"board": self.store.board_id, "seq": self._head.seq, "hash": self._head.hash}
        try:
            atomic_write(self._recorded, orjson.dumps(data), durable=False)
        except OSError as exc:  # a lost record only weakens the rollback check
            log.warning("%s not updated (%s)", self._recorded, exc)

    # -- folding rows -------------------------------------------------------------------------

    def _fold(self, rows: Sequence[EventRow], *, into: BoardState | None = None) -> BoardState:
        """Verify `rows` (hash, seq, chain, shape) after this process's head and fold them
        into a fork of the state (or into `into`, as given).

        Raises:
            StoreCorrupt: a row does not verify or does not apply.
        """
        state = into if into is not None else self._state.fork()
        prev = state.head if state.seq else None
        for row in rows:
            label = self.store.label
            if line_hash(row.line) != row.hash:
                raise StoreCorrupt(label, row.seq, "the line does not hash to its recorded hash")
            try:
                event = parse_line(row.line, state.seq + 1, prev, Path(label))
                reduce(state, event)
            except JournalCorrupt as exc:
                raise StoreCorrupt(label, row.seq, exc.reason) from None
            except BoardError as exc:
                raise StoreCorrupt(label, row.seq, f"event does not apply: {exc}") from None
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                raise StoreCorrupt(
                    label, row.seq, f"event does not apply ({type(exc).__name__}: {exc})"
                ) from None
            prev = row.hash
            state.head = prev
            if into is None and self._seen_ids is not None:
                self._seen_ids.add(event.id)
        return state

    def _advance(self, rows: Sequence[EventRow]) -> bool:
        if not rows:
            return False
        state = self._fold(rows)
        self._state, self._head = state, Head(state.seq, state.head)
        self._record()
        return True

    # -- the store seam -----------------------------------------------------------------------

    def refresh(self) -> BoardState:
        """Fold in what other hosts committed; the render lease holder re-renders."""
        with self._mutex:
            if self._advance(self.store.rows(self._head.seq)):
                self._notify_observers()
            return self._state

    @contextmanager
    def _writing(self) -> Iterator[None]:
        with self._mutex:
            if self._behind:
                # other hosts commit too: fold their events before taking the lock, so the
                # lock is held only for what lands in between (the lock is the bottleneck)
                self._advance(self.store.rows(self._head.seq))
            with self._locked():
                yield

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self.store.locked(self._head.seq) as tx:
            if isinstance(self.clock, StoreClock):
                self.clock.observe(tx.now)
            if tx.head.seq < self._head.seq or (
                tx.head.seq == self._head.seq and tx.head.hash != self._head.hash
            ):
                raise StoreRolledBack(
                    self.store.label,
                    f"seq {self._head.seq} ({self._head.hash})",
                    f"seq {tx.head.seq} ({tx.head.hash})",
                )
            self._behind = tx.head.seq > self._head.seq
            self._advance(tx.rows)
            if self._state.fence != tx.head.fence:
                raise StoreCorrupt(
                    self.store.label,
                    tx.head.seq,
                    f"the fencing counter is {tx.head.fence}, the events grant {self._state.fence}",
                )
            self._tx = tx
            try:
                yield
            finally:
                self._tx = None

    def _commit(self, state: BoardState, events: Sequence[Event], lines: Sequence[bytes]) -> None:
        tx = self._tx
        assert tx is not None, "_commit runs inside _writing"
        rows = []
        for event, line in zip(events, lines, strict=True):
            granted = event.fields.get("fence") if event.op == "lease.grant" else None
            rows.append((event.seq, event.id, line, line_hash(line), event.prev, granted))
        tx.insert(rows)
        self._state, self._head = state, Head(state.seq, state.head)
        self._record()

    def _ids_seen(self) -> set[str]:
        assert self._seen_ids is not None
        return self._seen_ids

    # -- reads --------------------------------------------------------------------------------

    def wait_for_change(self, timeout: float) -> bool:
        """Wait for a commit by any host (LISTEN/NOTIFY) or `timeout` seconds; True if the
        board changed."""
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            if self.store.wait_notified(left, self._head.seq):
                before = self._head
                self.refresh()
                if self._head != before:
                    return True
            if time.monotonic() >= deadline:
                return False

    def events(self, since: int = 0) -> list[Event]:
        """Stored events with `seq` above `since`, oldest first."""
        label = Path(self.store.label)
        return [parse_line(r.line, r.seq, r.prev, label) for r in self.store.rows(since)]

    def validate(self) -> Verification:
        """Re-read every stored event: its line against its hash, the seq and prev chain,
        the reducer, and the head row and this host's recorded head against them.

        Raises:
            StoreCorrupt, StoreRolledBack.
        """
        self._check_recorded()
        head = self.store.head()
        rows = self.store.rows(0)
        state = self._fold(rows, into=BoardState())
        if (state.seq, state.head) != (head.seq, head.hash) or state.fence != head.fence:
            raise StoreCorrupt(
                self.store.label,
                head.seq,
                f"the head row (seq {head.seq}, hash {head.hash}, fence {head.fence}) does not "
                f"match the events (seq {state.seq}, hash {state.head}, fence {state.fence})",
            )
        return Verification(state.seq, "in step")

    def state_at(self, seq: int) -> BoardState:
        return self._fold(self.store.rows(0, seq), into=BoardState())

    # -- the views and who renders them -------------------------------------------------------

    def renders(self) -> bool:
        """This process holds the render lease (checked against a local deadline well
        inside the lease, so it never renders after the lease could have passed on)."""
        return time.monotonic() < self._render_until

    def take_render_lease(self, ttl: float = 30.0) -> bool:
        """Become the one renderer of KANBAN.md and SPRINT_QUEUE.json (or stay it) for
        `ttl` seconds; False while another process holds the lease."""
        started = time.monotonic()
        if self.store.take_lease(RENDER_LEASE, self._holder, ttl) is None:
            self._render_until = 0.0
            return False
        first = not self.renders()
        self._render_until = started + ttl * 0.8
        if first:
            with self._mutex:
                self._notify_observers()
        return True

    def release_render_lease(self) -> None:
        self._render_until = 0.0
        self.store.release_lease(RENDER_LEASE, self._holder)

    def render_holder(self) -> str | None:
        """Who renders the views now (`host/pid/...`), or None."""
        held = self.store.lease_holder(RENDER_LEASE)
        return None if held is None else held[0]

    def follow(self, stop: threading.Event, ttl: float = 30.0) -> None:
        """Keep the views current until `stop`: hold (or wait for) the render lease and
        re-render as other hosts commit."""
        renew = 0.0
        while not stop.is_set():
            if time.monotonic() >= renew:
                self.take_render_lease(ttl)
                renew = time.monotonic() + ttl / 3
            self.wait_for_change(min(1.0, ttl / 3))

    @contextmanager
    def following(self, ttl: float = 30.0) -> Iterator[None]:
        """`follow` in a thread for the duration (`watch`, the agents runner)."""
        stop = threading.Event()
        thread = threading.Thread(target=self.follow, args=(stop, ttl), name="render", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=10)

    def _notify_observers(self) -> None:
        if not self.renders():
            return
        try:
            atomic_write(self.snapshot_path, render_snapshot(self._state, self._head))
        except OSError as exc:  # a view: the commit stands
            log.warning("%s not updated after seq %d (%s)", self.snapshot_path, self._head.seq, exc)
        super()._notify_observers()
