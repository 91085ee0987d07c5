"""The board's data: tasks, leases, criteria, steps, artifacts, events, decisions.

Plain dataclasses inside (loading 10k tasks must take milliseconds, and pydantic costs
130-450 ms for that); `validate_task` is the pydantic gate at the boundary (imports,
CLI input, messages). Unknown fields from imported files are kept in `extra` and
written back out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NewType, assert_never, get_args

from sprintboard.files import FileRef

__all__ = [
    "ACTIVE_STATUSES",
    "COLUMNS",
    "FINISHED_STATUSES",
    "OPS",
    "STATUSES",
    "Artifact",
    "Column",
    "Criterion",
    "Decision",
    "Estimate",
    "Event",
    "Lease",
    "Note",
    "Op",
    "Question",
    "Role",
    "SprintInfo",
    "SprintStatus",
    "Status",
    "Step",
    "Task",
    "TaskId",
    "column_of",
]

TaskId = NewType("TaskId", str)

Status = Literal[
    "needs_plan",
    "planning",
    "planning_complete",
    "ready",
    "in_progress",
    "adapting",
    "integrating",
    "awaiting_test",
    "testing",
    "ready_for_integrator",
    "needs_manual",
    "blocked",
    "needs_adapt",
    "done",
    "cancelled",
]
STATUSES: tuple[Status, ...] = get_args(Status)

Column = Literal["Backlog", "Ready", "In Progress", "Review", "Blocked", "Done"]
COLUMNS: tuple[Column, ...] = get_args(Column)

SprintStatus = Literal["planned", "in_progress", "closed"]

Role = Literal["planner", "negotiator", "builder", "auditor", "human"]

Op = Literal[
    "task.create",
    "task.update",
    "task.move",
    "lease.grant",
    "lease.heartbeat",
    "lease.release",
    "lease.expire",
    "criterion.check",
    "artifact.add",
    "metric.set",
    "decision.add",
    "note.add",
    "question.ask",
    "question.answer",
    "sprint.start",
    "sprint.close",
    "host.heartbeat",
]
OPS: tuple[Op, ...] = get_args(Op)

FINISHED_STATUSES: frozenset[str] = frozenset({"done", "cancelled"})
# Statuses in which a task is being worked on and so may hold a lease.
ACTIVE_STATUSES: frozenset[str] = frozenset({"in_progress", "adapting", "integrating"})


def column_of(status: Status, blocked_reason: str | None = None) -> Column:
    """The KANBAN column of a status (DESIGN.md, contract 7).

    A `blocked` task without a reason is waiting on its dependencies: it shows in Backlog.
    """
    match status:
        case "needs_plan" | "planning" | "planning_complete":
            return "Backlog"
        case "ready":
            return "Ready"
        case "in_progress" | "adapting" | "integrating":
            return "In Progress"
        case "awaiting_test" | "testing" | "ready_for_integrator" | "needs_manual":
            return "Review"
        case "blocked":
            return "Blocked" if blocked_reason else "Backlog"
        case "needs_adapt":
            return "Blocked"
        case "done" | "cancelled":
            return "Done"
        case _:
            assert_never(status)


@dataclass(slots=True)
class Estimate:
    """An estimate as a range of minutes (`120-180 min`)."""

    low: int
    high: int

    def __str__(self) -> str:
        return f"{self.low}-{self.high} min" if self.low != self.high else f"{self.low} min"


@dataclass(slots=True)
class Criterion:
    """An acceptance criterion; `check` is the machine check after `check:` (contract 6)."""

    text: str
    done: bool = False
    check: str | None = None
    result: str | None = None
    """What the last check said (pass detail or failure reason)."""


@dataclass(slots=True)
class Step:
    """One tool call of a task: a registered tool name and its config (contract 5)."""

    tool: str
    config: dict[str, Any] = field(default_factory=dict)


Artifact = FileRef
"""A content-addressed output of a task (contract 8); its path is relative to the workspace."""


@dataclass(slots=True)
class Lease:
    """Who holds a task, until when, and the fencing token results must carry."""

    agent: str
    host: str
    fence: int
    acquired: str
    ttl: int
    """Seconds a lease lives without a heartbeat."""
    expires: str
    last_heartbeat: str


@dataclass(slots=True)
class Task:
    """One card of the board."""

    id: str
    title: str
    status: Status = "needs_plan"
    priority: int = 3
    """Lower is more urgent (P0 / 1 first)."""
    type: str = "Task"
    complexity: str | None = None
    dependencies: list[str] = field(default_factory=list)
    description: str = ""
    criteria: list[Criterion] = field(default_factory=list)
    estimate: Estimate | None = None
    role: str = "builder"
    """The role that works the task once it is ready."""
    caps: list[str] = field(default_factory=list)
    """Capabilities a host or agent needs to take the task (e.g. `mlx`)."""
    steps: list[Step] = field(default_factory=list)
    agent: str | None = None
    host: str | None = None
    lease: Lease | None = None
    artifacts: list[Artifact] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    blocked_reason: str | None = None
    parent: str | None = None
    exit_gates: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    links: str | None = None
    attempt: int = 0
    """Claims so far; outputs of attempt N go under `runs/<task>/<N>/`."""
    optional: bool = False
    created: str | None = None
    updated: str | None = None
    done_at: str | None = None
    origin: str | None = None
    """Where the task came from: `path:line` of its heading in an imported backlog."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields of imported files that sprintboard does not model; exported again as they were."""

    @property
    def column(self) -> Column:
        return column_of(self.status, self.blocked_reason)


@dataclass(slots=True)
class Decision:
    """A decision shown in KANBAN.md's Decisions section."""

    id: str
    text: str
    actor: str
    ts: str
    task: str | None = None


@dataclass(slots=True)
class Note:
    """A free-text note shown in KANBAN.md's Notes section."""

    id: str
    text: str
    actor: str
    ts: str
    task: str | None = None


@dataclass(slots=True)
class Question:
    """A question an agent asked a person about a task; `id` is the asking event's id."""

    id: str
    text: str
    actor: str
    ts: str
    task: str | None = None
    answer: str | None = None
    answered_by: str | None = None
    answered_at: str | None = None

    @property
    def open(self) -> bool:
        return self.answer is None


@dataclass(slots=True)
class SprintInfo:
    """The current sprint."""

    id: str | None = None
    goal: str = ""
    status: SprintStatus = "planned"
    started: str | None = None
    closed: str | None = None
    wip_limits: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Event:
    """One journal line (contract 3). Order is `seq`, never `ts`."""

    seq: int
    id: str
    ts: str
    actor: str
    op: Op
    task: str | None
    fields: dict[str, Any]
    fence: int | None = None
    prev: str | None = None
    v: int = 1

    @property
    def host(self) -> str:
        """The host that wrote the event (the part of the id before `:`)."""
        return self.id.split(":", 1)[0]
