"""What the owner enforces at claim time: WIP limits, who has which role and capabilities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sprintboard.board.models import Task
from sprintboard.board.state import BoardState
from sprintboard.errors import LeaseConflict, WipLimitReached

__all__ = ["BoardPolicy"]


@dataclass(frozen=True, slots=True)
class BoardPolicy:
    """Limits and capabilities from `sprintboard.toml`; empty tables mean "no limit"."""

    owner: str | None = None
    wip_per_role: dict[str, int] = field(default_factory=dict)
    wip_per_agent: dict[str, int] = field(default_factory=dict)
    agent_roles: dict[str, str] = field(default_factory=dict)
    agent_caps: dict[str, frozenset[str]] = field(default_factory=dict)
    host_caps: dict[str, frozenset[str]] = field(default_factory=dict)

    def caps_of(self, agent: str, host: str) -> frozenset[str]:
        return self.agent_caps.get(agent, frozenset()) | self.host_caps.get(host, frozenset())

    def check_claim(self, state: BoardState, task: Task, agent: str, host: str) -> None:
        """Refuse a claim that breaks WIP limits or needs capabilities the claimant lacks.

        Raises:
            WipLimitReached: the agent or its role is at its limit.
            LeaseConflict: the agent's role or capabilities do not fit the task.
        """
        role = self.agent_roles.get(agent, task.role)
        if role != task.role and agent in self.agent_roles:
            raise LeaseConflict(task.id, f"is a {task.role} task; {agent} is a {role}")
        if self.agent_caps or self.host_caps:
            missing = sorted(set(task.caps) - self.caps_of(agent, host))
            if missing:
                raise LeaseConflict(task.id, f"needs {', '.join(missing)}; {agent}@{host} lacks it")
        leased = [t for t in state.tasks.values() if t.lease is not None]
        agent_limit = self.wip_per_agent.get(agent)
        if (
            agent_limit is not None
            and sum(t.lease.agent == agent for t in leased if t.lease) >= agent_limit
        ):
            raise WipLimitReached(f"agent {agent}", agent_limit)
        role_limit = self.wip_per_role.get(role, state.sprint.wip_limits.get(role))
        if role_limit is not None and sum(t.role == role for t in leased) >= role_limit:
            raise WipLimitReached(f"role {role}", role_limit)

    def fits(self, task: Task, role: str | None, caps: Sequence[str] | None) -> bool:
        if role is not None and task.role != role:
            return False
        return caps is None or set(task.caps) <= set(caps)
