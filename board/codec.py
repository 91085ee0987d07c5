"""Tasks and events to and from JSON-ready dicts.

`task_from_dict` is the fast path for data sprintboard wrote itself (snapshot, journal);
`validate_task` is the checked path for anything that came from outside, and keeps
unknown keys in `Task.extra`.
"""

from __future__ import annotations

from dataclasses import fields as dc_fields
from functools import cache
from typing import TYPE_CHECKING, Any

from sprintboard.board.models import (
    Artifact,
    Criterion,
    Decision,
    Estimate,
    Event,
    Lease,
    Note,
    Question,
    Step,
    Task,
)
from sprintboard.errors import BoardError, field_name, problem_text

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = [
    "TASK_FIELDS",
    "TaskValidationError",
    "artifact_to_dict",
    "criterion_to_dict",
    "decision_from_dict",
    "decision_to_dict",
    "event_from_dict",
    "event_to_dict",
    "lease_from_dict",
    "lease_to_dict",
    "question_to_dict",
    "task_from_dict",
    "task_to_dict",
    "validate_task",
]

TASK_FIELDS: tuple[str, ...] = tuple(f.name for f in dc_fields(Task))
_KNOWN = frozenset(TASK_FIELDS) - {"extra"}


class TaskValidationError(BoardError):
    """A task dict from outside does not fit the model; `problems` lists `field: message`."""

    def __init__(self, task: str, problems: list[str]) -> None:
        self.task, self.problems = task, problems
        super().__init__(f"task {task}: " + "; ".join(problems))


def lease_to_dict(lease: Lease) -> dict[str, Any]:
    return {
        "agent": lease.agent,
        "host": lease.host,
        "fence": lease.fence,
        "acquired": lease.acquired,
        "ttl": lease.ttl,
        "expires": lease.expires,
        "last_heartbeat": lease.last_heartbeat,
    }


def lease_from_dict(data: dict[str, Any]) -> Lease:
    return Lease(**data)


def criterion_to_dict(c: Criterion) -> dict[str, Any]:
    return {"text": c.text, "done": c.done, "check": c.check, "result": c.result}


def artifact_to_dict(a: Artifact) -> dict[str, Any]:
    return {"path": a.path, "sha256": a.sha256, "size": a.size}


def task_to_dict(task: Task) -> dict[str, Any]:
    """All fields, in declaration order, so the snapshot is byte-stable."""
    return {
        "id": task.id,
        "title": task.title,
        "status": task.status,
        "priority": task.priority,
        "type": task.type,
        "complexity": task.complexity,
        "dependencies": list(task.dependencies),
        "description": task.description,
        "criteria": [criterion_to_dict(c) for c in task.criteria],
        "estimate": None
        if task.estimate is None
        else {"low": task.estimate.low, "high": task.estimate.high},
        "role": task.role,
        "caps": list(task.caps),
        "steps": [{"tool": s.tool, "config": s.config} for s in task.steps],
        "agent": task.agent,
        "host": task.host,
        "lease": None if task.lease is None else lease_to_dict(task.lease),
        "artifacts": [artifact_to_dict(a) for a in task.artifacts],
        "metrics": dict(task.metrics),
        "blocked_reason": task.blocked_reason,
        "parent": task.parent,
        "exit_gates": list(task.exit_gates),
        "commits": list(task.commits),
        "links": task.links,
        "attempt": task.attempt,
        "optional": task.optional,
        "created": task.created,
        "updated": task.updated,
        "done_at": task.done_at,
        "origin": task.origin,
        "extra": dict(task.extra),
    }


_NESTED = {
    name: TASK_FIELDS.index(name)
    for name in ("criteria", "estimate", "steps", "lease", "artifacts")
}


