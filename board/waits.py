"""What each unfinished task waits on, and what to run about it.

One pure function over the state, so `agents run --once`, `status` and `doctor` say the
same thing: a task waits on other tasks (its dependencies), on a person (no tool steps, a
review only a person can do, a reason it is blocked), on a host (only a silent host can take
it: run its agents there), on an agent (a live builder will take it at its next tick) or on
the Auditor (submitted, the owner's runner checks it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from sprintboard.board.models import FINISHED_STATUSES, Task
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.board.snapshot import counters
from sprintboard.board.state import BoardState

__all__ = ["Wait", "WaitOn", "state_counters", "state_of", "task_wait", "waits"]

WaitOn = Literal["tasks", "person", "host", "agent", "auditor", "blocked"]

_REVIEW = frozenset({"awaiting_test", "testing", "ready_for_integrator"})


def state_of(task: Task) -> str:
    """`waiting` for a task blocked only on its dependencies (no reason: DESIGN.md contract
    7), else its status. "blocked" is kept for what has a reason."""
    return "waiting" if task.status == "blocked" and not task.blocked_reason else task.status


def state_counters(state: BoardState) -> dict[str, int]:
    """`status`'s counters: the total, then each state that has tasks (`waiting` apart from
    `blocked`)."""
    out = counters(state)
    waiting = sum(1 for t in state.tasks.values() if state_of(t) == "waiting")
    out["blocked"] -= waiting
    out["waiting"] = waiting
    return {k: v for k, v in out.items() if v or k == "total_tasks"}


@dataclass(frozen=True, slots=True)
class Wait:
    """Task `task` waits on `who`; `run` is what moves it on."""

    task: str
    on: WaitOn
    who: str
    run: str

    @property
    def line(self) -> str:
        return f"{self.task} waits for {self.who}: {self.run}"


def waits(
    state: BoardState, policy: BoardPolicy, alive: Collection[str], here: str | None = None
) -> list[Wait]:
    """Every unfinished task that is not being worked on, in board order, with what it needs."""
    out = []
    for task in state.tasks.values():
        wait = task_wait(state, policy, task, alive, here)
        if wait is not None:
            out.append(wait)
    return out


def _agents_run(host: str) -> str:
    return f"run `sprintboard agents run --host {host}` there"


def task_wait(
    state: BoardState,
    policy: BoardPolicy,
    task: Task,
    alive: Collection[str],
    here: str | None = None,
) -> Wait | None:
    """What `task` waits on, or None when it is finished or held by a live host."""
    tid = task.id
    if task.status in FINISHED_STATUSES:
        return None
    if task.status == "blocked" and task.blocked_reason:
        return Wait(tid, "blocked", "a person", f"blocked: {task.blocked_reason}; "
                    f"`sprintboard move {tid} ready` when it is solved")  # fmt: skip
    if task.status in ("needs_manual", "needs_adapt"):
        return Wait(tid, "person", "a person", f"review it, then tick its criteria in KANBAN.md "
                    f"or `sprintboard move {tid} done --force`")  # fmt: skip
    if task.status in _REVIEW:
        owner = policy.owner or here or "OWNER"
        return Wait(tid, "auditor", "the Auditor", _agents_run(owner).replace(" there", "")
                    + f" on {owner}")  # fmt: skip
    lease = task.lease
    if lease is not None:
        if lease.host in alive or lease.host == here:
            return None
        return Wait(tid, "host", f"host {lease.host}",
                    f"{lease.agent}@{lease.host} holds it; {_agents_run(lease.host)}")  # fmt: skip
    undone = [d for d in task.dependencies if state.tasks.get(d, task).status != "done"]
    undone = [d for d in undone if d in state.tasks]
    if undone:
        return Wait(tid, "tasks", ", ".join(undone), "they finish first")
    if not task.steps:
        return Wait(tid, "person", "a person", "it has no tool steps: do it and "
                    f"`sprintboard move {tid} done --force`, or claim it with `sprintboard "
                    f"claim {tid} --agent NAME`")  # fmt: skip
    if task.agent is not None:
        host = task.host or policy.agent_hosts.get(task.agent)
        if host is not None and host not in alive and host != here:
            return Wait(tid, "host", f"host {host}", _agents_run(host))
        return Wait(tid, "agent", task.agent, _agents_run(host or here or "HOST"))
    able = [
        (name, policy.agent_hosts.get(name))
        for name, role in sorted(policy.agent_roles.items())
        if role == task.role and policy.claimant(name).misfit(task) is None
    ]
    if not able:
        need = ", ".join(task.caps) or f"the {task.role} role"
        return Wait(tid, "person", "a person", f"no agent in sprintboard.toml has {need}; "
                    "add it to a host or an agent")  # fmt: skip
    live = [(n, h) for n, h in able if h is None or h in alive or h == here]
    if live:
        name, host = live[0]
        return Wait(tid, "agent", name, _agents_run(host or here or "HOST"))
    hosts = sorted({h for _, h in able if h is not None})
    return Wait(tid, "host", "host " + " or ".join(hosts), _agents_run(hosts[0]))
