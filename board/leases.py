"""Lease rules as events: claim, heartbeat, submit, release and expiry.

Pure functions from the current state to the `EventDraft`s a change needs; `LocalBoard`
commits them under its lock, and the reducer (board/state.py) enforces the fences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sprintboard.board.client import EventDraft
from sprintboard.board.clock import format_ts, parse_ts
from sprintboard.board.models import Artifact, Task
from sprintboard.board.state import BoardState
from sprintboard.board.values import MAX_TTL, integer
from sprintboard.errors import LeaseConflict

__all__ = [
    "claim_drafts",
    "expiry_drafts",
    "heartbeat_drafts",
    "holder",
    "pending_dependencies",
    "release_drafts",
    "submit_drafts",
]


def holder(task: Task) -> str:
    """The actor string of the task's lease holder (`agent@host`), or `unknown@unknown`."""
    lease = task.lease
    return f"{lease.agent}@{lease.host}" if lease else "unknown@unknown"


def pending_dependencies(state: BoardState, task: Task) -> list[str]:
    """Known dependencies of `task` that are not done yet."""
    return [d for d in task.dependencies if d in state.tasks and state.tasks[d].status != "done"]


def claim_drafts(
    state: BoardState,
    task_id: str,
    agent: str,
    host: str,
    ttl: int,
    now: datetime,
    *,
    board: str | None = None,
) -> list[EventDraft]:
    """A lease grant with the next fencing token (after a move to ready for a waiting task).

    The grant's actor is the claimant; `LocalBoard` checks it against the scheduling rules
    (role, capabilities, WIP: board/authority.py) as it commits. The move of a waiting task
    is the board's own (`system@<board>`), as when its dependencies finish.

    Raises:
        UnknownTask, LeaseConflict.
    """
    actor = f"{agent}@{host}"
    task = state.task(task_id)
    ttl = integer(ttl, "ttl", 1, MAX_TTL, task_id)  # before it becomes a time: 1e12 overflows
    if task.lease is not None:
        raise LeaseConflict(task_id, f"already leased to {holder(task)}")
    pending = pending_dependencies(state, task)
    if pending:
        raise LeaseConflict(task_id, f"waits on {', '.join(pending)}")
    drafts = []
    if task.status == "blocked" and not task.blocked_reason:
        ready = {"to": "ready", "from": "blocked", "reason": "dependencies done"}
        drafts.append(EventDraft("task.move", task_id, ready, f"system@{board or host}"))
    elif task.status != "ready":
        raise LeaseConflict(task_id, f"cannot be claimed while {task.status}")
    grant = {
        "agent": agent,
        "host": host,
        "ttl": ttl,
        "expires": format_ts(now + timedelta(seconds=ttl)),
        "fence": state.fence + 1,
    }
    drafts.append(EventDraft("lease.grant", task_id, grant, actor))
    return drafts


def heartbeat_drafts(
    state: BoardState, task_id: str, fence: int, now: datetime
) -> list[EventDraft]:
    """Extend the lease by its TTL (the reducer refuses a stale `fence`)."""
    task = state.task(task_id)
    ttl = task.lease.ttl if task.lease else 0
    expires = format_ts(now + timedelta(seconds=ttl))
    return [EventDraft("lease.heartbeat", task_id, {"expires": expires}, holder(task), fence=fence)]


def submit_drafts(
    state: BoardState,
    task_id: str,
    fence: int,
    artifacts: Sequence[Artifact],
    metrics: Mapping[str, float],
) -> list[EventDraft]:
    """Artifacts, metrics and the move to `awaiting_test`, all carrying the fence."""
    actor = holder(state.task(task_id))
    drafts = [
        EventDraft(
            "artifact.add",
            task_id,
            {"path": a.path, "sha256": a.sha256, "size": a.size},
            actor,
            fence,
        )
        for a in artifacts
    ]
    drafts += [
        EventDraft("metric.set", task_id, {"name": k, "value": float(v)}, actor, fence)
        for k, v in sorted(metrics.items())
    ]
    drafts.append(
        EventDraft(
            "task.move", task_id, {"to": "awaiting_test", "reason": "submitted"}, actor, fence
        )
    )
    return drafts


def release_drafts(state: BoardState, task_id: str, fence: int, reason: str) -> list[EventDraft]:
    """Give the lease back; the task returns to ready."""
    return [
        EventDraft("lease.release", task_id, {"reason": reason}, holder(state.task(task_id)), fence)
    ]


def expiry_drafts(state: BoardState, now: datetime, host: str) -> list[EventDraft]:
    """A `lease.expire` for every lease past its expiry at `now` (the owner's clock)."""
    out = []
    for task in state.tasks.values():
        lease = task.lease
        if lease is not None and parse_ts(lease.expires) <= now:
            reason = f"lease of {lease.agent}@{lease.host} expired at {lease.expires}"
            out.append(
                EventDraft(
                    "lease.expire", task.id, {"reason": reason}, f"system@{host}", lease.fence
                )
            )
    return out
