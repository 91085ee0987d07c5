"""`LocalBoard`: the `BoardClient` on the owner host, backed by the journal.

Every write: take the file lock, catch up with what other processes appended, expire
overdue leases, validate and fold the new events into a fork of the state, append +
fsync the journal, then atomically replace the snapshot and the recorded head, then
render views (KANBAN.md). A refused event writes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from sprintboard.board.client import EventDraft
from sprintboard.board.clock import Clock, IdSource, SystemClock, UlidIds, format_ts, parse_ts
from sprintboard.board.codec import task_to_dict, validate_task
from sprintboard.board.durable import atomic_write
from sprintboard.board.journal import Head, Journal, encode_event, line_hash
from sprintboard.board.lock import BoardLock
from sprintboard.board.models import ACTIVE_STATUSES, Artifact, Event, Lease, Status, Task
from sprintboard.board.policy import BoardPolicy
from sprintboard.board.snapshot import parse_snapshot, render_snapshot
from sprintboard.board.state import BoardState, reduce
from sprintboard.board.transitions import allowed_moves
from sprintboard.errors import (
    BoardError,
    InvalidTransition,
    JournalCorrupt,
    JournalRolledBack,
    LeaseConflict,
    NotOwner,
)

__all__ = ["BoardView", "LocalBoard", "board_paths"]

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.02


class BoardView(Protocol):
    """Something rendered from the state after each commit (KANBAN.md, for one)."""

    def render(self, state: BoardState) -> None: ...


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


def _agent_of(actor: str) -> str:
    return actor.split("@", 1)[0]


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
        views: Sequence[BoardView] = (),
    ) -> None:
        self.root = Path(root)
        self.policy = policy or BoardPolicy()
        if self.policy.owner is not None and host != self.policy.owner:
            raise NotOwner(host, self.policy.owner)
        self._host = host
        self.clock: Clock = clock or SystemClock()
        self._ids: IdSource = ids or UlidIds(self.clock)
        self.views: list[BoardView] = list(views)
        paths = board_paths(self.root)
        self.journal_path, self.snapshot_path = paths["journal"], paths["snapshot"]
        self._torn_dir = paths["torn"]
        paths["local"].mkdir(parents=True, exist_ok=True)
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        self._journal = Journal(self.journal_path, paths["head"])
        self._lock = BoardLock(paths["lock"], lock_timeout)
        self._seen_ids: set[str] | None = None
        self._state = BoardState()
        self._head = Head()
        with self._lock.hold():
            self._load()

    @property
    def host(self) -> str:
        return self._host

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

    def _load(self) -> None:
        recorded = self._journal.load_head()
        if recorded is not None:
            self._journal.check_head(recorded)
        cached, head = self._from_snapshot()
        state, head = (cached, head) if cached is not None else self._replay()
        self._state, self._head = state, head
        self._catch_up(writer=True)
        if cached is None or recorded != self._head or self._state is not cached:
            self._persist()

    def _from_snapshot(self) -> tuple[BoardState | None, Head]:
        try:
            state, head = parse_snapshot(self.snapshot_path.read_bytes())
        except FileNotFoundError:
            return None, Head()
        except ValueError as exc:
            log.warning("%s: %s; rebuilding it from the journal", self.snapshot_path, exc)
            return None, Head()
        if head.seq and self._journal.hash_of_line_ending_at(head.offset) != head.hash:
            log.warning("%s does not match the journal; rebuilding it", self.snapshot_path)
            return None, Head()
        return state, head

    def _replay(self) -> tuple[BoardState, Head]:
        state = BoardState()
        read = self._journal.read()
        for line in read.lines:
            self._fold(state, line.event)
        head = (
            Head(read.lines[-1].event.seq, read.lines[-1].hash, read.lines[-1].end)
            if read.lines
            else Head()
        )
        state.head = head.hash
        return state, head

    def _fold(self, state: BoardState, event: Event) -> None:
        try:
            reduce(state, event)
        except BoardError as exc:
            raise JournalCorrupt(
                self.journal_path, event.seq, f"event does not apply: {exc}"
            ) from None

    def _catch_up(self, *, writer: bool) -> None:
        """Fold in lines other processes appended since our head."""
        size = self._journal.size()
        if size < self._head.offset:
            raise JournalRolledBack(
                self.journal_path, f"seq {self._head.seq}", f"a journal of {size} bytes"
            )
        if size == self._head.offset:
            return
        if (
            self._head.seq
            and self._journal.hash_of_line_ending_at(self._head.offset) != self._head.hash
        ):
            raise JournalRolledBack(
                self.journal_path, f"seq {self._head.seq} ({self._head.hash})", "another line"
            )
        read = self._journal.read(self._head.offset, self._head.seq, self._head.hash)
        if read.lines:
            state = self._state.fork()
            for line in read.lines:
                self._fold(state, line.event)
                if self._seen_ids is not None:
                    self._seen_ids.add(line.event.id)
            last = read.lines[-1]
            state.head = last.hash
            self._state, self._head = state, Head(last.event.seq, last.hash, last.end)
        if read.torn and writer:
            self._journal.set_aside(read.torn, read.torn_at, self._torn_dir)

    def refresh(self) -> BoardState:
        """Catch up with the journal and return the current state."""
        with self._lock.hold(shared=True):
            self._catch_up(writer=False)
        return self._state

    # -- writing ----------------------------------------------------------------------------

    def _persist(self) -> None:
        atomic_write(self.snapshot_path, render_snapshot(self._state, self._head))
        self._journal.store_head(self._head)

    def _write(
        self, build: Callable[[BoardState], Iterable[EventDraft]], *, render: bool = False
    ) -> list[Event]:
        with self._lock.hold():
            self._catch_up(writer=True)
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
                    self._authorize(draft)
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

            commit_drafts(self._expiries(state, now))
            commit_drafts(list(build(state)))
            self._check_dependencies(state, events)
            commit_drafts(self._promotions(state, events))
            if not events:
                if render:
                    self._render_views()
                return []
            end = self._journal.append(lines, self._head.offset)
            state.head = prev
            self._state, self._head = state, Head(state.seq, prev, end)
            if self._seen_ids is not None:
                self._seen_ids.update(e.id for e in events)
            self._persist()
            self._render_views()
            return events

    def _render_views(self) -> None:
        for view in self.views:
            try:
                view.render(self._state)
            except Exception:  # a view is derived: the commit stands, the failure is reported
                log.exception("view %r failed to render after seq %d", view, self._state.seq)

    def _ids_seen(self) -> set[str]:
        if self._seen_ids is None:
            self._seen_ids = self._journal.event_ids()
        return self._seen_ids

    def _authorize(self, draft: EventDraft) -> None:
        if draft.op != "task.move" or draft.fields.get("to") != "done":
            return
        if draft.actor.startswith("human:"):
            if draft.fields.get("force"):
                return
            why = "a person moves a task to done only with force (--force)"
        else:
            agent = _agent_of(draft.actor)
            role = self.policy.agent_roles.get(agent) or draft.fields.get("role")
            if role == "auditor":
                return
            why = f"only the Auditor moves a task to done ({agent} is {role or 'not an auditor'})"
        task = self._state.tasks.get(draft.task or "")
        current = task.status if task else "?"
        raise InvalidTransition(draft.task or "?", current, "done", [], why)

    def _expiries(self, state: BoardState, now: Any) -> list[EventDraft]:
        out = []
        for task in state.tasks.values():
            lease = task.lease
            if lease is not None and parse_ts(lease.expires) <= now:
                out.append(
                    EventDraft(
                        "lease.expire",
                        task.id,
                        {
                            "reason": f"lease of {lease.agent}@{lease.host} expired at {lease.expires}"
                        },
                        actor=f"system@{self._host}",
                        fence=lease.fence,
                    )
                )
        return out

    def _check_dependencies(self, state: BoardState, events: list[Event]) -> None:
        for event in events:
            if event.op not in ("task.create", "task.update") or event.task is None:
                continue
            task = state.tasks[event.task]
            unknown = [d for d in task.dependencies if d not in state.tasks]
            if unknown:
                raise BoardError(
                    f"{task.id}: depends on unknown task(s) {', '.join(unknown)}; add them first "
                    "or fix the dependency list"
                )

    def _promotions(self, state: BoardState, events: list[Event]) -> list[EventDraft]:
        """Tasks waiting on dependencies (blocked, no reason) whose dependencies are now done."""
        if not any(e.op in ("task.move", "task.create", "task.update") for e in events):
            return []
        out = []
        for task in state.tasks.values():
            if task.status == "blocked" and not task.blocked_reason and task.dependencies:
                if all(
                    state.tasks[d].status == "done" for d in task.dependencies if d in state.tasks
                ):
                    out.append(
                        EventDraft(
                            "task.move",
                            task.id,
                            {"to": "ready", "from": "blocked", "reason": "dependencies done"},
                            actor=f"system@{self._host}",
                        )
                    )
        return out

    # -- BoardClient ------------------------------------------------------------------------

    def snapshot(self) -> BoardState:
        """The current state; a read-only view (later writes fork, they never mutate it)."""
        return self.refresh()

    def ready(self, role: str | None = None, caps: Sequence[str] | None = None) -> list[Task]:
        """Claimable tasks for `role` with `caps`: status ready (or waiting with all
        dependencies done), not leased; most urgent first (priority, then id)."""
        state = self.refresh()
        out = []
        for task in state.tasks.values():
            waiting = task.status == "blocked" and not task.blocked_reason
            if (task.status != "ready" and not waiting) or task.lease is not None:
                continue
            if not all(
                state.tasks[d].status == "done" for d in task.dependencies if d in state.tasks
            ):
                continue
            if self.policy.fits(task, role, caps):
                out.append(task)
        out.sort(key=lambda t: (t.priority, t.id))
        return out

    def claim(self, task: str, agent: str, host: str, ttl: int) -> Lease:
        """Lease `task`; refused if leased, not ready, over WIP, or lacking capabilities.

        Raises:
            UnknownTask, LeaseConflict, WipLimitReached.
        """
        actor = f"{agent}@{host}"

        def build(state: BoardState) -> list[EventDraft]:
            current = state.task(task)
            if current.lease is not None:
                raise LeaseConflict(
                    task, f"already leased to {current.lease.agent}@{current.lease.host}"
                )
            pending = [
                d
                for d in current.dependencies
                if d in state.tasks and state.tasks[d].status != "done"
            ]
            if pending:
                raise LeaseConflict(task, f"waits on {', '.join(pending)}")
            self.policy.check_claim(state, current, agent, host)
            drafts = []
            if current.status == "blocked" and not current.blocked_reason:
                drafts.append(
                    EventDraft(
                        "task.move",
                        task,
                        {"to": "ready", "from": "blocked", "reason": "dependencies done"},
                        actor,
                    )
                )
            elif current.status != "ready":
                raise LeaseConflict(task, f"cannot be claimed while {current.status}")
            expires = format_ts(self.clock.now() + timedelta(seconds=ttl))
            drafts.append(
                EventDraft(
                    "lease.grant",
                    task,
                    {
                        "agent": agent,
                        "host": host,
                        "ttl": ttl,
                        "expires": expires,
                        "fence": state.fence + 1,
                    },
                    actor,
                )
            )
            return drafts

        self._write(build)
        lease = self._state.task(task).lease
        assert lease is not None
        return lease

    def heartbeat(self, task: str, fence: int) -> Lease:
        """Extend the lease by its TTL.

        Raises:
            StaleFence: the lease was lost (expired, released or re-granted).
        """

        def build(state: BoardState) -> list[EventDraft]:
            current = state.task(task)
            lease = current.lease
            ttl = lease.ttl if lease else 0
            actor = f"{lease.agent}@{lease.host}" if lease else "unknown"
            expires = format_ts(self.clock.now() + timedelta(seconds=ttl))
            return [EventDraft("lease.heartbeat", task, {"expires": expires}, actor, fence=fence)]

        self._write(build)
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

        def build(state: BoardState) -> list[EventDraft]:
            lease = state.task(task).lease
            actor = f"{lease.agent}@{lease.host}" if lease else "unknown"
            drafts = [
                EventDraft(
                    "artifact.add",
                    task,
                    {"path": a.path, "sha256": a.sha256, "size": a.size},
                    actor,
                    fence,
                )
                for a in artifacts
            ]
            drafts += [
                EventDraft("metric.set", task, {"name": k, "value": float(v)}, actor, fence)
                for k, v in sorted(metrics.items())
            ]
            drafts.append(
                EventDraft(
                    "task.move", task, {"to": "awaiting_test", "reason": "submitted"}, actor, fence
                )
            )
            return drafts

        self._write(build)
        return self._state.task(task)

    def release(self, task: str, fence: int, reason: str = "released") -> None:
        """Give a lease back; the task returns to ready."""

        def build(state: BoardState) -> list[EventDraft]:
            lease = state.task(task).lease
            actor = f"{lease.agent}@{lease.host}" if lease else "unknown"
            return [EventDraft("lease.release", task, {"reason": reason}, actor, fence)]

        self._write(build)

    def transact(
        self, build: Callable[[BoardState], Iterable[EventDraft]], *, render: bool = False
    ) -> list[Event]:
        """Commit the drafts `build` makes from the current state, all under the board lock.

        `build` runs with the lock held, so what it reads (KANBAN.md, for a merge) cannot
        change under it; `render=True` renders the views even when nothing was committed.
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
        objs = [t if isinstance(t, Task) else _validated(t) for t in tasks]
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
        role: str | None = None,
        expected: Status | None = None,
    ) -> Task:
        """Move a task along the status table.

        `expected` is the status the caller saw (a web page, a merge): if the task has
        moved on since, the move is refused instead of silently overwriting.

        Raises:
            InvalidTransition: the move is not allowed from the current status (the
                allowed ones are listed), a non-Auditor tries `done`, or the task is no
                longer in the `expected` status.
        """

        def build(state: BoardState) -> list[EventDraft]:
            current = state.task(task)
            if expected is not None and current.status != expected:
                raise InvalidTransition(
                    task, expected, to, [], f"the task is now {current.status}; reload and retry"
                )
            drafts = []
            if current.lease is not None and to not in ACTIVE_STATUSES:
                lease = current.lease
                drafts.append(
                    EventDraft(
                        "lease.release",
                        task,
                        {"reason": f"moved to {to}"},
                        actor,
                        fence=lease.fence,
                    )
                )
            fields: dict[str, Any] = {"to": to, "from": current.status}
            if reason:
                fields["reason"] = reason
            if force:
                fields["force"] = True
            if role:
                fields["role"] = role
            if to == "blocked" and not reason and not force:
                raise InvalidTransition(
                    task, current.status, to, allowed_moves(current.status), "say why: --reason"
                )
            drafts.append(EventDraft("task.move", task, fields, actor))
            return drafts

        self._write(build)
        return self._state.task(task)

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

    def verify(self) -> int:
        """Re-read the whole journal, checking every line and the hash chain; returns the event count.

        Raises:
            JournalCorrupt, JournalRolledBack.
        """
        with self._lock.hold(shared=True):
            recorded = self._journal.load_head()
            if recorded is not None:
                self._journal.check_head(recorded)
            state, head = self._replay()
        return head.seq


def _validated(data: dict[str, Any]) -> Task:
    try:
        return validate_task(data)
    except ValueError as exc:
        raise BoardError(str(exc)) from None
