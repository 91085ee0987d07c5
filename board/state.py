"""The board state and the reducer that folds journal events into it.

`reduce` validates an event completely before it changes anything, so a refused event
leaves the state as it was. Replaying the journal through `reduce` rebuilds the state.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sprintboard.board.codec import task_from_dict
from sprintboard.board.models import (
    ACTIVE_STATUSES,
    STATUSES,
    Artifact,
    Criterion,
    Decision,
    Estimate,
    Event,
    Lease,
    Note,
    SprintInfo,
    Status,
    Step,
    Task,
)
from sprintboard.board.transitions import ALLOWED_MOVES, allowed_moves
from sprintboard.errors import (
    BoardError,
    InvalidTransition,
    LeaseConflict,
    StaleFence,
    UnknownTask,
)

__all__ = ["UPDATABLE_FIELDS", "BoardState", "reduce"]

# Fields `task.update` may change; status and lease change only through moves and leases.
UPDATABLE_FIELDS: frozenset[str] = frozenset(
    {
        "title",
        "priority",
        "type",
        "complexity",
        "dependencies",
        "description",
        "criteria",
        "estimate",
        "role",
        "caps",
        "steps",
        "agent",
        "host",
        "blocked_reason",
        "parent",
        "exit_gates",
        "commits",
        "links",
        "optional",
        "extra",
    }
)


@dataclass(slots=True)
class BoardState:
    """Everything the journal says, folded: the sprint, tasks in creation order, decisions."""

    sprint: SprintInfo = field(default_factory=SprintInfo)
    tasks: dict[str, Task] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    fence: int = 0
    """The last fencing token handed out; strictly increasing."""
    seq: int = 0
    head: str | None = None
    """xxh3 of the last journal line folded in."""
    updated: str | None = None
    hosts_seen: dict[str, str] = field(default_factory=dict)
    """Host -> when the owner last recorded its heartbeat (`host.heartbeat`, owner's clock)."""
    _owned: set[str] | None = field(default=None, repr=False, compare=False)

    def task(self, task_id: str) -> Task:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise UnknownTask(task_id) from None

    def fork(self) -> BoardState:
        """A copy to fold new events into; tasks are copied only when first changed.

        States handed out by `LocalBoard.snapshot()` are never mutated afterwards, and a
        batch that fails half-way is simply dropped.
        """
        return BoardState(
            sprint=copy.deepcopy(self.sprint),
            tasks=dict(self.tasks),
            decisions=list(self.decisions),
            notes=list(self.notes),
            fence=self.fence,
            seq=self.seq,
            head=self.head,
            updated=self.updated,
            hosts_seen=dict(self.hosts_seen),
            _owned=set(),
        )

    def own(self, task_id: str) -> Task:
        """The task, copied first if this is a fork that has not changed it yet."""
        task = self.task(task_id)
        if self._owned is not None and task_id not in self._owned:
            task = copy.deepcopy(task)
            self.tasks[task_id] = task
            self._owned.add(task_id)
        return task


def _require_task(state: BoardState, event: Event) -> Task:
    if event.task is None:
        raise BoardError(f"event {event.id} ({event.op}) names no task")
    return state.own(event.task)


def _check_fence(task: Task, fence: int | None) -> None:
    current = task.lease.fence if task.lease else None
    if fence is None or current is None or fence != current:
        raise StaleFence(task.id, fence, current)


def _coerce_update(name: str, value: Any) -> Any:
    if name == "criteria":
        return [c if isinstance(c, Criterion) else Criterion(**c) for c in value]
    if name == "steps":
        return [s if isinstance(s, Step) else Step(**s) for s in value]
    if name == "estimate" and value is not None and not isinstance(value, Estimate):
        return Estimate(**value)
    return value


def reduce(state: BoardState, event: Event) -> None:
    """Fold `event` into `state`, or raise without changing anything.

    Raises:
        UnknownTask, InvalidTransition, LeaseConflict, StaleFence, BoardError: the event
            does not fit the current state.
    """
    f = event.fields
    op = event.op
    if op == "task.create":
        data = dict(f["task"])
        if data["id"] in state.tasks:
            raise BoardError(f"{data['id']}: a task with this id already exists")
        data.setdefault("created", event.ts)
        data["updated"] = event.ts
        task = task_from_dict(data)
        if task.status not in STATUSES:
            raise BoardError(f"{task.id}: unknown status {task.status!r}")
        state.tasks[task.id] = task
    elif op == "task.update":
        task = _require_task(state, event)
        bad = sorted(set(f) - UPDATABLE_FIELDS)
        if bad:
            raise BoardError(
                f"{task.id}: task.update cannot change {', '.join(bad)}; use move/claim/release"
            )
        values = {name: _coerce_update(name, value) for name, value in f.items()}
        for name, value in values.items():
            setattr(task, name, value)
        task.updated = event.ts
    elif op == "task.move":
        _move(state, event)
    elif op == "lease.grant":
        task = _require_task(state, event)
        if task.status != "ready":
            raise LeaseConflict(task.id, f"cannot be claimed while {task.status}")
        if task.lease is not None:
            raise LeaseConflict(task.id, f"already leased to {task.lease.agent}@{task.lease.host}")
        fence = int(f["fence"])
        if fence <= state.fence:
            raise BoardError(f"{task.id}: fencing token {fence} is not above {state.fence}")
        lease = Lease(
            agent=f["agent"],
            host=f["host"],
            fence=fence,
            acquired=event.ts,
            ttl=int(f["ttl"]),
            expires=f["expires"],
            last_heartbeat=event.ts,
        )
        state.fence = fence
        task.lease = lease
        task.status, task.agent, task.host = "in_progress", f["agent"], f["host"]
        task.attempt += 1
        task.updated = event.ts
    elif op == "lease.heartbeat":
        task = _require_task(state, event)
        _check_fence(task, event.fence)
        assert task.lease is not None
        task.lease.expires = f["expires"]
        task.lease.last_heartbeat = event.ts
    elif op in ("lease.release", "lease.expire"):
        task = _require_task(state, event)
        if task.lease is None:
            raise LeaseConflict(task.id, "holds no lease")
        if op == "lease.release":
            _check_fence(task, event.fence)
        task.lease = None
        task.agent = None
        if task.status in ACTIVE_STATUSES:
            task.status = "ready"
        task.updated = event.ts
    elif op == "criterion.check":
        task = _require_task(state, event)
        index = int(f["index"])
        if not 0 <= index < len(task.criteria):
            raise BoardError(f"{task.id}: no criterion #{index + 1} (it has {len(task.criteria)})")
        task.criteria[index].done = bool(f["done"])
        task.criteria[index].result = f.get("result")
        task.updated = event.ts
    elif op == "artifact.add":
        task = _require_task(state, event)
        if event.fence is not None:
            _check_fence(task, event.fence)
        art = Artifact(path=f["path"], sha256=f["sha256"], size=int(f["size"]))
        task.artifacts = [a for a in task.artifacts if a.path != art.path] + [art]
        task.updated = event.ts
    elif op == "metric.set":
        task = _require_task(state, event)
        if event.fence is not None:
            _check_fence(task, event.fence)
        task.metrics[str(f["name"])] = float(f["value"])
        task.updated = event.ts
    elif op == "decision.add":
        state.decisions.append(
            Decision(id=event.id, text=f["text"], actor=event.actor, ts=event.ts, task=event.task)
        )
    elif op == "note.add":
        state.notes.append(
            Note(id=event.id, text=f["text"], actor=event.actor, ts=event.ts, task=event.task)
        )
    elif op == "sprint.start":
        state.sprint = SprintInfo(
            id=f.get("id"),
            goal=f.get("goal", ""),
            status="in_progress",
            started=event.ts,
            wip_limits=dict(f.get("wip_limits") or {}),
            extra=dict(f.get("extra") or {}),
        )
    elif op == "sprint.close":
        state.sprint.status = "closed"
        state.sprint.closed = event.ts
    elif op == "host.heartbeat":
        state.hosts_seen[str(f["host"])] = event.ts
    else:
        raise BoardError(f"event {event.id}: unknown op {op!r}")
    state.seq = event.seq
    state.updated = event.ts


def _move(state: BoardState, event: Event) -> None:
    task = _require_task(state, event)
    f = event.fields
    target: Status = f["to"]
    if target not in STATUSES:
        raise InvalidTransition(
            task.id, task.status, str(target), allowed_moves(task.status), "unknown status"
        )
    seen = f.get("from")
    if seen is not None and seen != task.status:
        raise InvalidTransition(
            task.id,
            task.status,
            target,
            allowed_moves(task.status),
            f"it is now {task.status}, not {seen} as you saw it; reload and retry",
        )
    force = bool(f.get("force"))
    if not force and target not in ALLOWED_MOVES[task.status] and target != task.status:
        raise InvalidTransition(task.id, task.status, target, allowed_moves(task.status))
    if event.fence is not None:
        _check_fence(task, event.fence)
    task.status = target
    if target == "blocked":
        task.blocked_reason = f.get("reason") or None
    elif task.blocked_reason is not None:
        task.blocked_reason = None
    if target not in ACTIVE_STATUSES and task.lease is not None:
        task.lease = None
    if target == "done":
        task.done_at = event.ts
    elif target != "cancelled":
        task.done_at = None
    if target == "cancelled" and f.get("reason"):
        task.extra["cancelled_reason"] = f["reason"]
    task.updated = event.ts
