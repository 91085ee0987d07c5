"""Burndown, velocity, throughput per role, lead and cycle times and the training runs,
computed from the journal.

Numbers only (no plotting, no files): `report` draws and writes them; `report --json` and
`report --html` show this one model. Work is counted in
tasks and in estimated minutes (the middle of a task's `low-high` range; a task without an
estimate counts 0 minutes). The burndown samples the board at the end of every UTC day of
the current sprint, and at `now` for today.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from statistics import median

from pydantic import BaseModel

from sprintboard.board.clock import format_ts, parse_ts
from sprintboard.board.models import Event, Task
from sprintboard.board.state import BoardState
from sprintboard.memory.history import History, fold_history
from sprintboard.memory.training import TrainingRun, training_runs

__all__ = [
    "Burndown",
    "DayPoint",
    "LeadTime",
    "RoleThroughput",
    "SprintVelocity",
    "VelocityBucket",
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
    """Length of the sprint so far, in days (rounded to 0.01)."""
    span_seconds: int = 0
    """Length of the sprint so far, in seconds."""


class VelocityBucket(_Row):
    """Tasks done in one slice of the current sprint (see `Burndown.bucket`)."""

    start: str
    done_tasks: int
    done_minutes: int


class RoleThroughput(_Row):
    """Tasks of one role finished in the current sprint, and how long they took."""

    role: str
    done_tasks: int
    per_day: float
    lead_median_seconds: int | None = None
    lead_max_seconds: int | None = None
    cycle_median_seconds: int | None = None
    """Over the role's done tasks that were ever claimed (a task moved to done by a person
    without a claim has no cycle time)."""
    cycle_max_seconds: int | None = None


class LeadTime(_Row):
    """How long one finished task took: from creation (lead) and from first claim (cycle)."""

    task: str
    title: str
    role: str
    created: str
    claimed: str | None = None
    """First claim, where the cycle time starts."""
    done: str
    lead_hours: float
    cycle_hours: float | None
    lead_seconds: int = 0
    cycle_seconds: int | None = None


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
    span_seconds: int = 0
    """Length of the current sprint so far (0 without a sprint)."""
    bucket: str = "day"
    """The slice `velocity_buckets` counts in: `minute`, `5 min`, `15 min`, `hour` or `day`,
    the smallest that cuts the sprint so far into at most 48 slices."""
    velocity_buckets: list[VelocityBucket] = []
    training: list[TrainingRun] = []
    """Tasks with a `train` or `eval` step: their metrics and artifacts."""


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
    lead_times = _lead_times(history)
    span = int(max((now - current_start).total_seconds(), 0)) if current_start else 0
    bucket = next((b for b in _BUCKETS if span <= b[0] * _MAX_BUCKETS), _BUCKETS[-1])
    return Burndown(
        sprint=history.state.sprint.id,
        goal=history.state.sprint.goal,
        as_of=now.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        days=days,
        timeline=timeline,
        velocity=_velocity(history, starts, now),
        throughput=_throughput(history, current_start, now, lead_times),
        lead_times=lead_times,
        span_seconds=span,
        bucket=bucket[1],
        velocity_buckets=_buckets(history, current_start, now, bucket[0]),
        training=training_runs(history.state),
    )


_BUCKETS = ((60, "minute"), (300, "5 min"), (900, "15 min"), (3600, "hour"), (86400, "day"))
"""Velocity slices (seconds, name), smallest first."""
_MAX_BUCKETS = 48


def _buckets(
    history: History, start: datetime | None, now: datetime, size: int
) -> list[VelocityBucket]:
    """Done tasks per slice of `size` seconds from the slice holding `start` to the one
    holding `now`; slices are aligned to the epoch (a day slice starts at 00:00 UTC)."""
    if start is None:
        return []
    first = int(start.timestamp()) // size * size
    last = int(now.timestamp()) // size * size
    counts = {edge: [0, 0] for edge in range(first, last + 1, size)}
    for task in history.state.tasks.values():
        done_ts = history.trails[task.id].done_ts
        if task.status != "done" or done_ts is None:
            continue
        edge = int(parse_ts(done_ts).timestamp()) // size * size
        if edge in counts:
            counts[edge][0] += 1
            counts[edge][1] += minutes_of(task)
    return [
        VelocityBucket(
            start=format_ts(datetime.fromtimestamp(edge, UTC)), done_tasks=n, done_minutes=m
        )
        for edge, (n, m) in counts.items()
    ]


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
                span_seconds=round(max((stop - begin).total_seconds(), 0)),
            )
        )
    return out


def _throughput(
    history: History, start: datetime | None, now: datetime, lead_times: Sequence[LeadTime]
) -> list[RoleThroughput]:
    if start is None:
        return []
    days = max((now - start).total_seconds() / 86400, 1 / 24)
    by_role: dict[str, list[LeadTime]] = {}
    for row in lead_times:
        if parse_ts(row.done) >= start:
            by_role.setdefault(row.role, []).append(row)
    out = []
    for role, rows in sorted(by_role.items()):
        leads = [r.lead_seconds for r in rows]
        cycles = [r.cycle_seconds for r in rows if r.cycle_seconds is not None]
        out.append(
            RoleThroughput(
                role=role,
                done_tasks=len(rows),
                per_day=round(len(rows) / days, 2),
                lead_median_seconds=round(median(leads)),
                lead_max_seconds=max(leads),
                cycle_median_seconds=round(median(cycles)) if cycles else None,
                cycle_max_seconds=max(cycles) if cycles else None,
            )
        )
    return out


def _lead_times(history: History) -> list[LeadTime]:
    rows = []
    for task in history.state.tasks.values():
        trail = history.trails[task.id]
        if task.status != "done" or trail.done_ts is None:
            continue
        done = parse_ts(trail.done_ts)
        claim = parse_ts(trail.first_claim_ts) if trail.first_claim_ts else None
        lead = (done - parse_ts(trail.created_ts)).total_seconds()
        cycle = (done - claim).total_seconds() if claim else None
        rows.append(
            (
                trail.done_seq or 0,
                LeadTime(
                    task=task.id,
                    title=task.title,
                    role=task.role,
                    created=trail.created_ts,
                    claimed=trail.first_claim_ts,
                    done=trail.done_ts,
                    lead_hours=round(lead / 3600, 2),
                    cycle_hours=round(cycle / 3600, 2) if cycle is not None else None,
                    lead_seconds=round(lead),
                    cycle_seconds=round(cycle) if cycle is not None else None,
                ),
            )
        )
    return [row for _, row in sorted(rows, key=lambda r: r[0])]
