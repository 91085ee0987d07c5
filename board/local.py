"""`LocalBoard`: the `BoardClient` on the owner host, backed by the journal.

Every write: take the file lock, catch up with what other processes appended, expire
overdue leases, validate and fold the new events into a fork of the state, append +
fsync the journal, then atomically replace the snapshot and the recorded head, then
tell the observers (KANBAN.md is rendered by one). A refused event writes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sprintboard.board.client import BoardObserver, EventDraft
from sprintboard.board.clock import Clock, IdSource, SystemClock, UlidIds, format_ts
from sprintboard.board.codec import task_to_dict, validate_task
from sprintboard.board.collector import collector_paused
from sprintboard.board.journal import Head, encode_event, line_hash
from sprintboard.board.lock import BoardLock
from sprintboard.board.models import Artifact, Event, Lease, Note, Question, Status, Task
from sprintboard.board.scheduling import BoardPolicy, NextUp, claimable, next_tasks, next_up, rank
from sprintboard.board.state import BoardState, open_question, reduce
from sprintboard.board.store import BoardStore, Verification, board_paths
from sprintboard.errors import BoardError, NotOwner, NotPermitted

if TYPE_CHECKING:
    from sprintboard.board.document import TaskDocument

__all__ = ["LocalBoard", "Verification", "board_paths"]

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.02


class LocalBoard:
    """The board on its owner host.

    ```python
    board = LocalBoard(workspace, host="alpha", clock=FrozenClock(), ids=CounterIds())
    lease = board.claim("T001", agent="builder-1", host="alpha", ttl=900)
    board.submit("T001", lease.fence, artifacts=[], metrics={"val_loss": 1.2})
    ```

    Raises:
        NotOwner: `host` is not the owner named in the policy.
        JournalCorrupt, JournalRolledBack: the journal cannot be trusted; nothing is written.
    """

    def __init__(
        self,
        root: Path,
        *,
        host: str,
        policy: BoardPolicy | None = None,
        clock: Clock | None = None,
        ids: IdSource | None = None,
        lock_timeout: float = 30.0,
        observers: Sequence[BoardObserver] = (),
    ) -> None:
        self.root = Path(root)
        self.policy = policy or BoardPolicy()
        if self.policy.owner is not None and host != self.policy.owner:
            raise NotOwner(host, self.policy.owner)
        self._host = host
        self.clock: Clock = clock or SystemClock()
        self._ids: IdSource = ids or UlidIds(self.clock)
        self.observers: list[BoardObserver] = list(observers)
        paths = board_paths(self.root)
        self._store = BoardStore(paths, host, check_writers=self.policy.owner is not None)
        self.journal_path, self.snapshot_path = paths["journal"], paths["snapshot"]
        self._journal = self._store.journal
        self._lock = BoardLock(paths["lock"], lock_timeout)
        self._seen_ids: set[str] | None = None
        with self._lock.hold():
            self._state, self._head = self._store.load()

    @property
    def host(self) -> str:
        return self._host

    def close(self) -> None:
        """Nothing to give back: the file store holds nothing open between calls (the
        PostgreSQL store closes its connections here)."""

    @classmethod
    def adopt(cls, root: Path, **kwargs: Any) -> LocalBoard:
        """Accept the journal as it is now (a person restored an older one on purpose).

        The journal must still verify line by line; only the recorded head is dropped.
        """
        paths = board_paths(Path(root))
        paths["head"].unlink(missing_ok=True)
        paths["snapshot"].unlink(missing_ok=True)
        return cls(Path(root), **kwargs)

    # -- loading ----------------------------------------------------------------------------

    def _catch_up(self, *, writer: bool) -> None:
        """Fold in lines other processes appended since our head."""
        self._state, self._head = self._store.catch_up(
            self._state, self._head, writer=writer, seen=self._seen_ids
        )

    def refresh(self) -> BoardState:
        """Catch up with the journal and return the current state."""
        with self._lock.hold(shared=True):
            self._catch_up(writer=False)
        return self._state

    # -- writing ----------------------------------------------------------------------------

    def _persist(self) -> None:
        self._store.persist(self._state, self._head)

    def _write(
        self, build: Callable[[BoardState], Iterable[EventDraft]], *, render: bool = False
    ) -> list[Event]:
        # start-up: the write path's rules load with the first write (`status`, `next` and
        # `show` open a board only to read it)
        from sprintboard.board.authority import authorize
        from sprintboard.board.leases import expiry_drafts
        from sprintboard.board.moves import check_dependencies, is_noop_move, promotion_drafts
        from sprintboard.board.values import check_draft

        # A bulk write (an import, a board sync) folds thousands of drafts: see collector.py
        with self._writing(), collector_paused():
            state = self._state.fork()
            now = self.clock.now()
            ts = format_ts(now)
            events: list[Event] = []
            lines: list[bytes] = []
            prev = self._head.hash

            def commit_drafts(drafts: Iterable[EventDraft]) -> None:
                nonlocal prev
                for draft in drafts:
                    if draft.id is not None and draft.id in self._ids_seen():
                        continue
                    check_draft(state, draft)
                    if is_noop_move(state, draft):
                        continue
                    draft = authorize(state, draft, self.policy)
                    event = Event(
                        seq=state.seq + 1,
                        id=draft.id or f"{self._host}:{self._ids.new_id()}",
                        ts=ts,
                        actor=draft.actor,
                        op=draft.op,
                        task=draft.task,
                        fields=dict(draft.fields),
                        fence=draft.fence,
                        prev=prev,
                    )
                    reduce(state, event)
                    raw = encode_event(event)
                    prev = line_hash(raw)
                    events.append(event)
                    lines.append(raw)

            commit_drafts(expiry_drafts(state, now, self._host))
            commit_drafts(list(build(state)))
            check_dependencies(state, events)
            commit_drafts(promotion_drafts(state, events, self._host))
            if not events:
                if render:
                    self._notify_observers()
                return []
            state.head = prev
            self._commit(state, events, lines)
            if self._seen_ids is not None:
                self._seen_ids.update(e.id for e in events)
            self._notify_observers()
            return events

    # The store seam: a write holds `_writing` (caught up with every commit before it) while
    # the drafts are validated and folded, then `_commit` makes the new lines durable. The
    # PostgreSQL store (board/pg/) replaces these two and the reads below them.

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the board's write lock, caught up with every commit made before it."""
        with self._lock.hold():
            self._catch_up(writer=True)
            yield

    def _commit(self, state: BoardState, events: Sequence[Event], lines: Sequence[bytes]) -> None:
        """Append `lines` (the encoded `events`, already folded into `state`) durably and
        make `state` the board's; called inside `_writing`."""
        end = self._journal.append(lines, self._head.offset)
        self._state, self._head = state, Head(state.seq, state.head, end)
        self._persist()

    def _notify_observers(self) -> None:
        for observer in self.observers:
            try:
                observer.render(self._state)
            except Exception:  # what an observer renders is derived: the commit stands
                log.exception("%r failed to render after seq %d", observer, self._state.seq)

    def _ids_seen(self) -> set[str]:
        if self._seen_ids is None:
            self._seen_ids = self._journal.event_ids()
        return self._seen_ids

    # -- BoardClient ------------------------------------------------------------------------

    def snapshot(self) -> BoardState:
        """The current state; a read-only view (later writes fork, they never mutate it)."""
        return self.refresh()

    def ready(self, role: str | None = None, caps: Sequence[str] | None = None) -> list[Task]:
        """Claimable tasks for `role` with `caps` (WIP aside), most urgent first: the
        scheduling rule's order (priority, then least slack on the critical path)."""
        state = self.refresh()
        return rank(state, claimable(state, self.policy, role=role, caps=caps))

    def next_up(
        self,
        agent: str | None = None,
        role: str | None = None,
        caps: Sequence[str] | None = None,
        *,
        host: str | None = None,
        limit: int | None = None,
    ) -> NextUp:
        """What `agent` (on `host`: default its host in the config) should take next, best
        first, or why nothing; without `agent`, for a `role` agent (default builder) with
        `caps` (default none). The one ranking (`scheduling.next_up`)."""
        state = self.refresh()
        where = None if agent is None else self.policy.host_for(agent, host, self._host)
        return next_up(
            state, self.policy, agent=agent, role=role, caps=caps, host=where, limit=limit
        )

    def claim(self, task: str, agent: str, host: str, ttl: int) -> Lease:
        """Lease `task`; refused if leased, not ready, over WIP, or lacking capabilities.

        Raises:
            UnknownTask, LeaseConflict, WipLimitReached.
        """
        from sprintboard.board.leases import claim_drafts  # start-up: see _write

        now = self.clock.now()
        self._write(
            lambda state: claim_drafts(state, task, agent, host, ttl, now, board=self._host)
        )
        lease = self._state.task(task).lease
        assert lease is not None
        return lease

    def claim_next(
        self,
        agent: str,
        role: str | None = None,
        caps: Sequence[str] | None = None,
        ttl: int = 900,
        *,
        host: str | None = None,
        by_worker: bool = False,
    ) -> Task | None:
        """Lease the first task of `next_tasks` for `agent` (on `host`: default its host in
        the config, else this one), chosen and claimed under one lock, and return it; None
        when nothing is claimable (`nothing_to_take` says why).

        Raises:
            NotPermitted: the agent may claim nothing here (not in the config without open
                claims, another host's agent, or a role that is not its own).
        """
        from sprintboard.board.leases import claim_drafts  # start-up: see _write

        now = self.clock.now()
        where = self.policy.host_for(agent, host, self._host)
        refusal = self.policy.claimant(agent, where, role=role, caps=caps).refusal
        if refusal is not None:
            raise NotPermitted(f"{agent}@{where}", "lease.grant", None, refusal)
        chosen: list[str] = []

        def build(state: BoardState) -> list[EventDraft]:
            best = next_tasks(
                state,
                self.policy,
                role=role,
                caps=caps,
                agent=agent,
                host=where,
                by_worker=by_worker,
            )
            if not best:
                return []
            chosen.append(best[0].id)
            return claim_drafts(state, best[0].id, agent, where, ttl, now, board=self._host)

        self._write(build)
        return self._state.task(chosen[0]) if chosen else None

    def heartbeat(self, task: str, fence: int) -> Lease:
        """Extend the lease by its TTL.

        Raises:
            StaleFence: the lease was lost (expired, released or re-granted).
        """
        from sprintboard.board.leases import heartbeat_drafts  # start-up: see _write

        now = self.clock.now()
        self._write(lambda state: heartbeat_drafts(state, task, fence, now))
        lease = self._state.task(task).lease
        assert lease is not None
        return lease

    def submit(
        self, task: str, fence: int, artifacts: Sequence[Artifact], metrics: Mapping[str, float]
    ) -> Task:
        """Record a Builder's result and move the task to `awaiting_test` for the Auditor.

        Raises:
            StaleFence: the token is not the current lease's; nothing is recorded.
        """
        from sprintboard.board.leases import submit_drafts  # start-up: see _write

        self._write(lambda state: submit_drafts(state, task, fence, artifacts, metrics))
        return self._state.task(task)

    def release(self, task: str, fence: int, reason: str = "released") -> None:
        """Give a lease back; the task returns to ready."""
        from sprintboard.board.leases import release_drafts  # start-up: see _write

        self._write(lambda state: release_drafts(state, task, fence, reason))

    def transact(
        self, build: Callable[[BoardState], Iterable[EventDraft]], *, render: bool = False
    ) -> list[Event]:
        """Commit the drafts `build` makes from the current state, all under the board lock.

        `build` runs with the lock held, so what it reads (KANBAN.md, for a merge) cannot
        change under it; `render=True` tells the observers even when nothing was committed.
        """
        return self._write(build, render=render)

    def apply(self, events: Sequence[EventDraft]) -> list[Event]:
        """Commit drafts atomically (all or none); drafts with a known id are skipped."""
        return self._write(lambda _state: list(events))

    def wait_for_change(self, timeout: float) -> bool:
        """Poll the journal until it grows past our head, or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            if self._journal.size() != self._head.offset:
                before = self._head
                self.refresh()
                if self._head != before:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_SECONDS)

    # -- conveniences over apply ------------------------------------------------------------

    def expire_leases(self) -> list[str]:
        """Expire overdue leases now; returns the task ids put back to ready."""
        events = self._write(lambda _state: [])
        return [e.task for e in events if e.op == "lease.expire" and e.task]

    def create_tasks(
        self, tasks: Sequence[Task | dict[str, Any]], actor: str = "human:cli"
    ) -> list[Task]:
        """Add tasks (validated; dicts from outside go through pydantic).

        Raises:
            BoardError: an id exists already or a dependency is unknown; nothing is added.
        """
        objs = [t if isinstance(t, Task) else validate_task(t) for t in tasks]
        self.apply(
            [EventDraft("task.create", t.id, {"task": task_to_dict(t)}, actor) for t in objs]
        )
        return [self._state.task(t.id) for t in objs]

    def update_task(
        self,
        task: str,
        fields: Mapping[str, Any],
        actor: str = "human:cli",
        *,
        expect_updated: str | None = None,
    ) -> Task:
        """Change task fields; with `expect_updated`, refuse if the task changed since then.

        Raises:
            BoardError: a field cannot be updated, or the task changed since `expect_updated`.
        """

        def build(state: BoardState) -> list[EventDraft]:
            current = state.task(task)
            if expect_updated is not None and current.updated != expect_updated:
                raise BoardError(
                    f"{task}: changed since you loaded it (at {current.updated}); reload and retry"
                )
            return [EventDraft("task.update", task, dict(fields), actor)]

        self._write(build)
        return self._state.task(task)

    def move(
        self,
        task: str,
        to: Status,
        actor: str = "human:cli",
        *,
        reason: str | None = None,
        force: bool = False,
        expected: Status | None = None,
        fence: int | None = None,
        key: str | None = None,
    ) -> Task:
        """Move a task along the status table.

        `expected` is the status the caller saw (a web page, a merge): if the task has
        moved on since, the move is refused instead of silently overwriting. `fence` makes
        it the lease holder's move; `key` makes it idempotent (a known key commits nothing).

        Raises:
            InvalidTransition: the move is not allowed from the current status (the
                allowed ones are listed), the actor may not make it (board/authority.py:
                e.g. done with unchecked criteria), or the task is no longer `expected`.
        """
        from sprintboard.board.moves import move_drafts  # start-up: see _write

        def build(state: BoardState) -> list[EventDraft]:
            if key is not None and key in self._ids_seen():
                return []  # made before (a re-run after a kill): nothing more to do
            return move_drafts(
                state,
                task,
                to,
                actor,
                reason=reason,
                force=force,
                expected=expected,
                fence=fence,
                key=key,
            )

        self._write(build)
        return self._state.task(task)

    def assign(
        self,
        task: str,
        agent: str,
        host: str | None = None,
        actor: str = "human:cli",
        *,
        reason: str | None = None,
        key: str | None = None,
    ) -> Task:
        """Assign `task` to `agent` (on `host`, default its host in the config) without
        leasing it: the scheduling rule offers it to that agent first and to no other.
        `reason` is recorded as a decision; `key` makes both idempotent.

        Raises:
            UnknownTask, NotPermitted.
        """
        where = host or self.policy.agent_hosts.get(agent)
        drafts = [EventDraft("task.update", task, {"agent": agent, "host": where}, actor, id=key)]
        if reason:
            decision_key = None if key is None else f"{key}.decision"
            drafts.append(
                EventDraft("decision.add", task, {"text": reason}, actor, id=decision_key)
            )
        self.apply(drafts)
        return self._state.task(task)

    # -- the whole task and the conversation about it --------------------------------------

    def task(self, task_id: str) -> TaskDocument:
        """The whole task as `sprintboard show` prints it.

        Raises:
            UnknownTask.
        """
        # pydantic, loaded only here: `next --json` answers without it
        from sprintboard.board.document import task_document

        return task_document(self.refresh(), task_id)

    def actor_for(self, agent: str) -> str:
        """`agent` as an event's actor: a person or `NAME@HOST` as given, a bare agent name
        at its host in the config (else this one)."""
        if agent.startswith("human:") or "@" in agent:
            return agent
        return f"{agent}@{self.policy.host_for(agent, None, self._host)}"

    def note(self, task: str, text: str, agent: str, fence: int | None = None) -> Note:
        """Leave a progress note on `task` as `agent` (with `fence`: as its lease holder).

        Raises:
            UnknownTask, InvalidValue, StaleFence, NotPermitted (an unlisted agent writes
                only under its own lease).
        """
        event = self._one(
            "note.add",
            self.apply(
                [EventDraft("note.add", task, {"text": text}, self.actor_for(agent), fence)]
            ),
        )
        return next(n for n in reversed(self._state.notes) if n.id == event.id)

    def ask(self, task: str, question: str, agent: str, fence: int | None = None) -> Question:
        """Ask a person `question` about `task`; the lease is kept and the task shows as
        waiting for a person until the question is answered. Its id is `Question.id`.

        Raises:
            UnknownTask, InvalidValue, StaleFence, NotPermitted.
        """
        drafts = [
            EventDraft("question.ask", task, {"text": question}, self.actor_for(agent), fence)
        ]
        return self._question(self._one("question.ask", self.apply(drafts)).id)

    def answer(
        self, task: str, text: str, actor: str = "human:cli", question: str | None = None
    ) -> Question:
        """Answer `question` about `task` (default: its oldest open question) as a person.

        Raises:
            UnknownTask; BoardError: no open question (or `question` is not one of the
                task's, or was answered already); NotPermitted: `actor` is an agent.
        """

        def build(state: BoardState) -> list[EventDraft]:
            asked = open_question(state, task, question)
            return [
                EventDraft("question.answer", task, {"text": text, "question": asked.id}, actor)
            ]

        event = self._one("question.answer", self._write(build))
        return self._question(str(event.fields["question"]))

    @staticmethod
    def _one(op: str, events: list[Event]) -> Event:
        """The event of `op` a write committed (expiries may come with it)."""
        return next(e for e in events if e.op == op)

    def _question(self, question_id: str) -> Question:
        return next(q for q in self._state.questions if q.id == question_id)

    def add_decision(self, text: str, actor: str = "human:cli", task: str | None = None) -> None:
        self.apply([EventDraft("decision.add", task, {"text": text}, actor)])

    def add_note(self, text: str, actor: str = "human:cli", task: str | None = None) -> None:
        self.apply([EventDraft("note.add", task, {"text": text}, actor)])

    def check_criterion(
        self, task: str, index: int, done: bool, result: str | None, actor: str
    ) -> None:
        self.apply(
            [
                EventDraft(
                    "criterion.check", task, {"index": index, "done": done, "result": result}, actor
                )
            ]
        )

    def start_sprint(
        self, sprint_id: str, goal: str = "", actor: str = "human:cli", **extra: Any
    ) -> None:
        self.apply(
            [EventDraft("sprint.start", None, {"id": sprint_id, "goal": goal, **extra}, actor)]
        )

    def close_sprint(self, actor: str = "human:cli") -> None:
        self.apply([EventDraft("sprint.close", None, {}, actor)])

    def events(self, since: int = 0) -> list[Event]:
        """Journal events with `seq` above `since`, oldest first."""
        with self._lock.hold(shared=True):
            return [line.event for line in self._journal.read().lines if line.event.seq > since]

    def validate(self) -> Verification:
        """Re-read the whole journal, checking every line, the hash chain and the bytes up
        to the recorded head, and say whether the snapshot found at open agreed with it.

        Raises:
            JournalCorrupt, JournalRolledBack.
        """
        with self._lock.hold(shared=True):
            return self._store.verify()

    def verify(self) -> int:
        """`validate`, returning only the number of events.

        Raises:
            JournalCorrupt, JournalRolledBack.
        """
        return self.validate().events

    def state_at(self, seq: int) -> BoardState:
        """The board as it was after journal event `seq` (a replay; for merging old copies).

        Reads only lines that are never rewritten, so it needs no lock.
        """
        return self._store.replay(until=seq)[0]
