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
plus `"stale": {"received", "age_s", "reason"}` only on a host that is not the owner, when
the owner did not answer and the report is the last snapshot it sent (`received` ISO
time, `age_s` seconds old).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from sprintboard.board.models import Event, Task
from sprintboard.board.snapshot import counters
from sprintboard.board.state import BoardState

__all__ = [
    "EventRow",
    "LeaseRow",
    "StaleRow",
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
    caps: list[str] = Field(default_factory=list)
    """Capabilities a builder needs to take it."""
    artifacts: list[str] = Field(default_factory=list)
    """Workspace paths of what was submitted (what a person reviewing it looks at)."""


class SprintRow(_Out):
    id: str | None
    goal: str
    status: str


class JournalRow(_Out):
    seq: int
    head: str | None


class StaleRow(_Out):
    """The report is the owner's last snapshot, not a fresh answer."""

    received: str
    age_s: float
    reason: str


class StatusReport(_Out):
    """`sprintboard status --json`."""

    version: int = 1
    workspace: str
    host: str
    sprint: SprintRow
    counters: dict[str, int]
    tasks: list[TaskRow]
    journal: JournalRow
    stale: StaleRow | None = None


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
        caps=list(task.caps),
        artifacts=[a.path for a in task.artifacts],
    )


class _Seen(Protocol):
    """What a status report needs of a board client (`LocalBoard` and `RemoteBoard` have it)."""

    @property
    def host(self) -> str: ...

    @property
    def root(self) -> Path: ...

    def snapshot(self) -> BoardState: ...


def board_status(board: _Seen, state: BoardState | None = None) -> StatusReport:
    """Summarise the board for people and scripts (`state`: one already read, e.g. the last
    snapshot a remote host got from the owner)."""
    state = board.snapshot() if state is None else state
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
