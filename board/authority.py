"""Who may write what (DESIGN.md contract 11), checked for every event before it is committed.

`LocalBoard` calls `authorize` on each draft inside its write path, whatever door the draft
came through (CLI, MCP, web, A2A, a KANBAN.md edit, an agent's `apply`), so no caller can
skip it. The rules:

- A role comes only from `sprintboard.toml`, looked up when the event is checked; an event
  never carries a caller-supplied role. `NAME@HOST` that the config does not name is an
  *unknown agent*: no role. With `[board] open_claims = true` it may claim builder work and,
  under its own lease, heartbeat, submit, note, ask about and block that task; nothing else.
- An agent acts only from the host the config gives it (`auditor-1@beta` is refused when
  auditor-1 runs on alpha).
- A task reaches `done` from an agent only when the agent is an Auditor and every criterion
  is checked; otherwise the move is refused, naming the unchecked criteria. A person
  (`human:NAME`) moves a task to done with force; the event then records which criteria
  were unchecked (`fields["unchecked"]`). Only a person forces a move.
- Questions are answered by a person; an agent asks them (and notes) about a task.
- Criteria are checked by the Auditor or ticked by a person. Only the board itself
  (`system@OWNER`) expires leases, and it never finishes a task.
- Claims follow the scheduling rules (board/scheduling.py `check_claim`); an agent claims
  only for itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, NoReturn

from sprintboard.board.client import EventDraft
from sprintboard.board.models import Task
from sprintboard.board.scheduling import BoardPolicy, check_claim, unknown_agent
from sprintboard.board.state import BoardState
from sprintboard.board.transitions import allowed_moves
from sprintboard.errors import InvalidTransition, NotPermitted, StaleFence

__all__ = ["Actor", "actor_of", "authorize", "unchecked"]

ActorKind = Literal["person", "board", "agent", "unknown"]

# Ops that need no lease and decide something for the board: a named agent's business.
_DECISIONS = frozenset(
    {"task.create", "task.update", "decision.add", "sprint.start", "sprint.close"}
)
# Ops an unknown agent may write about a task it holds the lease of.
_UNDER_LEASE = frozenset(
    {
        "lease.heartbeat",
        "lease.release",
        "artifact.add",
        "metric.set",
        "note.add",
        "question.ask",
        "task.move",
    }
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who wrote an event, as the config sees them (never as they describe themselves)."""

    text: str
    kind: ActorKind
    name: str
    host: str | None = None
    role: str | None = None
    """From `sprintboard.toml`; None for people, the board and unknown agents."""
    wrong_host: str | None = None
    """The config's host for this agent when the actor names another one."""


def actor_of(text: str, policy: BoardPolicy) -> Actor:
    """Classify an event's actor: a person, the board, a configured agent, or unknown."""
    if text.startswith("human:"):
        return Actor(text, "person", text.removeprefix("human:"))
    name, sep, host = text.partition("@")
    if not sep:
        return Actor(text, "unknown", text)
    if name == "system" and name not in policy.agent_roles:
        if policy.owner is None or host == policy.owner:
            return Actor(text, "board", name, host)
        return Actor(text, "unknown", name, host)
    role = policy.agent_roles.get(name)
    if role is None:
        return Actor(text, "unknown", name, host)
    home = policy.agent_hosts.get(name)
    wrong = home if home is not None and home != host else None
    return Actor(text, "agent", name, host, role, wrong)


def unchecked(task: Task) -> list[str]:
    """The task's criteria that are not checked, as `#N text`."""
    return [f"#{i + 1} {c.text}" for i, c in enumerate(task.criteria) if not c.done]


