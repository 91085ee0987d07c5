"""The Negotiator (owner host only): recovers expired leases and assigns ready tasks to Builders.

A pass is one graph thread keyed by the board's `seq` when it started (`recover` ->
`assign`). Which tasks can be taken and in what order is the board's one scheduling rule
(board/scheduling.py: priority, then least slack on the critical path); what stays here
are the Negotiator's own decisions: which Builder takes a task (the least-loaded one that
has the capabilities, the worker for the task's kind and WIP room, preferring this host: a
task with tool steps goes to a `tools` builder, one without to a `command` or `llm` builder;
a task no agent here can take is routed to a host that can, but only to a host seen alive:
board/hosts.py) and the recovery of expired leases and of work assigned to a host that went
silent before claiming it. Each assignment is written
through the client (`assign`, with its reason as a decision in KANBAN.md's Decisions), and
only while an agent has room, so a person's later change (priority, block, reassign)
steers the next decision.
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from sprintboard.agents.runtime import linear_graph
from sprintboard.board.client import BoardClient, EventDraft
from sprintboard.board.clock import Clock, SystemClock
from sprintboard.board.critical_path import remaining_slack
from sprintboard.board.hosts import SILENT_AFTER_S, alive_hosts
from sprintboard.board.models import Task
from sprintboard.board.scheduling import BoardPolicy, Claimant, claimable, held, rank

__all__ = ["NegotiateState", "Negotiator"]

log = logging.getLogger(__name__)


class NegotiateState(TypedDict):
    """A pass's checkpointed state (thread id `negotiator:<host>:<seq>`)."""

    seq: int
    recovered: list[str]
    assigned: list[str]