def task_from_dict(data: dict[str, Any]) -> Task:
    """Rebuild a task from `task_to_dict` output (trusted input, no validation)."""
    if tuple(data) == TASK_FIELDS:
        # What `task_to_dict` wrote (snapshot, journal): every field, in declaration order.
        # Positional arguments build a Task ~10x faster than 31 keywords, which is most of
        # the time it takes to load a 10k-task snapshot.
        values = list(data.values())
        at = _NESTED
        items = values[at["criteria"]]
        values[at["criteria"]] = [Criterion(**c) for c in items] if items else []
        est = values[at["estimate"]]
        if est is not None:
            values[at["estimate"]] = Estimate(**est)
        items = values[at["steps"]]
        values[at["steps"]] = [Step(**s) for s in items] if items else []
        lease = values[at["lease"]]
        if lease is not None:
            values[at["lease"]] = Lease(**lease)
        items = values[at["artifacts"]]
        values[at["artifacts"]] = [Artifact(**a) for a in items] if items else []
        return Task(*values)
    d = dict(data)
    items = d.get("criteria")
    d["criteria"] = [Criterion(**c) for c in items] if items else []
    est = d.get("estimate")
    if est is not None:
        d["estimate"] = Estimate(**est)
    items = d.get("steps")
    d["steps"] = [Step(**s) for s in items] if items else []
    lease = d.get("lease")
    if lease is not None:
        d["lease"] = Lease(**lease)
    items = d.get("artifacts")
    d["artifacts"] = [Artifact(**a) for a in items] if items else []
    return Task(**d)


@cache
def _task_adapter() -> TypeAdapter[Task]:
    # imported here, not at the top: reading a board (`next`, `status`) never validates
    # outside input, and pydantic costs ~60 ms of start-up
    from pydantic import TypeAdapter

    return TypeAdapter(Task)


def validate_task(data: dict[str, Any]) -> Task:
    """Validate a task dict from outside; unknown keys go to `extra`.

    Raises:
        TaskValidationError: a field has the wrong type or value (each problem is listed).
    """
    known = {k: v for k, v in data.items() if k in _KNOWN}
    extra = dict(data.get("extra") or {})
    extra.update({k: v for k, v in data.items() if k not in _KNOWN and k != "extra"})
    known["extra"] = extra
    from pydantic import ValidationError  # see _task_adapter

    try:
        return _task_adapter().validate_python(known)
    except ValidationError as exc:
        problems = [f"{field_name(err)}: {problem_text(err)}" for err in exc.errors()]
        raise TaskValidationError(str(data.get("id", "?")), problems) from None


def event_to_dict(event: Event) -> dict[str, Any]:
    """The journal line's keys, in the order of contract 3."""
    return {
        "v": event.v,
        "seq": event.seq,
        "id": event.id,
        "ts": event.ts,
        "actor": event.actor,
        "op": event.op,
        "task": event.task,
        "fields": event.fields,
        "fence": event.fence,
        "prev": event.prev,
    }


def event_from_dict(data: dict[str, Any]) -> Event:
    return Event(
        seq=data["seq"],
        id=data["id"],
        ts=data["ts"],
        actor=data["actor"],
        op=data["op"],
        task=data.get("task"),
        fields=data.get("fields") or {},
        fence=data.get("fence"),
        prev=data.get("prev"),
        v=data.get("v", 1),
    )


def decision_to_dict(d: Decision | Note) -> dict[str, Any]:
    return {"id": d.id, "text": d.text, "actor": d.actor, "ts": d.ts, "task": d.task}


def decision_from_dict(data: dict[str, Any]) -> Decision:
    return Decision(**data)


def note_from_dict(data: dict[str, Any]) -> Note:
    return Note(**data)


def question_to_dict(q: Question) -> dict[str, Any]:
    return {
        "id": q.id,
        "text": q.text,
        "actor": q.actor,
        "ts": q.ts,
        "task": q.task,
        "answer": q.answer,
        "answered_by": q.answered_by,
        "answered_at": q.answered_at,
    }
