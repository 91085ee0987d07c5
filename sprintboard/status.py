"""The board as a stable JSON document (`sprintboard status --json`, `log --json`).

Shape (version 1):
```
{"workspace": str, "host": str, "sprint": {"id", "goal", "status"},
 "counters": {"total_tasks": int, "<status>": int, ..., "waiting": int},
 "tasks": [{"id", "title", "status", "state", "column", "priority", "role", "agent", "host",
            "dependencies", "blocked_reason", "updated", "waits": {"on", "who", "run"} | null,
            "lease": {"agent", "host", "fence", "acquired", "expires", "last_heartbeat"} | null}],
 "journal": {"seq": int, "head": str | null}}
```
`state` is the status, except `waiting` for a task that waits on its dependencies (imported
as `blocked` without a reason, DESIGN.md contract 7); the counters count it as `waiting`, so
`blocked` counts only tasks blocked with a reason. `waits` says what an unfinished task that
nobody is working on waits for (board/waits.py), when the caller gave the policy.

plus `"stale": {"received", "age_s", "reason"}` only on a host that is not the owner, when
the owner did not answer and the report is the last snapshot it sent (`received` ISO
time, `age_s` seconds old).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from sprintboard.board.clock import parse_ts
from sprintboard.board.models import COLUMNS, Event, Task
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.board.state import BoardState
from sprintboard.board.waits import Wait, state_counters, state_of, waits

__all__ = [
    "EventRow",
    "LeaseRow",
    "StaleRow",
    "StatusFilter",
    "StatusReport",
    "TaskRow",
    "WaitRow",
    "board_status",
    "status_lines",
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


class WaitRow(_Out):
    """What a task waits for (board/waits.py)."""

    on: str
    who: str
    run: str


class TaskRow(_Out):
    id: str
    title: str
    status: str
    state: str
    """The status, or `waiting` when it is `blocked` only on its dependencies."""
    column: str
    priority: int
    role: str
    agent: str | None
    host: str | None
    dependencies: list[str]
    blocked_reason: str | None
    lease: LeaseRow | None
    updated: str | None
    waits: WaitRow | None = None
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


def task_row(task: Task, wait: Wait | None = None) -> TaskRow:
    """One task as `status --json` (and the web board) show it."""
    lease = task.lease
    return TaskRow(
        id=task.id,
        title=task.title,
        status=task.status,
        state=state_of(task),
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
        waits=None if wait is None else WaitRow(on=wait.on, who=wait.who, run=wait.run),
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


def board_status(
    board: _Seen,
    state: BoardState | None = None,
    *,
    policy: BoardPolicy | None = None,
    alive: Collection[str] = (),
) -> StatusReport:
    """Summarise the board for people and scripts (`state`: one already read, e.g. the last
    snapshot a remote host got from the owner). With `policy` (and the `alive` hosts), each
    task says what it waits for."""
    state = board.snapshot() if state is None else state
    found = {} if policy is None else {w.task: w for w in waits(state, policy, alive, board.host)}
    return StatusReport(
        workspace=str(board.root),
        host=board.host,
        sprint=SprintRow(id=state.sprint.id, goal=state.sprint.goal, status=state.sprint.status),
        counters=state_counters(state),
        tasks=[task_row(t, found.get(t.id)) for t in state.tasks.values()],
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


# -- for people ---------------------------------------------------------------------------

_STYLE = {
    "ready": "green",
    "in_progress": "cyan",
    "waiting": "dim",
    "blocked": "bold red",
    "needs_manual": "yellow",
    "needs_adapt": "red",
    "done": "dim green",
    "cancelled": "dim strike",
}


@dataclass(frozen=True, slots=True)
class StatusFilter:
    """Which tasks `sprintboard status` lists (all when every field is empty)."""

    states: frozenset[str] = frozenset()
    """Status, state (`waiting`) or column names, lower case."""
    role: str | None = None
    agent: str | None = None
    host: str | None = None

    def keeps(self, row: TaskRow) -> bool:
        # a task waiting on dependencies is not `blocked`, though that is its stored status
        names = {row.state, row.column.lower()}
        lease = row.lease
        agents = {row.agent, lease.agent if lease else None} - {None}
        hosts = {row.host, lease.host if lease else None} - {None}
        return (
            (not self.states or bool(names & self.states))
            and (self.role is None or row.role == self.role)
            and (self.agent is None or self.agent in agents)
            and (self.host is None or self.host in hosts)
        )


def _age(since: str, now: datetime) -> str:
    seconds = max(0, int((now - parse_ts(since)).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if seconds < 172800
        else f"{seconds // 86400}d"
    )


def status_lines(report: StatusReport, rows: list[TaskRow], now: datetime) -> list[str]:
    """The report for a person: one line per task, grouped by column, as rich markup (the
    caller's console drops the colour when it is not a terminal); no box drawing, so the
    lines grep and paste well."""
    from rich.markup import escape  # only people's output needs rich (start-up of `next`)

    title = f"{report.sprint.id or 'no sprint'} — {report.sprint.goal}".strip(" —")
    out = [escape(title)]
    width = max((len(r.id) for r in rows), default=4)
    for column in COLUMNS:
        here = [r for r in rows if r.column == column]
        if not here:
            continue
        waiting = sum(1 for r in here if r.state == "waiting")
        out.append("")
        out.append(
            f"[bold]{column}[/bold] ({len(here)}" + (f", {waiting} waiting)" if waiting else ")")
        )
        for r in here:
            style = _STYLE.get(r.state, "")
            state = f"{r.state:<12}"
            parts = [
                f"  {r.id:<{width}}  " + (f"[{style}]{state}[/{style}]" if style else state),
                f"P{r.priority}",
                escape(r.title),
            ]
            if r.lease is not None:
                parts.append(
                    f"· {escape(r.lease.agent)}@{escape(r.lease.host)}, lease "
                    f"{_age(r.lease.acquired, now)} (fence {r.lease.fence}, beat "
                    f"{_age(r.lease.last_heartbeat, now)} ago)"
                )
            elif r.agent:
                parts.append(f"· assigned {escape(r.agent)}@{escape(r.host or '?')}")
            if r.blocked_reason:
                parts.append(f"· blocked: {escape(r.blocked_reason)}")
            if r.waits is not None and r.waits.on != "blocked":
                parts.append(f"· waits for {escape(r.waits.who)}")
            out.append(" ".join(parts))
    shown = "" if len(rows) == len(report.tasks) else f" (showing {len(rows)})"
    out.append("")
    out.append(", ".join(f"{k}: {v}" for k, v in report.counters.items()) + shown)
    return out