class Negotiator:
    """Builds the `negotiator` graph."""

    def __init__(
        self, board: BoardClient, *, agent: str, policy: BoardPolicy, clock: Clock | None = None
    ) -> None:
        self.board, self.agent, self.policy = board, agent, policy
        self.clock: Clock = clock or SystemClock()
        self.builders: list[Claimant] = [
            policy.claimant(name)
            for name, role in sorted(policy.agent_roles.items())
            if role == "builder"
        ]

    @property
    def actor(self) -> str:
        return f"{self.agent}@{self.board.host}"

    def graph(self, saver: Any) -> Any:
        """The compiled graph: recover -> assign."""
        return linear_graph(
            NegotiateState, [("recover", self._recover), ("assign", self._assign)], saver
        )

    def _id(self, seq: int, what: str) -> str:
        return f"{self.board.host}:negotiator.{seq}.{what}"

    # -- nodes ------------------------------------------------------------------------------

    def _recover(self, state: NegotiateState) -> dict[str, Any]:
        # Any write expires overdue leases first; an empty batch is exactly that.
        expired = [e for e in self.board.apply([]) if e.op == "lease.expire" and e.task]
        drafts = [
            EventDraft(
                "decision.add",
                e.task,
                {"text": f"Recovered {e.task}: {e.fields.get('reason', 'lease expired')}; "
                 "back to ready for another try"},
                actor=self.actor,
                id=f"{self.board.host}:negotiator.recover.{e.id}",
            )
            for e in expired
        ]  # fmt: skip
        if drafts:
            self.board.apply(drafts)
        return {"recovered": [str(e.task) for e in expired]}

    def _alive(self) -> frozenset[str]:
        return alive_hosts(self.board.snapshot(), self.policy.owner or self.board.host,
                           self.clock.now()) | {self.board.host}  # fmt: skip

    def _take_back(self, state: NegotiateState, alive: frozenset[str]) -> None:
        """Unassign what waits, unclaimed, for a host that went silent: it goes back to the
        pool for a live host (a person's assignment included: a silent host takes nothing)."""
        drafts = []
        for task in self.board.snapshot().tasks.values():
            host = task.host or self.policy.agent_hosts.get(task.agent or "")
            if task.agent is None or task.lease is not None or host is None or host in alive:
                continue
            if task.status not in ("ready", "blocked") or task.blocked_reason:
                continue
            key = f"{self.board.host}:negotiator.{state['seq']}.{task.id}.take-back"
            text = (
                f"Took {task.id} back from {task.agent}@{host}: no heartbeat from {host} in "
                f"{SILENT_AFTER_S:g} s; a live host may take it"
            )
            drafts += [
                EventDraft("task.update", task.id, {"agent": None, "host": None},
                           actor=self.actor, id=key),
                EventDraft("decision.add", task.id, {"text": text}, actor=self.actor,
                           id=f"{key}.decision"),
            ]  # fmt: skip
        if drafts:
            self.board.apply(drafts)

    def _assign(self, state: NegotiateState) -> dict[str, Any]:
        alive = self._alive()
        self._take_back(state, alive)
        snap = self.board.snapshot()
        load = {b.agent: held(snap, agent=b.agent, reserved=True) for b in self.builders}
        busy = sum(load.values())
        role_wip = self.policy.wip_per_role.get("builder", snap.sprint.wip_limits.get("builder"))
        ranked = rank(snap, claimable(snap, self.policy, role="builder"))
        slack = remaining_slack(snap) if ranked else {}
        drafts: list[EventDraft] = []
        assigned: list[str] = []
        for task in ranked:
            able, nobody = self._able(task)
            if nobody is not None:
                drafts += self._decide(state, task, *nobody)
                continue
            if task.agent is not None or not able:
                continue  # assigned already, maybe by a person: their choice stands
            if role_wip is not None and busy >= role_wip:
                break
            # a host nobody has heard from would strand the task: it waits for that host
            free = [b for b in able if b.host in alive and self._room(b, load)]
            if not free:
                continue
            here = [b for b in free if b.host == self.board.host]
            seat = min(here or free, key=lambda b: (load[b.agent], b.agent))
            assert seat.agent is not None
            wip = self.policy.wip_per_agent.get(seat.agent)
            why = (
                f"P{task.priority}, slack {slack.get(task.id, 0)} min, "
                f"load {load[seat.agent]}/{wip or '-'}"
            )
            load[seat.agent] += 1
            busy += 1
            assigned.append(task.id)
            if seat.host != self.board.host:
                why += f"; routed to {seat.host}: no free builder here has {', '.join(sorted(task.caps))}"
            self.board.assign(
                task.id,
                seat.agent,
                seat.host,
                self.actor,
                reason=f"Assigned {task.id} to {seat.agent}@{seat.host} ({why})",
                key=self._id(state["seq"], f"{task.id}.assign"),
            )
        if drafts:
            self.board.apply(drafts)
        return {"assigned": assigned}

    def _able(self, task: Task) -> tuple[list[Claimant], tuple[str, str] | None]:
        """The builders that could do `task` (its kind of worker, its caps), or the decision
        (key, text) saying why none can: no command/llm builder at all for a step-less task
        (it waits for a person), or none with the capabilities."""
        kind = [b for b in self.builders if b.worker_misfit(task) is None]
        if not task.steps and not kind:
            return [], (
                "manual",
                f"{task.id} has no tool steps and no builder in sprintboard.toml has "
                'worker = "command" or "llm": no agent will do it; it waits for a person',
            )
        able = [b for b in kind if b.misfit(task) is None]
        if not able and task.agent is None:
            which = "builder" if task.steps else "command or llm builder"
            return [], (
                f"unassignable.{task.attempt}",
                f"{task.id} needs {', '.join(task.caps)}; no {which} in sprintboard.toml "
                "has it. Add the capability to a host or agent.",
            )
        return able, None

    def _room(self, builder: Claimant, load: dict[str | None, int]) -> bool:
        wip = self.policy.wip_per_agent.get(builder.agent or "")
        return wip is None or load[builder.agent] < wip

    def _decide(self, state: NegotiateState, task: Task, key: str, text: str) -> list[EventDraft]:
        # Assignments are keyed by pass; the other notices are said once per task (+ attempt).
        scope = f"{state['seq']}.{key}" if key == "assign" else key
        return [
            EventDraft(
                "decision.add",
                task.id,
                {"text": text},
                actor=self.actor,
                id=f"{self.board.host}:negotiator.{task.id}.{scope}",
            )
        ]
