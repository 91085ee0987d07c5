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


@dataclass(slots=True)
class Wait:
    """Task `task` waits on `who`; `run` is what moves it on.

    Not frozen, though nothing changes one: `status` makes one per unfinished task, and a
    frozen dataclass's `__init__` (`object.__setattr__` per field) costs 3x as much, ~3 ms
    of a 10,000-task `status --json`."""

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
    of = _Waits(state, policy, alive, here).of
    return [wait for task in state.tasks.values() if (wait := of(task)) is not None]


def task_wait(
    state: BoardState,
    policy: BoardPolicy,
    task: Task,
    alive: Collection[str],
    here: str | None = None,
) -> Wait | None:
    """What `task` waits on, or None when it is finished or held by a live host."""
    return _Waits(state, policy, alive, here).of(task)


def _agents_run(host: str) -> str:
    return f"run `sprintboard agents run --host {host}` there"


class _Waits:
    """What the tasks of one board wait on. What is the same for every task (the Auditor's
    host, which configured agents can take a role and caps) is worked out once per board,
    not once per task: `status` asks for all 10,000 tasks of a big board in one call."""

    __slots__ = ("_able", "_alive", "_auditor", "_here", "_policy", "_tasks")

    def __init__(
        self, state: BoardState, policy: BoardPolicy, alive: Collection[str], here: str | None
    ) -> None:
        self._tasks = state.tasks
        self._policy = policy
        self._alive = alive
        self._here = here
        owner = policy.owner or here or "OWNER"
        self._auditor = f"run `sprintboard agents run --host {owner}` on {owner}"
        self._able: dict[tuple[str, tuple[str, ...]], list[tuple[str, str | None]]] = {}

    def _live(self, host: str | None) -> bool:
        return host is None or host in self._alive or host == self._here

    def _able_agents(self, task: Task) -> list[tuple[str, str | None]]:
        """The configured agents (and their hosts) whose role and caps fit `task`; a fit
        depends only on the task's role and caps (`Claimant.misfit`)."""
        key = (task.role, tuple(task.caps))
        able = self._able.get(key)
        if able is None:
            policy = self._policy
            able = self._able[key] = [
                (name, policy.agent_hosts.get(name))
                for name, role in sorted(policy.agent_roles.items())
                if role == task.role and policy.claimant(name).misfit(task) is None
            ]
        return able

    def of(self, task: Task) -> Wait | None:
        """What `task` waits on, or None when it is finished or held by a live host."""
        tid = task.id
        status = task.status
        if status in FINISHED_STATUSES:
            return None
        if status == "blocked" and task.blocked_reason:
            return Wait(tid, "blocked", "a person", f"blocked: {task.blocked_reason}; "
                        f"`sprintboard move {tid} ready` when it is solved")  # fmt: skip
        if status == "needs_manual" or status == "needs_adapt":
            return Wait(tid, "person", "a person", "review it, then tick its criteria in "
                        f"KANBAN.md or `sprintboard move {tid} done --force`")  # fmt: skip
        if status in _REVIEW:
            return Wait(tid, "auditor", "the Auditor", self._auditor)
        lease = task.lease
        if lease is not None:
            if self._live(lease.host):
                return None
            return Wait(tid, "host", f"host {lease.host}",
                        f"{lease.agent}@{lease.host} holds it; {_agents_run(lease.host)}")  # fmt: skip
        if task.dependencies:
            tasks = self._tasks
            undone = [d for d in task.dependencies if d in tasks and tasks[d].status != "done"]
            if undone:
                return Wait(tid, "tasks", ", ".join(undone), "they finish first")
        if not task.steps:
            return Wait(tid, "person", "a person", "it has no tool steps: do it and "
                        f"`sprintboard move {tid} done --force`, or claim it with `sprintboard "
                        f"claim {tid} --agent NAME`")  # fmt: skip
        here = self._here
        if task.agent is not None:
            host = task.host or self._policy.agent_hosts.get(task.agent)
            if host is not None and not self._live(host):
                return Wait(tid, "host", f"host {host}", _agents_run(host))
            return Wait(tid, "agent", task.agent, _agents_run(host or here or "HOST"))
        able = self._able_agents(task)
        if not able:
            need = ", ".join(task.caps) or f"the {task.role} role"
            return Wait(tid, "person", "a person", f"no agent in sprintboard.toml has {need}; "
                        "add it to a host or an agent")  # fmt: skip
        live = [(n, h) for n, h in able if self._live(h)]
        if live:
            name, host = live[0]
            return Wait(tid, "agent", name, _agents_run(host or here or "HOST"))
        hosts = sorted({h for _, h in able if h is not None})
        return Wait(tid, "host", "host " + " or ".join(hosts), _agents_run(hosts[0]))
