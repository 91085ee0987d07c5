"""The wake loop of one host: plan, negotiate, build, audit, then sleep until the board changes.

Each tick runs the Negotiator's pass, starts a Builder thread for every task its Builders
hold (resuming the ones a kill interrupted) and claims new work up to each Builder's WIP,
and audits submitted tasks. Builders run in a thread pool; the loop wakes when the journal
changes (`wait_for_change`: a person's KANBAN.md edit lands there as events), when a build
ends, or on the timer. `once` stops when nothing is in flight (no build, no worker), a tick
changed nothing (so nothing was claimable and nothing waited for this host's Auditor), and
no task this host submitted still waits for an Auditor on another host.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sprintboard.agents.auditor import AUDITABLE, Auditor, AuditorSettings
from sprintboard.agents.builder import Builder, BuilderSettings
from sprintboard.agents.negotiator import Negotiator
from sprintboard.agents.planner import Planner, plan_thread_id
from sprintboard.agents.runtime import run_thread, thread_config
from sprintboard.agents.workers import worker_for
from sprintboard.board.client import BoardClient
from sprintboard.board.models import Task
from sprintboard.board.values import clean_line
from sprintboard.config import CONFIG_FILE, WorkspaceConfig
from sprintboard.errors import BoardError
from sprintboard.workspace import policy_from_config

__all__ = ["ROLES", "PlanRequest", "Runner", "RunnerOptions", "RunSummary"]

log = logging.getLogger(__name__)

ROLES: tuple[str, ...] = ("planner", "negotiator", "builder", "auditor")


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What the Planner is asked to plan before the loop starts."""

    objective: str
    recipe: str = ""
    """A recipe name or .toml path; empty: one whose summary the objective matches, else
    the LLM's draft (with `--llm`), else the plan is refused."""
    params: Mapping[str, Any] = field(default_factory=dict)
    sprint: str = "S1"


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    """How a runner behaves."""

    roles: tuple[str, ...] = ROLES
    once: bool = False
    """Stop when nothing is claimable here, no build or worker runs, and nothing this host
    submitted waits for the Auditor."""
    tick: float = 2.0
    """Seconds between timer wakes when the board does not change."""
    ttl: int | None = None
    """Lease seconds; None takes `[board] default_ttl`."""
    builder: BuilderSettings | None = None
    max_ticks: int | None = None
    """A safety stop for tests and demos."""


@dataclass(slots=True)
class RunSummary:
    """What a run did."""

    ticks: int = 0
    claimed: list[str] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    audited: dict[str, str] = field(default_factory=dict)
    """task:attempt -> where the Auditor sent it."""
    planned: int = 0
    plan_source: str = ""
    errors: list[str] = field(default_factory=list)
    paused: dict[str, str] = field(default_factory=dict)
    """Builder agents whose worker paused -> the provider's reason."""


