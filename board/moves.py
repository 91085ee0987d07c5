"""Status rules as events: moves, and tasks that wait on others.

Pure functions from the current state to `EventDraft`s (or a refusal); `LocalBoard`
commits them under its lock. Who may make a move is board/authority.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sprintboard.board.client import EventDraft
from sprintboard.board.models import Event, Status
from sprintboard.board.state import BoardState
from sprintboard.board.transitions import allowed_moves
from sprintboard.errors import BoardError, InvalidTransition

__all__ = ["check_dependencies", "is_noop_move", "move_drafts", "promotion_drafts"]


def move_drafts(
    state: BoardState,
    task_id: str,
    to: Status,
    actor: str,
    *,
    reason: str | None = None,
    force: bool = False,
    expected: Status | None = None,
    fence: int | None = None,
    key: str | None = None,
) -> list[EventDraft]:
    """A move; a lease the new status cannot hold ends with it (the reducer drops it).

    `fence` makes the move the lease holder's (refused once the lease is lost); `key` is
    an idempotency key: a move whose key is in the journal already commits nothing.

    Raises:
        InvalidTransition: the task is no longer `expected`, or a block gives no reason.
    """
    task = state.task(task_id)
    if to == task.status:  # contract 11: a move to the status it has changes nothing
        if to == "blocked" and reason and reason != task.blocked_reason:
            return [EventDraft("task.update", task_id, {"blocked_reason": reason}, actor, id=key)]
        return []
    if expected is not None and task.status != expected:
        raise InvalidTransition(
            task_id,
            task.status,
            to,
            allowed_moves(task.status),
            f"it is now {task.status}, not {expected} as you saw it; reload and retry",
        )
    if to == "blocked" and not reason and not force:
        raise InvalidTransition(
            task_id, task.status, to, allowed_moves(task.status), "say why: --reason"
        )
    fields: dict[str, Any] = {"to": to, "from": task.status}
    if reason:
        fields["reason"] = reason
    if force:
        fields["force"] = True
    return [EventDraft("task.move", task_id, fields, actor, fence, id=key)]


def is_noop_move(state: BoardState, draft: EventDraft) -> bool:
    """A `task.move` to the status the task already has: committed as nothing at all.

    A fenced move is not: its token is still checked (a stale result is refused, not lost).
    """
    if draft.op != "task.move" or draft.fence is not None or draft.task not in state.tasks:
        return False
    return state.tasks[draft.task].status == draft.fields.get("to")


def check_dependencies(state: BoardState, events: Sequence[Event]) -> None:
    """Refuse created or updated tasks that depend on unknown ids.

    Raises:
        BoardError: naming the task and the unknown ids.
    """
    for event in events:
        if event.op not in ("task.create", "task.update") or event.task is None:
            continue
        task = state.tasks[event.task]
        unknown = [d for d in task.dependencies if d not in state.tasks]
        if unknown:
            raise BoardError(
                f"{task.id}: depends on unknown task(s) {', '.join(unknown)}; add them first "
                "or fix the dependency list"
            )


def promotion_drafts(state: BoardState, events: Sequence[Event], host: str) -> list[EventDraft]:
    """Tasks waiting on dependencies (blocked, no reason) whose dependencies are now done."""
    if not any(e.op in ("task.move", "task.create", "task.update") for e in events):
        return []
    out = []
    for task in state.tasks.values():
        if task.status != "blocked" or task.blocked_reason or not task.dependencies:
            continue
        if all(state.tasks[d].status == "done" for d in task.dependencies if d in state.tasks):
            fields = {"to": "ready", "from": "blocked", "reason": "dependencies done"}
            out.append(EventDraft("task.move", task.id, fields, f"system@{host}"))
    return out