def authorize(state: BoardState, draft: EventDraft, policy: BoardPolicy) -> EventDraft:
    """Refuse a draft its actor may not write; returns the draft to commit.

    A person's forced move to done comes back with the unchecked criteria recorded.

    Raises:
        InvalidTransition: a move the actor may not make (the task's real status, the
            allowed moves and the fix are in the message).
        NotPermitted: any other event the actor may not write.
        LeaseConflict, WipLimitReached: a claim the scheduling rules refuse.
    """
    actor = actor_of(draft.actor, policy)
    if draft.fence is not None and draft.task is not None:
        # A fenced write is the lease holder's; a lost lease is the first thing to say.
        task = state.tasks.get(draft.task)
        current = task.lease.fence if task is not None and task.lease is not None else None
        if current != draft.fence:
            raise StaleFence(draft.task, draft.fence, current)
    if draft.op == "task.move" and "role" in draft.fields:
        _refuse_move(
            state,
            draft,
            "an event never carries a role: roles come from sprintboard.toml; drop `role`",
        )
    if actor.wrong_host is not None:
        why = (
            f"{actor.name} runs on {actor.wrong_host} in sprintboard.toml; it cannot act as "
            f"{actor.text}. Run it on {actor.wrong_host}, or change its host in the config"
        )
        if draft.op == "task.move":
            _refuse_move(state, draft, why)
        raise NotPermitted(draft.actor, draft.op, draft.task, why)
    if draft.op == "task.move":
        return _authorize_move(state, draft, actor)
    if draft.op == "host.heartbeat" and actor.kind != "person":
        # A host says only that it is itself alive; routing trusts this (agents/negotiator.py).
        if actor.kind == "unknown" or draft.fields.get("host") != actor.host:
            raise NotPermitted(
                draft.actor,
                draft.op,
                None,
                "a host heartbeat comes from a configured agent of that same host",
            )
        return draft
    if actor.kind in ("person", "board"):
        return draft
    if draft.op == "lease.grant":
        _authorize_grant(state, draft, actor, policy)
    elif draft.op == "lease.expire":
        raise NotPermitted(
            draft.actor, draft.op, draft.task, "only the board expires leases (at its next write)"
        )
    elif draft.op == "criterion.check" and actor.role != "auditor":
        raise NotPermitted(
            draft.actor,
            draft.op,
            draft.task,
            "criteria are checked by the Auditor or ticked by a person (KANBAN.md)",
        )
    elif draft.op == "question.answer":
        raise NotPermitted(
            draft.actor,
            draft.op,
            draft.task,
            "a person answers questions (`sprintboard answer`, the web board or KANBAN.md)",
        )
    elif actor.kind == "unknown":
        _authorize_unknown(state, draft, actor)
    return draft


def _authorize_grant(
    state: BoardState, draft: EventDraft, actor: Actor, policy: BoardPolicy
) -> None:
    agent, host = str(draft.fields.get("agent")), str(draft.fields.get("host"))
    if (agent, host) != (actor.name, actor.host):
        raise NotPermitted(
            draft.actor,
            draft.op,
            draft.task,
            f"an agent claims only for itself, not for {agent}@{host}",
        )
    check_claim(state, policy, state.task(draft.task or ""), agent, host)


def _holds(state: BoardState, draft: EventDraft, actor: Actor) -> bool:
    """The actor holds the draft's task, and the draft carries that lease's fence."""
    task = state.tasks.get(draft.task or "")
    lease = task.lease if task is not None else None
    if lease is None or (lease.agent, lease.host) != (actor.name, actor.host):
        return False
    return draft.fence is not None  # authorize checked that it is the lease's


def _authorize_unknown(state: BoardState, draft: EventDraft, actor: Actor) -> None:
    if draft.op in _DECISIONS or draft.op not in _UNDER_LEASE or not _holds(state, draft, actor):
        raise NotPermitted(
            draft.actor,
            draft.op,
            draft.task,
            f"{unknown_agent(actor.name)}. An unnamed agent writes only about a task it "
            "holds, with that lease's fence",
        )


def _authorize_move(state: BoardState, draft: EventDraft, actor: Actor) -> EventDraft:
    to = draft.fields.get("to")
    force = bool(draft.fields.get("force"))
    if actor.kind == "person":
        if to != "done":
            return draft
        if not force:
            _refuse_move(
                state,
                draft,
                "a person moves a task to done with force (--force, or tick its card in "
                "KANBAN.md); the event records any unchecked criteria",
            )
        task = state.task(draft.task or "")
        missing = unchecked(task)
        if not missing:
            return draft
        return dataclasses.replace(draft, fields={**draft.fields, "unchecked": missing})
    if force:
        _refuse_move(state, draft, f"only a person forces a move; {actor.text} is an agent")
    if to != "done":
        if actor.kind == "unknown" and not _holds(state, draft, actor):
            _refuse_move(
                state,
                draft,
                f"{unknown_agent(actor.name)}. An unnamed agent moves only a task it holds, "
                "with that lease's fence",
            )
        return draft
    if actor.role != "auditor":
        what = f"a {actor.role}" if actor.role else "not in sprintboard.toml"
        _refuse_move(
            state,
            draft,
            f"only the Auditor moves a task to done; {actor.name} is {what}. Submit the "
            "result for the Auditor, or a person moves it with --force",
        )
    missing = unchecked(state.task(draft.task or ""))
    if missing:
        _refuse_move(
            state,
            draft,
            f"criteria not checked: {'; '.join(missing)}. The Auditor checks them, or a "
            "person ticks them in KANBAN.md or moves the task with --force",
        )
    return draft


def _refuse_move(state: BoardState, draft: EventDraft, why: str) -> NoReturn:
    task = state.task(draft.task or "")
    raise InvalidTransition(
        task.id, task.status, str(draft.fields.get("to")), allowed_moves(task.status), why
    )
