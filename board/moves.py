"""Status rules as events: moves, who may finish a task, and tasks that wait on others.

Pure functions from the current state to `EventDraft`s (or a refusal); `LocalBoard`
commits them under its lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sprintboard.board.client import EventDraft
from sprintboard.board.models import ACTIVE_STATUSES, Event, Status
from sprintboard.board.policy import BoardPolicy
from sprintboard.board.state import BoardState
from sprintboard.board.transitions import allowed_moves
from sprintboard.errors import BoardError, InvalidTransition

__all__ = ["authorize", "check_dependencies", "is_noop_move", "move_drafts", "promotion_drafts"]


def move_drafts(
    state: BoardState,
    task_id: str,
    to: Status,
    actor: str,
    *,
    reason: str | None = None,
    force: bool = False,
    role: str | None = None,
    expected: Status | None = None,
) -> list[EventDraft]:
    """A move (after releasing a lease the new status cannot hold).

    Raises:
        InvalidTransition: the task is no longer `expected`, or a block gives no reason.
    """
    task = state.task(task_id)
    if to == task.status:  # contract 11: a move to the status it has changes nothing
        if to == "blocked" and reason and reason != task.blocked_reason:
            return [EventDraft("task.update", task_id, {"blocked_reason": reason}, actor)]
        return []
    if expected is not None and task.status != expected:
        raise InvalidTransition(
            task_id, expected, to, [], f"the task is now {task.status}; reload and retry"
        )
    if to == "blocked" and not reason and not force:
        raise InvalidTransition(
            task_id, task.status, to, allowed_moves(task.status), "say why: --reason"
        )
    drafts = []
    if task.lease is not None and to not in ACTIVE_STATUSES:
        drafts.append(
            EventDraft(
                "lease.release", task_id, {"reason": f"moved to {to}"}, actor, task.lease.fence
            )
        )
    fields: dict[str, Any] = {"to": to, "from": task.status}
    if reason:
        fields["reason"] = reason
    if force:
        fields["force"] = True
    if role:
        fields["role"] = role
    drafts.append(EventDraft("task.move", task_id, fields, actor))
    return drafts


def is_noop_move(state: BoardState, draft: EventDraft) -> bool:
    """A `task.move` to the status the task already has: committed as nothing at all.

    A fenced move is not: its token is still checked (a stale result is refused, not lost).
    """
    if draft.op != "task.move" or draft.fence is not None or draft.task not in state.tasks:
        return False
    return state.tasks[draft.task].status == draft.fields.get("to")


def authorize(state: BoardState, draft: EventDraft, policy: BoardPolicy) -> None:
    """Only the Auditor role, or a person forcing it, moves a task to done.

    Raises:
        InvalidTransition: anyone else tries.
    """
    if draft.op != "task.move" or draft.fields.get("to") != "done":
        return
    if draft.actor.startswith("human:"):
        if draft.fields.get("force"):
            return
        why = "a person moves a task to done only with force (--force)"
    else:
        agent = draft.actor.split("@", 1)[0]
        role = policy.agent_roles.get(agent) or draft.fields.get("role")
        if role == "auditor":
            return
        why = f"only the Auditor moves a task to done ({agent} is {role or 'not an auditor'})"
    task = state.tasks.get(draft.task or "")
    current = task.status if task else "?"
    raise InvalidTransition(
        draft.task or "?", current, "done", allowed_moves(task.status) if task else [], why
    )


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
