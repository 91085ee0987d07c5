"""The journal folded with its history: the board state plus, per task, when and by whom.

`BoardState` says where each task is now; memory/ also needs how it got there (when it
entered its status and who moved it, when it was created, first claimed and done, how many
heartbeats its lease has had). `fold_history` replays events through the board's own
`reduce`, so the state here is exactly the one the board holds at the same seq.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sprintboard.board.clock import parse_ts
from sprintboard.board.models import Event
from sprintboard.board.state import BoardState, reduce

__all__ = ["History", "TaskTrail", "fold_history", "format_age", "format_minute"]


@dataclass(slots=True)
class TaskTrail:
    """What happened to one task, beyond its current fields."""

    created_ts: str
    created_seq: int
    last_seq: int
    last_ts: str
    status_seq: int
    """Seq of the event that put the task in its current status."""
    status_ts: str
    status_by: str
    """Actor of that event."""
    first_claim_ts: str | None = None
    done_seq: int | None = None
    done_ts: str | None = None
    done_by: str | None = None
    heartbeats: int = 0
    """Heartbeats of the current (or last) lease."""


@dataclass(slots=True)
class History:
    """The state after the folded events, the trail of every task, and the events themselves."""

    state: BoardState = field(default_factory=BoardState)
    trails: dict[str, TaskTrail] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    @property
    def seq(self) -> int:
        """Seq of the last folded event (0 for an empty journal)."""
        return self.events[-1].seq if self.events else 0


def fold_history(
    events: Iterable[Event],
    until: datetime | None = None,
    observe: Callable[[Event, History], None] | None = None,
) -> History:
    """Replay `events` (in seq order); with `until`, stop at the first event at or after it.

    Stopping at the first late event, rather than filtering, keeps a prefix of the journal:
    order is seq, never ts, so a later event with a skewed early ts is not pulled in.
    `observe(event, history)` is called before each event is folded in (the burndown samples
    the state at day boundaries this way).
    """
    history = History()
    state, trails = history.state, history.trails
    for event in events:
        if until is not None and parse_ts(event.ts) >= until:
            break
        if observe is not None:
            observe(event, history)
        task_id = event.task
        before = state.tasks[task_id].status if task_id and task_id in state.tasks else None
        reduce(state, event)
        history.events.append(event)
        if task_id is None or task_id not in state.tasks:
            continue
        task = state.tasks[task_id]
        trail = trails.get(task_id)
        if trail is None:
            trail = TaskTrail(
                created_ts=event.ts,
                created_seq=event.seq,
                last_seq=event.seq,
                last_ts=event.ts,
                status_seq=event.seq,
                status_ts=event.ts,
                status_by=event.actor,
            )
            trails[task_id] = trail
        trail.last_seq, trail.last_ts = event.seq, event.ts
        if event.op == "lease.grant":
            trail.heartbeats = 0
            trail.first_claim_ts = trail.first_claim_ts or event.ts
        elif event.op == "lease.heartbeat":
            trail.heartbeats += 1
        reblocked = (  # a reason given to a task that was only waiting is a block by that actor
            event.op == "task.update"
            and task.status == "blocked"
            and "blocked_reason" in event.fields
        )
        if (before is not None and task.status != before) or reblocked:
            trail.status_seq, trail.status_ts, trail.status_by = event.seq, event.ts, event.actor
        if task.status == "done" and before != "done":
            trail.done_seq, trail.done_ts, trail.done_by = event.seq, event.ts, event.actor
    return history


def format_minute(ts: str) -> str:
    """`2026-11-23T08:10:00.000Z` -> `2026-11-23 08:10` (UTC)."""
    return parse_ts(ts).strftime("%Y-%m-%d %H:%M")


def format_age(span: timedelta) -> str:
    """A short human duration: `<1m`, `45m`, `3h 20m`, `2d 4h`."""
    minutes = max(int(span.total_seconds() // 60), 0)
    if minutes < 1:
        return "<1m"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"
