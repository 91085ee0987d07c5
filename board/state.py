"""The board state and the reducer that folds journal events into it.

`reduce` validates an event completely before it changes anything, so a refused event
leaves the state as it was. Replaying the journal through `reduce` rebuilds the state.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
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
    Op,
    Question,
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

__all__ = ["UPDATABLE_FIELDS", "BoardState", "open_question", "reduce"]

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
    """Everything the journal says, folded: the sprint, tasks in creation order, decisions,
    notes and questions."""

    sprint: SprintInfo = field(default_factory=SprintInfo)
    tasks: dict[str, Task] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    """Questions agents asked people, in the order asked, answered or not."""
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
            questions=list(self.questions),
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


def open_question(state: BoardState, task: str, question: str | None = None) -> Question:
    """The question an answer to `task` goes to: `question`, else the task's oldest open one.

    Raises:
        UnknownTask; BoardError: none open, or `question` is not an open one of the task's.
    """
    state.task(task)
    if question is None:
        found = next((q for q in state.questions if q.task == task and q.open), None)
        if found is None:
            raise BoardError(f"{task}: no open question to answer (`sprintboard show {task}`)")
        return found
    found = next((q for q in state.questions if q.id == question), None)
    if found is None or found.task != task:
        raise BoardError(f"{task}: no question {question} about this task")
    if not found.open:
        raise BoardError(
            f"{task}: question {question} was answered by {found.answered_by} at "
            f"{found.answered_at}"
        )
    return found


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
    handler = _HANDLERS.get(event.op)
    if handler is None:
        raise BoardError(f"event {event.id}: unknown op {event.op!r}")
    handler(state, event)
    state.seq = event.seq
    state.updated = event.ts


def _create(state: BoardState, event: Event) -> None:
    data = dict(event.fields["task"])
    if data["id"] in state.tasks:
        raise BoardError(f"{data['id']}: a task with this id already exists")
    data.setdefault("created", event.ts)
    data["updated"] = event.ts
    task = task_from_dict(data)
    if task.status not in STATUSES:
        raise BoardError(f"{task.id}: unknown status {task.status!r}")
    state.tasks[task.id] = task


def _update(state: BoardState, event: Event) -> None:
    task = _require_task(state, event)
    bad = sorted(set(event.fields) - UPDATABLE_FIELDS)
    if bad:
        raise BoardError(
            f"{task.id}: task.update cannot change {', '.join(bad)}; use move/claim/release"
        )
    values = {name: _coerce_update(name, value) for name, value in event.fields.items()}
    for name, value in values.items():
        setattr(task, name, value)
    task.updated = event.ts


def _grant(state: BoardState, event: Event) -> None:
    task = _require_task(state, event)
    f = event.fields
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


def _heartbeat(state: BoardState, event: Event) -> None:
    task = _require_task(state, event)
    _check_fence(task, event.fence)
    assert task.lease is not None
    task.lease.expires = event.fields["expires"]
    task.lease.last_heartbeat = event.ts


def _end_lease(state: BoardState, event: Event) -> None:
    task = _require_task(state, event)
    if task.lease is None:
        raise LeaseConflict(task.id, "holds no lease")
    if event.op == "lease.release":
        _check_fence(task, event.fence)
    task.lease = None
    task.agent = None
    if task.status in ACTIVE_STATUSES:
        task.status = "ready"
    task.updated = event.ts


def _check_criterion(state: BoardState, event: Event) -> None:
    task = _require_task(state, event)
    index = int(event.fields["index"])
    if not 0 <= index < len(task.criteria):
        raise BoardError(f"{task.id}: no criterion #{index + 1} (it has {len(task.criteria)})")
    task.criteria[index].done = bool(event.fields["done"])
    task.criteria[index].result = event.fields.get("result")
    task.updated = event.ts


def _add_artifact(state: BoardState, event: Event) -> None:
    task = _require_task(state, event)
    if event.fence is not None:
        _check_fence(task, event.fence)
    f = event.fields
    art = Artifact(path=f["path"], sha256=f["sha256"], size=int(f["size"]))
    task.artifacts = [a for a in task.artifacts if a.path != art.path] + [art]
    task.updated = event.ts


def _set_metric(state: BoardState, event: Event) -> None:
    task = _require_task(state, event)
    if event.fence is not None:
        _check_fence(task, event.fence)
    task.metrics[str(event.fields["name"])] = float(event.fields["value"])
    task.updated = event.ts


def _add_decision(state: BoardState, event: Event) -> None:
    state.decisions.append(
        Decision(
            id=event.id, text=event.fields["text"], actor=event.actor, ts=event.ts, task=event.task
        )
    )


def _add_note(state: BoardState, event: Event) -> None:
    state.notes.append(
        Note(
            id=event.id, text=event.fields["text"], actor=event.actor, ts=event.ts, task=event.task
        )
    )


def _ask(state: BoardState, event: Event) -> None:
    task = _require_task(state, event)
    state.questions.append(
        Question(
            id=event.id, text=event.fields["text"], actor=event.actor, ts=event.ts, task=task.id
        )
    )


def _answer(state: BoardState, event: Event) -> None:
    question = open_question(state, event.task or "", str(event.fields["question"]))
    at = state.questions.index(question)
    # a new item: states handed out earlier share the list's items
    state.questions[at] = dataclasses.replace(
        question, answer=event.fields["text"], answered_by=event.actor, answered_at=event.ts
    )


def _start_sprint(state: BoardState, event: Event) -> None:
    f = event.fields
    state.sprint = SprintInfo(
        id=f.get("id"),
        goal=f.get("goal", ""),
        status="in_progress",
        started=event.ts,
        wip_limits=dict(f.get("wip_limits") or {}),
        extra=dict(f.get("extra") or {}),
    )


def _close_sprint(state: BoardState, event: Event) -> None:
    state.sprint.status = "closed"
    state.sprint.closed = event.ts


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


def _host_seen(state: BoardState, event: Event) -> None:
    # the owner's clock, as every ts in the journal: liveness never trusts a host's own clock
    state.hosts_seen[str(event.fields["host"])] = event.ts


_HANDLERS: dict[Op, Callable[[BoardState, Event], None]] = {
    "task.create": _create,
    "task.update": _update,
    "task.move": _move,
    "lease.grant": _grant,
    "lease.heartbeat": _heartbeat,
    "lease.release": _end_lease,
    "lease.expire": _end_lease,
    "criterion.check": _check_criterion,
    "artifact.add": _add_artifact,
    "metric.set": _set_metric,
    "decision.add": _add_decision,
    "note.add": _add_note,
    "question.ask": _ask,
    "question.answer": _answer,
    "sprint.start": _start_sprint,
    "sprint.close": _close_sprint,
    "host.heartbeat": _host_seen,
}
"""How each op folds into the state; every op of `OPS` has one (tests/board check it)."""
