"""Burndown, velocity, throughput per role and lead times, computed from the journal.

Numbers only (no plotting, no files): `report` draws and writes them. Work is counted in
tasks and in estimated minutes (the middle of a task's `low-high` range; a task without an
estimate counts 0 minutes). The burndown samples the board at the end of every UTC day of
the current sprint, and at `now` for today.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from pydantic import BaseModel

from sprintboard.board.clock import format_ts, parse_ts
from sprintboard.board.models import Event, Task
from sprintboard.board.state import BoardState
from sprintboard.memory.history import History, fold_history

__all__ = [
    "Burndown",
    "DayPoint",
    "LeadTime",
    "RoleThroughput",
    "SprintVelocity",
    "compute_burndown",
    "minutes_of",
]


class _Row(BaseModel, frozen=True, extra="forbid"):
    pass


class DayPoint(_Row):
    """The board at the end of one day of the sprint."""

    day: str
    remaining_tasks: int
    """Tasks neither done nor cancelled."""
    remaining_minutes: int
    done_tasks: int
    """Tasks that reached done on this day."""
    done_minutes: int


class TimelinePoint(_Row):
    """Open tasks right after an event that changed how many are open."""

    ts: str
    remaining_tasks: int


class SprintVelocity(_Row):
    """Work finished in one sprint (the current one up to now)."""

    sprint: str
    started: str
    ended: str | None
    done_tasks: int
    done_minutes: int
    days: float
    """Length of the sprint so far, in days."""


class RoleThroughput(_Row):
    """Tasks of one role finished in the current sprint."""

    role: str
    done_tasks: int
    per_day: float


class LeadTime(_Row):
    """How long one finished task took: from creation (lead) and from first claim (cycle)."""

    task: str
    title: str
    role: str
    created: str
    done: str
    lead_hours: float
    cycle_hours: float | None


class Burndown(_Row):
    """Everything `sprintboard report` shows."""

    sprint: str | None
    goal: str
    as_of: str
    days: list[DayPoint]
    timeline: list[TimelinePoint] = []
    """Every change of the open-task count in the current sprint: the burndown of a
    sprint shorter than two days, where one point per day says nothing."""
    velocity: list[SprintVelocity]
    throughput: list[RoleThroughput]
    lead_times: list[LeadTime]


def minutes_of(task: Task) -> int:
    """Estimated minutes of a task: the middle of its range, 0 without an estimate."""
    return (task.estimate.low + task.estimate.high) // 2 if task.estimate else 0


def _remaining(state: BoardState) -> tuple[int, int]:
    open_tasks = [t for t in state.tasks.values() if t.status not in ("done", "cancelled")]
    return len(open_tasks), sum(minutes_of(t) for t in open_tasks)


def _day_end(day: datetime) -> datetime:
    return datetime.combine(day.date() + timedelta(days=1), time(), UTC)


def compute_burndown(events: Sequence[Event], now: datetime) -> Burndown:
    """Burndown of the current sprint, velocity of every sprint, throughput and lead times."""
    starts = [e for e in events if e.op == "sprint.start"]
    current_start = parse_ts(starts[-1].ts) if starts else None
    samples: dict[str, tuple[int, int]] = {}
    boundary = [_day_end(current_start)] if current_start else []

    timeline: list[TimelinePoint] = []
    moved: list[Event] = []  # the last task.move seen; `observe` runs before it is folded in

    def sample(ts: str, history: History) -> None:
        open_now = _remaining(history.state)[0]
        if not timeline or timeline[-1].remaining_tasks != open_now:
            timeline.append(TimelinePoint(ts=ts, remaining_tasks=open_now))

    def observe(event: Event, history: History) -> None:
        if moved:
            sample(moved.pop().ts, history)
        if current_start is not None and event.op == "task.move":
            if not timeline:
                sample(event.ts, history)  # what was planned, just before the first move
            moved.append(event)
        # Sample the state as it stood at each day end this event is past.
        while boundary and parse_ts(event.ts) >= boundary[0]:
            day = (boundary[0] - timedelta(days=1)).date().isoformat()
            samples[day] = _remaining(history.state)
            boundary[0] += timedelta(days=1)

    history = fold_history(events, observe=observe)
    if moved:
        sample(moved.pop().ts, history)
    days = _days(history, current_start, samples, now)
    return Burndown(
        sprint=history.state.sprint.id,
        goal=history.state.sprint.goal,
        as_of=now.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        days=days,
        timeline=timeline,
        velocity=_velocity(history, starts, now),
        throughput=_throughput(history, current_start, now),
        lead_times=_lead_times(history),
    )


def _days(
    history: History,
    current_start: datetime | None,
    samples: dict[str, tuple[int, int]],
    now: datetime,
) -> list[DayPoint]:
    """Each day of the current sprint up to `now`: what remained at its end (the last
    sample carried forward) and what was done that day."""
    days: list[DayPoint] = []
    done_by_day: dict[str, tuple[int, int]] = {}
    for task in history.state.tasks.values():
        trail = history.trails[task.id]
        if task.status == "done" and trail.done_ts:
            key = parse_ts(trail.done_ts).date().isoformat()
            n, m = done_by_day.get(key, (0, 0))
            done_by_day[key] = (n + 1, m + minutes_of(task))
    if current_start is not None:
        day = current_start.date()
        last = _remaining(history.state)
        while day <= now.date():
            key = day.isoformat()
            rem = samples.get(key, last)
            done_n, done_m = done_by_day.get(key, (0, 0))
            days.append(
                DayPoint(
                    day=key,
                    remaining_tasks=rem[0],
                    remaining_minutes=rem[1],
                    done_tasks=done_n,
                    done_minutes=done_m,
                )
            )
            day += timedelta(days=1)
    return days


def _velocity(history: History, starts: Sequence[Event], now: datetime) -> list[SprintVelocity]:
    closes = [e for e in history.events if e.op == "sprint.close"]
    out = []
    for i, start in enumerate(starts):
        begin = parse_ts(start.ts)
        following = parse_ts(starts[i + 1].ts) if i + 1 < len(starts) else None
        close = next(
            (
                c
                for c in closes
                if c.seq > start.seq and (following is None or parse_ts(c.ts) <= following)
            ),
            None,
        )
        end = parse_ts(close.ts) if close else following
        stop = end or now
        done = [
            t
            for t in history.state.tasks.values()
            if t.status == "done"
            and (ts := history.trails[t.id].done_ts) is not None
            and begin <= parse_ts(ts) < stop
        ]
        out.append(
            SprintVelocity(
                sprint=str(start.fields.get("id") or f"#{i + 1}"),
                started=start.ts,
                ended=format_ts(end) if end else None,
                done_tasks=len(done),
                done_minutes=sum(minutes_of(t) for t in done),
                days=round(max((stop - begin).total_seconds(), 0) / 86400, 2),
            )
        )
    return out


def _throughput(history: History, start: datetime | None, now: datetime) -> list[RoleThroughput]:
    if start is None:
        return []
    days = max((now - start).total_seconds() / 86400, 1 / 24)
    counts: dict[str, int] = {}
    for task in history.state.tasks.values():
        done_ts = history.trails[task.id].done_ts
        if task.status == "done" and done_ts and parse_ts(done_ts) >= start:
            counts[task.role] = counts.get(task.role, 0) + 1
    return [
        RoleThroughput(role=role, done_tasks=n, per_day=round(n / days, 2))
        for role, n in sorted(counts.items())
    ]


def _lead_times(history: History) -> list[LeadTime]:
    rows = []
    for task in history.state.tasks.values():
        trail = history.trails[task.id]
        if task.status != "done" or trail.done_ts is None:
            continue
        done = parse_ts(trail.done_ts)
        claim = parse_ts(trail.first_claim_ts) if trail.first_claim_ts else None
        rows.append(
            (
                trail.done_seq or 0,
                LeadTime(
                    task=task.id,
                    title=task.title,
                    role=task.role,
                    created=trail.created_ts,
                    done=trail.done_ts,
                    lead_hours=round((done - parse_ts(trail.created_ts)).total_seconds() / 3600, 2),
                    cycle_hours=round((done - claim).total_seconds() / 3600, 2) if claim else None,
                ),
            )
        )
    return [row for _, row in sorted(rows, key=lambda r: r[0])]
