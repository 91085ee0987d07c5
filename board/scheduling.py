"""Who may take what, and in what order: the claim rules and the one ranking every caller uses.

DESIGN.md contract 4: "what can be taken next, in what order" is one pure function over the
state. `next_tasks` is that function: the tasks a claimant may take now (open, unleased,
dependencies done, its role, its capabilities, not assigned to someone else, within WIP),
ranked: work assigned to it first, then priority, then least slack on the critical path,
then board order. `LocalBoard.ready`/`claim_next`, `sprintboard next`, MCP `next_task`, the
runner's claims and the Negotiator's assignments all use it, so two agents in one tick
never rank the same work differently. `check_claim` is the same rule for one named task.

A claimant's role, host and capabilities come only from `sprintboard.toml` (the policy):
an agent the config does not name takes builder work only when `[board] open_claims` is
on, and never finishes anything (board/authority.py).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sprintboard.board.critical_path import remaining_slack
from sprintboard.board.models import Task
from sprintboard.board.state import BoardState
from sprintboard.errors import LeaseConflict, WipLimitReached

__all__ = [
    "BoardPolicy",
    "Claimant",
    "NextUp",
    "NothingToTake",
    "check_claim",
    "claimable",
    "held",
    "is_open",
    "next_tasks",
    "next_up",
    "nothing_to_take",
    "rank",
    "wip_room",
]

OPEN_CLAIMS_ROLE = "builder"
"""The only role an agent that `sprintboard.toml` does not name may take (open claims)."""


@dataclass(frozen=True, slots=True)
class BoardPolicy:
    """Roles, hosts, capabilities and WIP limits from `sprintboard.toml`.

    Empty tables mean "no limit" (WIP) and "not tracked" (capabilities: when no agent or
    host lists any, capabilities are not checked).
    """

    owner: str | None = None
    open_claims: bool = False
    """Agents not in the config may claim builder work (never finish it)."""
    wip_per_role: dict[str, int] = field(default_factory=dict)
    wip_per_agent: dict[str, int] = field(default_factory=dict)
    agent_roles: dict[str, str] = field(default_factory=dict)
    agent_hosts: dict[str, str] = field(default_factory=dict)
    """Agent -> the one host it acts from."""
    agent_caps: dict[str, frozenset[str]] = field(default_factory=dict)
    host_caps: dict[str, frozenset[str]] = field(default_factory=dict)
    agent_workers: dict[str, str] = field(default_factory=dict)
    """Builder -> its worker kind (`tools`, `command`, `llm`); absent means `tools`."""

    @property
    def tracks_caps(self) -> bool:
        return any(self.agent_caps.values()) or any(self.host_caps.values())

    def host_for(self, agent: str, host: str | None, here: str) -> str:
        """The host `agent` acts from: the one named, else its host in the config, else `here`."""
        return host or self.agent_hosts.get(agent) or here

    def caps_of(self, agent: str, host: str | None) -> frozenset[str]:
        """What `agent` on `host` can do: its own capabilities plus its host's."""
        host_caps = self.host_caps.get(host, frozenset()) if host else frozenset()
        return self.agent_caps.get(agent, frozenset()) | host_caps

    def claimant(
        self,
        agent: str | None = None,
        host: str | None = None,
        *,
        role: str | None = None,
        caps: Sequence[str] | None = None,
    ) -> Claimant:
        """Who asks for work, as the config sees them.

        A named agent gets its role, host and capabilities from the config (`role` and
        `caps` may only narrow them); without `agent`, `role` and `caps` are taken as given
        (None: any role, capabilities not checked).
        """
        asked = None if caps is None else frozenset(caps)
        if agent is None:
            return Claimant(None, host, role, asked)
        configured = self.agent_roles.get(agent)
        if configured is None:
            if not self.open_claims:
                return Claimant(agent, host, role, asked, refusal=unknown_agent(agent))
            if role not in (None, OPEN_CLAIMS_ROLE):
                why = f"{agent} is not in sprintboard.toml, so it takes only builder work"
                return Claimant(agent, host, role, asked, refusal=why)
            role = OPEN_CLAIMS_ROLE
        elif role not in (None, configured):
            why = f"{agent} is a {configured} in sprintboard.toml, not a {role}"
            return Claimant(agent, host, role, asked, refusal=why)
        home = self.agent_hosts.get(agent)
        if home is not None and host not in (None, home):
            why = f"{agent} runs on {home} in sprintboard.toml, not on {host}"
            return Claimant(agent, host, configured, asked, refusal=why)
        host = host or home
        if self.tracks_caps:
            has = self.caps_of(agent, host)
            asked = has if asked is None else has & asked
        return Claimant(
            agent,
            host,
            configured or role,
            asked,
            known=configured is not None,
            worker=self.agent_workers.get(agent, "tools"),
        )


