"""The board as a stable JSON document (`sprintboard status --json`, `log --json`).

Shape (version 1):
```
{"workspace": str, "host": str, "sprint": {"id", "goal", "status"},
 "counters": {"total_tasks": int, "<status>": int, ...},
 "tasks": [{"id", "title", "status", "column", "priority", "role", "agent", "host",
            "dependencies", "blocked_reason", "updated",
            "lease": {"agent", "host", "fence", "acquired", "expires", "last_heartbeat"} | null}],
 "journal": {"seq": int, "head": str | null}}
```
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Event, Task
from sprintboard.board.snapshot import counters

__all__ = [
    "EventRow",
    "LeaseRow",
    "StatusReport",
    "TaskRow",
    "board_status",
    "event_row",
    "task_row",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class LeaseRow(_Out):
    agent: str
    host: str
    fence: int
    acquired: str
    expires: str
    last_heartbeat: str


class TaskRow(_Out):
    id: str
    title: str
    status: str
    column: str
    priority: int
    role: str
    agent: str | None
    host: str | None
    dependencies: list[str]
    blocked_reason: str | None
    lease: LeaseRow | None
    updated: str | None


class SprintRow(_Out):
    id: str | None
    goal: str
    status: str


class JournalRow(_Out):
    seq: int
    head: str | None


class StatusReport(_Out):
    """`sprintboard status --json`."""

    version: int = 1
    workspace: str
    host: str
    sprint: SprintRow
    counters: dict[str, int]
    tasks: list[TaskRow]
    journal: JournalRow


class EventRow(_Out):
    """One line of `sprintboard log --json`."""

    seq: int
    ts: str
    actor: str
    op: str
    task: str | None
    fields: dict[str, object]
    fence: int | None


def task_row(task: Task) -> TaskRow:
    """One task as `status --json` (and the web board) show it."""
    lease = task.lease
    return TaskRow(
        id=task.id,
        title=task.title,
        status=task.status,
        column=task.column,
        priority=task.priority,
        role=task.role,
        agent=task.agent,
        host=task.host,
        dependencies=list(task.dependencies),
        blocked_reason=task.blocked_reason,
        lease=None
        if lease is None
        else LeaseRow(
            agent=lease.agent,
            host=lease.host,
            fence=lease.fence,
            acquired=lease.acquired,
            expires=lease.expires,
            last_heartbeat=lease.last_heartbeat,
        ),
        updated=task.updated,
    )


def board_status(board: LocalBoard) -> StatusReport:
    """Summarise the board for people and scripts."""
    state = board.snapshot()
    return StatusReport(
        workspace=str(board.root),
        host=board.host,
        sprint=SprintRow(id=state.sprint.id, goal=state.sprint.goal, status=state.sprint.status),
        counters={k: v for k, v in counters(state).items() if v or k == "total_tasks"},
        tasks=[task_row(t) for t in state.tasks.values()],
        journal=JournalRow(seq=state.seq, head=state.head),
    )


def event_row(event: Event) -> EventRow:
    return EventRow(
        seq=event.seq,
        ts=event.ts,
        actor=event.actor,
        op=event.op,
        task=event.task,
        fields=event.fields,
        fence=event.fence,
    )
