"""The Negotiator (owner host only): recovers expired leases and assigns ready tasks to Builders.

A pass is one graph thread keyed by the board's `seq` when it started (`recover` ->
`assign`). Tasks go by priority, then critical-path slack, then id, to the least-loaded
Builder that has the capabilities and WIP room, preferring this host; a task no agent
here can take is routed to a host that can. Each decision is a `decision.add` event with
its reason (KANBAN.md's Decisions). Assignments are only made while an agent has room, so a
person's later change (priority, block, reassign) steers the next decision.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from sprintboard.agents.runtime import linear_graph
from sprintboard.board.client import BoardClient, EventDraft
from sprintboard.board.models import FINISHED_STATUSES, Task
from sprintboard.board.state import BoardState
from sprintboard.errors import BoardError
from sprintboard.sprints.graph import analyze

__all__ = ["BuilderSeat", "NegotiateState", "Negotiator", "slack_of"]

log = logging.getLogger(__name__)


class NegotiateState(TypedDict):
    """A pass's checkpointed state (thread id `negotiator:<host>:<seq>`)."""

    seq: int
    recovered: list[str]
    assigned: list[str]


@dataclass(frozen=True, slots=True)
class BuilderSeat:
    """A Builder the Negotiator may assign to (from `sprintboard.toml`)."""

    name: str
    host: str
    caps: frozenset[str] = field(default_factory=frozenset)
    wip: int | None = None


def slack_of(tasks: Sequence[Task]) -> dict[str, int]:
    """Minutes each unfinished task can slip without delaying the sprint (0: critical path)."""
    open_tasks = [t for t in tasks if t.status not in FINISHED_STATUSES]
    try:
        return dict(analyze(open_tasks, remaining=True).slack)
    except BoardError as exc:  # a graph problem must not stop assignment; the planner reports it
        log.warning("critical-path analysis failed: %s", exc)
        return {}


class Negotiator:
    """Builds the `negotiator` graph."""

    def __init__(
        self,
        board: BoardClient,
        *,
        agent: str,
        seats: Sequence[BuilderSeat],
        role_wip: int | None = None,
    ) -> None:
        self.board, self.agent = board, agent
        self.seats = list(seats)
        self.role_wip = role_wip

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

    def _assign(self, state: NegotiateState) -> dict[str, Any]:
        snap = self.board.snapshot()
        load = self._load(snap)
        busy = sum(load.values())
        slack = slack_of(list(snap.tasks.values()))
        ready = self.board.ready(role="builder")
        ready.sort(key=lambda t: (t.priority, slack.get(t.id, 0), t.id))
        drafts: list[EventDraft] = []
        assigned: list[str] = []
        for task in ready:
            if not task.steps:
                drafts += self._decide(
                    state,
                    task,
                    "manual",
                    f"{task.id} has no tool steps: no agent will do it; it waits for a person",
                )
                continue
            if task.agent is not None:
                continue  # assigned already, maybe by a person: their choice stands
            able = [s for s in self.seats if set(task.caps) <= s.caps]
            if not able:
                drafts += self._decide(
                    state,
                    task,
                    f"unassignable.{task.attempt}",
                    f"{task.id} needs {', '.join(task.caps)}; no builder in sprintboard.toml "
                    "has it. Add the capability to a host or agent.",
                )
                continue
            if self.role_wip is not None and busy >= self.role_wip:
                break
            free = [s for s in able if s.wip is None or load[s.name] < s.wip]
            if not free:
                continue
            here = [s for s in free if s.host == self.board.host]
            seat = min(here or free, key=lambda s: (load[s.name], s.name))
            load[seat.name] += 1
            busy += 1
            assigned.append(task.id)
            why = (
                f"P{task.priority}, slack {slack.get(task.id, 0)} min, "
                f"load {load[seat.name] - 1}/{seat.wip or '-'}"
            )
            if seat.host != self.board.host:
                why += f"; routed to {seat.host}: no free builder here has {sorted(task.caps)}"
            drafts.append(
                EventDraft(
                    "task.update",
                    task.id,
                    {"agent": seat.name, "host": seat.host},
                    actor=self.actor,
                    id=self._id(state["seq"], f"{task.id}.assign"),
                )
            )
            drafts += self._decide(
                state, task, "assign", f"Assigned {task.id} to {seat.name}@{seat.host} ({why})"
            )
        if drafts:
            self.board.apply(drafts)
        return {"assigned": assigned}

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

    def _load(self, snap: BoardState) -> dict[str, int]:
        """Tasks each Builder holds or has been assigned and not yet claimed."""
        load = {s.name: 0 for s in self.seats}
        for task in snap.tasks.values():
            if task.lease is not None and task.lease.agent in load:
                load[task.lease.agent] += 1
            elif task.status == "ready" and task.agent in load:
                load[str(task.agent)] += 1
        return load