def unknown_agent(agent: str) -> str:
    """The refusal for an agent the config does not name, with both fixes."""
    return (
        f"{agent} is not an agent in sprintboard.toml: add it under [[agents]] "
        "(name, role, host), or set [board] open_claims = true to let unnamed agents "
        "claim builder work"
    )


@dataclass(frozen=True, slots=True)
class Claimant:
    """An agent (or a role) asking for work, resolved against the policy."""

    agent: str | None
    host: str | None
    role: str | None
    """None: any role (only when no agent is named)."""
    caps: frozenset[str] | None
    """None: capabilities are not checked."""
    known: bool = False
    """The agent is named in `sprintboard.toml`."""
    refusal: str | None = None
    """Why this claimant may take nothing at all (unknown agent, wrong host or role)."""
    worker: str = "tools"
    """The agent's worker kind in the config: what its runner can do by itself."""

    @property
    def who(self) -> str:
        if self.agent is None:
            return f"a {self.role or 'any'}-role agent"
        return f"{self.agent}@{self.host}" if self.host else self.agent

    def misfit(self, task: Task) -> str | None:
        """Why `task` is not this claimant's kind of work (role, capabilities), or None."""
        if self.role is not None and task.role != self.role:
            return f"is {task.role} work; {self.who} takes {self.role} work"
        if self.caps is not None:
            missing = sorted(set(task.caps) - self.caps)
            if missing:
                return f"needs {', '.join(missing)}; {self.who} lacks it"
        return None

    def worker_misfit(self, task: Task) -> str | None:
        """Why this claimant's worker cannot do `task` by itself, or None: a `tools` worker
        runs tool steps; a `command` or `llm` worker does tasks without steps."""
        if self.worker == "tools":
            if task.steps:
                return None
            return f'has no tool steps; {self.who} runs only tool steps (worker = "tools")'
        if task.steps:
            return (
                f"has tool steps; {self.who} hands only step-less tasks to its {self.worker} worker"
            )
        return None

    def assigned_elsewhere(self, task: Task) -> bool:
        """The task is assigned (not yet claimed) to another agent or another host."""
        if self.agent is None or task.agent is None:
            return False
        if task.agent != self.agent:
            return True
        return task.host is not None and self.host is not None and task.host != self.host


def is_open(state: BoardState, task: Task) -> bool:
    """Ready (or waiting on dependencies that are all done) and not leased."""
    if task.lease is not None:
        return False
    if task.status != "ready" and (task.status != "blocked" or task.blocked_reason):
        return False
    tasks = state.tasks
    for d in task.dependencies:
        dep = tasks.get(d)
        if dep is not None and dep.status != "done":
            return False
    return True


def held(
    state: BoardState, *, agent: str | None = None, role: str | None = None, reserved: bool = False
) -> int:
    """Tasks leased to `agent` (or of `role`); `reserved` also counts ready tasks assigned
    to `agent` and not yet claimed (the Negotiator's promises)."""
    count = 0
    for t in state.tasks.values():
        lease = t.lease
        if lease is not None:
            if (agent is None or lease.agent == agent) and (role is None or t.role == role):
                count += 1
        elif reserved and agent is not None and t.status == "ready" and t.agent == agent:
            count += 1
    return count


def wip_room(
    state: BoardState, policy: BoardPolicy, *, role: str | None = None, agent: str | None = None
) -> str | None:
    """Why `agent` (or `role`) may take no more work now, or None when WIP allows more."""
    if agent is not None:
        limit = policy.wip_per_agent.get(agent)
        if limit is not None:
            count = held(state, agent=agent)
            if count >= limit:
                return f"agent {agent} holds {count} task(s), its WIP limit is {limit}"
        role = role or policy.agent_roles.get(agent)
    if role is not None:
        limit = policy.wip_per_role.get(role, state.sprint.wip_limits.get(role))
        if limit is not None:
            count = held(state, role=role)
            if count >= limit:
                return f"role {role} holds {count} task(s), its WIP limit is {limit}"
    return None


def check_claim(state: BoardState, policy: BoardPolicy, task: Task, agent: str, host: str) -> None:
    """Refuse a claim of `task` by `agent`@`host` that the rules do not allow.

    Raises:
        LeaseConflict: the agent is unknown (without open claims), on the wrong host, or
            its role or capabilities do not fit the task.
        WipLimitReached: the agent or its role is at its limit.
    """
    who = policy.claimant(agent, host)
    if who.refusal is not None:
        raise LeaseConflict(task.id, f"cannot be claimed: {who.refusal}")
    why = who.misfit(task)
    if why is not None:
        raise LeaseConflict(task.id, why)
    limit = policy.wip_per_agent.get(agent)
    if limit is not None and held(state, agent=agent) >= limit:
        raise WipLimitReached(f"agent {agent}", limit)
    role = who.role or task.role
    role_limit = policy.wip_per_role.get(role, state.sprint.wip_limits.get(role))
    if role_limit is not None and held(state, role=role) >= role_limit:
        raise WipLimitReached(f"role {role}", role_limit)


