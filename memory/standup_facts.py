"""The facts of a standup, gathered from the folded journal; no text, no I/O.

Every list is in a fixed order (task creation order, or journal order), and every age is
measured against the `as_of` moment handed in, so the same journal and the same moment
always give the same facts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sprintboard.board.clock import parse_ts
from sprintboard.board.critical_path import critical_path
from sprintboard.board.models import FINISHED_STATUSES, Artifact, Task
from sprintboard.board.state import BoardState
from sprintboard.memory.daily_notes import NoteBlocker
from sprintboard.memory.history import History, TaskTrail

__all__ = [
    "ActorStat",
    "BlockedItem",
    "WaitingItem",
    "CriticalPathFinder",
    "DecisionItem",
    "DoneItem",
    "NextItem",
    "QuestionItem",
    "StandupFacts",
    "TaskLine",
    "gather_facts",
    "remaining_critical_path",
]

CriticalPathFinder = Callable[[Sequence[Task]], list[str]]
"""Task ids of the remaining critical path, in the order work flows."""

_REVIEW = frozenset({"awaiting_test", "testing", "ready_for_integrator"})
_MOVING = frozenset({"In Progress", "Review", "Blocked"})


@dataclass(frozen=True, slots=True)
class DoneItem:
    """A task that reached done since the last standup, with what it produced."""

    task: str
    title: str
    ts: str
    by: str
    artifacts: tuple[Artifact, ...]
    commits: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TaskLine:
    """A task in progress or in review: who holds it and since when."""

    task: str
    title: str
    status: str
    since: str
    by: str
    agent: str | None = None
    host: str | None = None
    acquired: str | None = None
    last_heartbeat: str | None = None
    heartbeats: int = 0


@dataclass(frozen=True, slots=True)
class BlockedItem:
    """A blocked task, or one waiting for a person (`needs_manual`)."""

    task: str
    title: str
    status: str
    reason: str
    since: str
    by: str
    unblockers: tuple[str, ...]
    """Who can unblock it: holders of what it waits on, then a person."""
    open_criteria: tuple[str, ...] = ()
    """For `needs_manual`: criteria without a passing check."""


@dataclass(frozen=True, slots=True)
class WaitingItem:
    """A task waiting on its dependencies (`blocked` without a reason): queued, not stuck."""

    task: str
    title: str
    on: tuple[str, ...]
    """The dependencies not done yet."""


@dataclass(frozen=True, slots=True)
class QuestionItem:
    """A question an agent asked a person: open (waiting), or answered while its task is
    still being worked (what the person said)."""

    task: str
    title: str
    id: str
    text: str
    asked_by: str
    asked: str
    answer: str | None = None
    answered_by: str | None = None


@dataclass(frozen=True, slots=True)
class DecisionItem:
    """A decision taken since the last standup."""

    ts: str
    actor: str
    task: str | None
    text: str


@dataclass(frozen=True, slots=True)
class NextItem:
    """A task on (or, without a path, instead of) the critical path."""

    task: str
    title: str
    status: str
    priority: int
    detail: str


@dataclass(frozen=True, slots=True)
class ActorStat:
    """What one agent (or person) did since the last standup, grouped under its host."""

    host: str
    actor: str
    events: int
    holds: tuple[str, ...]
    touched: tuple[str, ...]


@dataclass(slots=True)
class StandupFacts:
    """Everything a standup says, before it is written as markdown."""

    day: str
    as_of: datetime
    since_seq: int
    through_seq: int
    previous_day: str | None
    sprint_id: str | None
    sprint_goal: str
    stalled_days: int
    done: list[DoneItem] = field(default_factory=list)
    in_progress: list[TaskLine] = field(default_factory=list)
    blocked: list[BlockedItem] = field(default_factory=list)
    waiting: list[WaitingItem] = field(default_factory=list)
    manual: list[BlockedItem] = field(default_factory=list)
    questions: list[QuestionItem] = field(default_factory=list)
    decisions: list[DecisionItem] = field(default_factory=list)
    critical_path: list[str] | None = None
    finished_on_path: list[str] = field(default_factory=list)
    next_note: str = ""
    """Why the next list is what it is (graph missing, path finished)."""
    next_items: list[NextItem] = field(default_factory=list)
    stalled: list[TaskLine] = field(default_factory=list)
    note_blockers: list[NoteBlocker] = field(default_factory=list)
    actors: list[ActorStat] = field(default_factory=list)


def remaining_critical_path(tasks: Sequence[Task]) -> list[str]:
    """The critical path of what is left of the sprint (finished tasks count zero minutes)."""
    return critical_path(tasks, remaining=True).path


def _split_actor(actor: str, writer_host: str) -> tuple[str, str]:
    """(host, actor name): `builder-1@beta` -> (beta, builder-1); people go under the writer."""
    if "@" in actor and not actor.startswith("human:"):
        name, host = actor.split("@", 1)
        return host, name
    return writer_host, actor


def _owner(task: Task) -> str | None:
    return f"{task.agent}@{task.host}" if task.agent and task.host else task.agent


def _unblockers(history: History, task: Task, by: str) -> tuple[str, ...]:
    tasks = history.state.tasks
    out: list[str] = []
    words = set(task.blocked_reason.replace(",", " ").split()) if task.blocked_reason else set()
    waits = [d for d in task.dependencies if d in tasks] + sorted(
        w for w in words if w in tasks and w not in task.dependencies and w != task.id
    )
    for dep in waits:
        other = tasks[dep]
        if other.status in FINISHED_STATUSES:
            continue
        owner = _owner(other)
        out.append(f"{dep} ({owner})" if owner else dep)
    out.append(by if by.startswith("human:") else "a person")
    return tuple(out)


def _done_item(task: Task, trail: TaskTrail) -> DoneItem:
    return DoneItem(
        task.id,
        task.title,
        trail.done_ts or trail.status_ts,
        trail.done_by or trail.status_by,
        tuple(task.artifacts),
        tuple(task.commits),
    )


def _held_line(task: Task, trail: TaskTrail) -> TaskLine:
    """A task under a lease or in review: who holds it, since when, how alive."""
    lease = task.lease
    return TaskLine(
        task.id,
        task.title,
        task.status,
        trail.status_ts,
        trail.status_by,
        agent=lease.agent if lease else None,
        host=lease.host if lease else None,
        acquired=lease.acquired if lease else None,
        last_heartbeat=lease.last_heartbeat if lease else None,
        heartbeats=trail.heartbeats if lease else 0,
    )


def _blocked_item(history: History, task: Task, trail: TaskTrail) -> BlockedItem:
    reason = task.blocked_reason or ("needs adapting" if task.status == "needs_adapt" else "")
    return BlockedItem(
        task.id,
        task.title,
        task.status,
        reason,
        trail.status_ts,
        trail.status_by,
        _unblockers(history, task, trail.status_by),
    )


def _manual_item(task: Task, trail: TaskTrail) -> BlockedItem:
    """A task waiting for a person, with the criteria no check has passed."""
    return BlockedItem(
        task.id,
        task.title,
        task.status,
        task.blocked_reason or "",
        trail.status_ts,
        trail.status_by,
        (),
        tuple(c.text for c in task.criteria if not c.done),
    )


def _questions(state: BoardState) -> list[QuestionItem]:
    """Open questions, and answered ones of tasks still being worked."""
    out = []
    for q in state.questions:
        asked_about = state.tasks.get(q.task or "")
        if asked_about is None or (
            q.answer is not None and asked_about.status in FINISHED_STATUSES
        ):
            continue
        out.append(
            QuestionItem(
                asked_about.id,
                asked_about.title,
                q.id,
                q.text,
                q.actor,
                q.ts,
                q.answer,
                q.answered_by,
            )
        )
    return out


def gather_facts(
    history: History,
    *,
    day: str,
    as_of: datetime,
    since_seq: int,
    previous_day: str | None,
    notes: Sequence[NoteBlocker] = (),
    stalled_days: int = 3,
    critical_path: CriticalPathFinder | None = remaining_critical_path,
) -> StandupFacts:
    """Collect the facts of a standup from `history` as of `as_of`."""
    state = history.state
    facts = StandupFacts(
        day=day,
        as_of=as_of,
        since_seq=since_seq,
        through_seq=history.seq,
        previous_day=previous_day,
        sprint_id=state.sprint.id,
        sprint_goal=state.sprint.goal,
        stalled_days=stalled_days,
        note_blockers=list(notes),
    )
    facts.questions = _questions(state)
    stale_before = as_of - timedelta(days=stalled_days)
    for task in state.tasks.values():
        trail = history.trails[task.id]
        if task.status == "done" and trail.done_seq is not None and trail.done_seq > since_seq:
            facts.done.append(_done_item(task, trail))
        if task.lease is not None or task.status in _REVIEW:
            facts.in_progress.append(_held_line(task, trail))
        if task.column == "Blocked":
            facts.blocked.append(_blocked_item(history, task, trail))
        elif task.status == "blocked":
            on = tuple(d for d in task.dependencies if _undone(state.tasks.get(d)))
            facts.waiting.append(WaitingItem(task.id, task.title, on))
        elif task.status == "needs_manual":
            facts.manual.append(_manual_item(task, trail))
        # Stalled means someone should be moving it: held, in review or blocked with a reason;
        # a task waiting on its dependencies or for a taker is not stuck, only queued.
        if task.column in _MOVING and parse_ts(trail.last_ts) < stale_before:
            facts.stalled.append(
                TaskLine(
                    task.id,
                    task.title,
                    task.status,
                    trail.last_ts,
                    trail.status_by,
                    agent=task.agent,
                    host=task.host,
                )
            )
    facts.decisions = [
        DecisionItem(e.ts, e.actor, e.task, str(e.fields.get("text", "")))
        for e in history.events
        if e.op == "decision.add" and e.seq > since_seq
    ]
    _next_on_path(facts, history, critical_path)
    facts.actors = _actor_stats(history, since_seq)
    return facts


def _undone(task: Task | None) -> bool:
    return task is not None and task.status != "done"


def _next_on_path(facts: StandupFacts, history: History, finder: CriticalPathFinder | None) -> None:
    tasks = history.state.tasks
    path: list[str] | None = None
    if finder is None:
        facts.next_note = "no critical path finder was given"
    else:
        try:
            path = finder(list(tasks.values()))
        except ImportError as exc:
            facts.next_note = f"the dependency graph is not available ({exc})"
    facts.critical_path = path
    facts.finished_on_path = [
        t for t in path or [] if t in tasks and tasks[t].status in FINISHED_STATUSES
    ]
    todo = [t for t in path or [] if t in tasks and tasks[t].status not in FINISHED_STATUSES]
    if path is not None and not todo:
        facts.next_note = "everything on the critical path is finished"
    if todo:
        chosen = [tasks[t] for t in todo[:5]]
    else:
        # Without a path, the next work is what can be claimed now, most urgent first.
        ready = [
            t
            for t in tasks.values()
            if t.status == "ready"
            and t.lease is None
            and all(tasks[d].status == "done" for d in t.dependencies if d in tasks)
        ]
        chosen = sorted(ready, key=lambda t: (t.priority, t.id))[:5]
    for task in chosen:
        pending = [
            d for d in task.dependencies if d in tasks and tasks[d].status not in FINISHED_STATUSES
        ]
        owner = _owner(task)
        if owner and task.status not in ("ready", "blocked"):
            detail = f"{task.status}, {owner}"
        elif pending:
            detail = f"waits on {', '.join(pending)}"
        elif task.status == "blocked" and task.blocked_reason:
            detail = f"blocked: {task.blocked_reason}"
        else:
            detail = task.status
        facts.next_items.append(NextItem(task.id, task.title, task.status, task.priority, detail))


def _actor_stats(history: History, since_seq: int) -> list[ActorStat]:
    counts: dict[tuple[str, str], int] = {}
    touched: dict[tuple[str, str], set[str]] = {}
    for event in history.events:
        if event.seq <= since_seq:
            continue
        key = _split_actor(event.actor, event.host)
        counts[key] = counts.get(key, 0) + 1
        if event.task:
            touched.setdefault(key, set()).add(event.task)
    holds: dict[tuple[str, str], list[str]] = {}
    for task in history.state.tasks.values():
        if task.lease is not None:
            key = (task.lease.host, task.lease.agent)
            holds.setdefault(key, []).append(task.id)
            counts.setdefault(key, 0)
    return [
        ActorStat(
            host,
            actor,
            counts[(host, actor)],
            tuple(holds.get((host, actor), [])),
            tuple(sorted(touched.get((host, actor), set()))),
        )
        for host, actor in sorted(counts)
    ]