class Runner:
    """All the roles of one host, sharing one board client and one checkpointer."""

    def __init__(
        self,
        root: Path,
        host: str,
        board: BoardClient,
        config: WorkspaceConfig,
        saver: Any,
        options: RunnerOptions | None = None,
        *,
        backend: Any = None,
        run_tool: Callable[[str, Any], Any] | None = None,
        worker_backend: Any = None,
    ) -> None:
        self.root, self.host, self.board, self.config = Path(root), host, board, config
        self.saver, self.options = saver, options or RunnerOptions()
        self.summary = RunSummary()
        mine = [a for a in config.agents if a.host == host and a.role in self.options.roles]
        self.builders = {a.name: a for a in mine if a.role == "builder"}
        self.policy = policy_from_config(config)
        self.ttl = self.options.ttl or config.board.default_ttl
        settings = self.options.builder or BuilderSettings(heartbeat_every=self.ttl / 3)
        config_path = self.root / CONFIG_FILE
        worker_of = {
            name: worker
            for name, agent in self.builders.items()
            if (
                worker := worker_for(
                    agent, config_path, config=config, board=board, backend=worker_backend
                )
            )
            is not None
        }

        self.builder = Builder(
            board, root, settings=settings, run_tool=run_tool, config=config, workers=worker_of
        )
        self.builder_graph = self.builder.graph(saver)
        self.negotiator_graph = self.auditor_graph = self.planner_graph = None
        self.negotiator_agent = self.auditor_agent = self.planner_agent = ""
        # Planner, Negotiator and Auditor work on the owner host only (DESIGN.md).
        owner_roles = [a for a in mine if a.role != "builder" and host == config.board.owner]
        for agent in owner_roles:
            if agent.role == "negotiator" and not self.negotiator_agent:
                self.negotiator_agent = agent.name
                self.negotiator_graph = Negotiator(
                    board, agent=agent.name, policy=self.policy
                ).graph(saver)
            elif agent.role == "auditor" and not self.auditor_agent:
                self.auditor_agent = agent.name
                auditor = Auditor(
                    board,
                    root,
                    settings=AuditorSettings(allow_commands=tuple(config.auditor.allow_commands)),
                )
                self.auditor_graph = auditor.graph(saver)
            elif agent.role == "planner" and not self.planner_agent:
                self.planner_agent = agent.name
                self.planner_graph = Planner(board, root, agent=agent.name, backend=backend).graph(
                    saver
                )
        workers = sum(a.wip or 1 for a in self.builders.values()) or 1
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="builder")
        # by (task, attempt): a released task claimed again may run beside its old thread,
        # which must still be reaped
        self.futures: dict[tuple[str, int], concurrent.futures.Future[dict[str, Any]]] = {}
        self.crashes: dict[str, int] = {}

    # -- planning ---------------------------------------------------------------------------

    def plan(self, request: PlanRequest) -> dict[str, Any]:
        """Plan `request` once (a finished planning thread is not run again).

        Raises:
            BoardError: no planner agent on this host, or the plan does not validate.
        """
        if self.planner_graph is None:
            raise BoardError(
                f"no planner agent on host {self.host} in sprintboard.toml [[agents]]; "
                'add one with role = "planner"'
            )
        thread = plan_thread_id(request.sprint, request.objective, request.recipe, request.params)
        start = Planner.start(request.objective, request.recipe, request.params, request.sprint)
        result = run_thread(self.planner_graph, thread, start)
        self.summary.planned = int(result.get("queued", 0))
        self.summary.plan_source = str(result.get("source", ""))
        return result

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> RunSummary:
        """Tick until stopped (or, with `once`, until there is nothing left to do here)."""
        try:
            while True:
                before = self.board.snapshot().seq
                started = self.tick()
                if self.options.max_ticks and self.summary.ticks >= self.options.max_ticks:
                    break
                changed = started > 0 or self.board.snapshot().seq != before
                if self.futures:
                    concurrent.futures.wait(
                        list(self.futures.values()),
                        timeout=self.options.tick,
                        return_when=concurrent.futures.FIRST_COMPLETED,
                    )
                elif changed:
                    continue  # our own writes may have unlocked more work: tick again now
                elif self.options.once and not self._awaiting_audit():
                    break
                elif self.options.once:
                    # an Auditor elsewhere may send our work back: wait for its verdict
                    self.board.wait_for_change(self.options.tick)
                else:
                    self.board.wait_for_change(self.options.tick)
        finally:
            self.pool.shutdown(wait=True)
        return self.summary

    def tick(self) -> int:
        """One pass of every role; returns how many builds were started."""
        self.summary.ticks += 1
        self._reap()
        if self.negotiator_graph is not None:
            self._negotiate()
        started = self._build() if self.builders else 0
        if self.auditor_graph is not None:
            self._audit()
        return started

    def _awaiting_audit(self) -> bool:
        """Work this runner submitted still waits for an Auditor that runs elsewhere."""
        if self.auditor_graph is not None or not any(
            a.role == "auditor" for a in self.config.agents
        ):
            return False  # audited in our own tick, or by nobody
        tasks = self.board.snapshot().tasks
        return any(
            (t := tasks.get(tid)) is not None and t.status in AUDITABLE
            for tid in self.summary.submitted
        )

    def _negotiate(self) -> None:
        seq = self.board.snapshot().seq
        thread = f"negotiator:{self.host}:{seq}"
        run_thread(self.negotiator_graph, thread, {"seq": seq, "recovered": [], "assigned": []})
        # The pass's effects are journal events; its checkpoints are not needed any more.
        self.saver.delete_thread(thread_config(thread)["configurable"]["thread_id"])

    def _audit(self) -> None:
        for task in list(self.board.snapshot().tasks.values()):
            if task.status not in AUDITABLE:
                continue
            thread = f"auditor:{task.id}:{task.attempt}"
            result = run_thread(self.auditor_graph, thread, Auditor.start(task, self.auditor_agent))
            self.summary.audited[f"{task.id}:{task.attempt}"] = str(result.get("outcome", ""))

    # -- builders ---------------------------------------------------------------------------

    def _held(self, task: Task) -> bool:
        lease = task.lease
        return lease is not None and lease.host == self.host and lease.agent in self.builders

    def _build(self) -> int:
        started = 0
        snap = self.board.snapshot()
        for task in snap.tasks.values():  # resume what a kill interrupted
            if self._held(task) and (task.id, task.attempt) not in self.futures:
                assert task.lease is not None
                if self._start(task, task.lease.agent):
                    started += 1
        for name in self.builders:
            if name in self.builder.paused:
                continue  # its LLM key or bill was refused: it takes nothing more here
            # The board picks (the one scheduling rule) and leases in one step, until this
            # Builder's WIP is full or nothing fits it; work assigned to it comes first.
            while (got := self.board.claim_next(name, ttl=self.ttl, by_worker=True)) is not None:
                self.summary.claimed.append(got.id)
                if self._start(got, name):
                    started += 1
        return started

    def _start(self, task: Task, agent: str) -> bool:
        if self.crashes.get(task.id, 0) >= 3:
            return False  # left to lease expiry and the Negotiator
        thread = f"builder:{task.id}:{task.attempt}"
        start = Builder.start(task, agent)
        self.futures[(task.id, task.attempt)] = self.pool.submit(
            run_thread, self.builder_graph, thread, start
        )
        return True

    def _reap(self) -> None:
        for key, future in list(self.futures.items()):
            if not future.done():
                continue
            del self.futures[key]
            task_id = key[0]
            try:
                result = future.result()
            except Exception as exc:  # a bug or a board outage: count it, retry a few times
                self.crashes[task_id] = self.crashes.get(task_id, 0) + 1
                self.summary.errors.append(f"{task_id}: {type(exc).__name__}: {exc}")
                log.exception("build of %s crashed", task_id)
                continue
            if result.get("outcome") == "submitted":
                self.summary.submitted.append(task_id)
            if result.get("outcome") == "paused":
                self.summary.paused[str(result.get("agent"))] = str(result.get("detail"))
            self._release_if_stuck(task_id, result)

    def _release_if_stuck(self, task_id: str, result: Mapping[str, Any]) -> None:
        """A finished thread whose task is still leased to it gives the lease back."""
        task = self.board.snapshot().tasks.get(task_id)
        if task is None or task.lease is None or task.lease.fence != result.get("fence"):
            return
        reason = clean_line(f"build ended ({result.get('outcome')}): {result.get('detail')}")
        try:
            self.board.release(task_id, task.lease.fence, reason)
        except BoardError as exc:  # released meanwhile (a re-run, an expiry): nothing to do
            log.warning("%s: could not release: %s", task_id, exc)