def claimable(
    state: BoardState,
    policy: BoardPolicy,
    *,
    role: str | None = None,
    caps: Sequence[str] | None = None,
    agent: str | None = None,
    host: str | None = None,
    by_worker: bool = False,
) -> list[Task]:
    """Open tasks the claimant could take (WIP aside), in board order.

    `by_worker` keeps only tasks the agent's configured worker does by itself (an agent
    runner's Builder): tasks with tool steps for `tools`, tasks without for `command` and
    `llm`. A person or an outside agent claiming by hand takes either.
    """
    who = policy.claimant(agent, host, role=role, caps=caps)
    if who.refusal is not None:
        return []
    return [
        t
        for t in state.tasks.values()
        if is_open(state, t)
        and who.misfit(t) is None
        and not who.assigned_elsewhere(t)
        and (not by_worker or who.worker_misfit(t) is None)
    ]


def rank(
    state: BoardState,
    tasks: Iterable[Task],
    *,
    agent: str | None = None,
    limit: int | None = None,
) -> list[Task]:
    """Most urgent first: assigned to `agent`, then priority, then least slack, then board
    order; only the first `limit` when given."""
    out = list(tasks)
    if len(out) <= 1:
        return out[:limit]
    slack = remaining_slack(state)
    pos = {tid: i for i, tid in enumerate(state.tasks)}

    def key(t: Task) -> tuple[bool, int, int, int]:
        return (agent is not None and t.agent != agent, t.priority, slack.get(t.id, 0), pos[t.id])

    if limit is not None and 0 <= limit < len(out):
        return heapq.nsmallest(limit, out, key=key)  # = sorted(...)[:limit], without the sort
    out.sort(key=key)
    return out[:limit]


def next_tasks(
    state: BoardState,
    policy: BoardPolicy,
    *,
    role: str | None = None,
    caps: Sequence[str] | None = None,
    agent: str | None = None,
    host: str | None = None,
    by_worker: bool = False,
    limit: int | None = None,
) -> list[Task]:
    """What the claimant should take next, best first (the first `limit`); empty when its
    WIP allows no more."""
    who = policy.claimant(agent, host, role=role, caps=caps)
    if who.refusal is not None or wip_room(state, policy, role=who.role, agent=agent):
        return []
    found = claimable(
        state, policy, role=role, caps=caps, agent=agent, host=host, by_worker=by_worker
    )
    return rank(state, found, agent=agent, limit=limit)


@dataclass(frozen=True, slots=True)
class NothingToTake:
    """Why `next_tasks` is empty for a claimant."""

    reason: str
    """In words a person can act on."""
    wip_limit: str | None = None
    """The WIP limit that is full, when that is the reason."""


def nothing_to_take(
    state: BoardState,
    policy: BoardPolicy,
    *,
    role: str | None = None,
    caps: Sequence[str] | None = None,
    agent: str | None = None,
    host: str | None = None,
) -> NothingToTake:
    """Why `next_tasks` is empty for this claimant."""
    who = policy.claimant(agent, host, role=role, caps=caps)
    if who.refusal is not None:
        return NothingToTake(who.refusal)
    full = wip_room(state, policy, role=who.role, agent=agent)
    if full is not None:
        return NothingToTake(full, full)
    what = f"role {who.role}" if who.role else "any role"
    if who.caps is not None:
        what += f", caps [{', '.join(sorted(who.caps))}]"
    return NothingToTake(f"no ready task fits {who.who} ({what})")


@dataclass(frozen=True, slots=True)
class NextUp:
    """The answer to `sprintboard next`: what to take, best first, or why there is nothing."""

    tasks: list[Task]
    why: NothingToTake | None = None
    """Set when `tasks` is empty."""


def next_up(
    state: BoardState,
    policy: BoardPolicy,
    *,
    agent: str | None = None,
    role: str | None = None,
    caps: Sequence[str] | None = None,
    host: str | None = None,
    limit: int | None = None,
) -> NextUp:
    """`next_tasks` as every door asks it: for `agent` on `host` (its role, capabilities and
    WIP room from the config), or, without an agent, for an agent of `role` (default
    builder) with `caps` (default none)."""
    if agent is None:
        role, caps, host = role or OPEN_CLAIMS_ROLE, list(caps or []), None
    else:
        caps = caps or None
    tasks = next_tasks(state, policy, role=role, caps=caps, agent=agent, host=host, limit=limit)
    if tasks:
        return NextUp(tasks)
    return NextUp([], nothing_to_take(state, policy, role=role, caps=caps, agent=agent, host=host))
