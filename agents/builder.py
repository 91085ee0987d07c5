"""The Builder: runs a leased task's tool steps, or hands a task without steps to its
agent's worker (agents/workers/), records artifacts and metrics, submits with its fence.

The graph is `step` (once per tool step, a checkpoint after each) then `submit`, or, for a
step-less task of a `command`/`llm` builder, `work` then `submit`. Every step writes into
`runs/<task>/<attempt>/` and leaves `step-<n>-<tool>.report.json` when it finished; a
worker's attempt leaves `outcome.json`. A re-run node (after a kill) skips a step whose
report exists, never runs a worker twice for one attempt (a cut-off attempt fails, its
files unrecorded), and submits only while the task still holds this attempt's lease, so
nothing is done twice. A failed worker attempt goes back to ready with the reason (a note)
until the agent's `max_attempts`, then the task is blocked with it.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from pydantic import BaseModel

from sprintboard.agents.rundirs import absolute_paths, resolve_runs, run_dir, run_relpath
from sprintboard.agents.workers import Worker
from sprintboard.agents.workers.attempt import (
    AttemptPlan,
    run_attempt,
    settle_earlier,
    settled_outcome,
)
from sprintboard.agents.workers.run_dir import worker_artifacts
from sprintboard.board.client import BoardClient, EventDraft
from sprintboard.board.models import Artifact, Task
from sprintboard.board.values import clean_line
from sprintboard.config import AgentConfig, WorkspaceConfig, load_config
from sprintboard.errors import BoardError, SprintboardError, StaleFence
from sprintboard.files import atomic_write, workspace_file_ref
from sprintboard.tools.registry import run_step, validate_step

__all__ = ["BuildState", "Builder", "BuilderSettings", "collect_artifacts"]

log = logging.getLogger(__name__)

_REVIEW = frozenset({"awaiting_test", "testing", "ready_for_integrator", "needs_manual", "done"})


class BuildState(TypedDict):
    """A build thread's checkpointed state (thread id `builder:<task>:<attempt>`)."""

    task: str
    attempt: int
    fence: int
    agent: str
    steps: int
    next_step: int
    outcome: str
    """Empty while running; then submitted, lost or failed."""
    detail: str


@dataclass(frozen=True, slots=True)
class BuilderSettings:
    """How hard a Builder tries."""

    retries: int = 1
    """Extra tries of a failing step before the task is blocked."""
    step_timeout: float = 3600.0
    """Seconds a step may run; past it the task is blocked (the step's thread is abandoned)."""
    heartbeat_every: float = 60.0
    """Seconds between lease heartbeats while a step runs."""


def collect_artifacts(root: Path, folder: Path) -> list[Artifact]:
    """Every file under `folder` as a content-addressed artifact, paths relative to `root`."""
    return [workspace_file_ref(root, p) for p in sorted(folder.rglob("*")) if p.is_file()]


def _ssh_addresses(config: dict[str, Any], root: Path) -> dict[str, Any]:
    """A step's `hosts` (a distributed train step) may name `[[hosts]]`; use their `ssh`."""
    hosts = config.get("hosts")
    if not isinstance(hosts, list) or not hosts:
        return config

    known = {h.name: h.ssh for h in load_config(root).hosts if h.ssh}
    return {**config, "hosts": [known.get(h, h) if isinstance(h, str) else h for h in hosts]}


def _report_metrics(tool: str, report: Mapping[str, Any]) -> dict[str, float]:
    """Metrics a step adds to its task: `metrics` when the report has them, else its counts."""
    metrics = report.get("metrics")
    if isinstance(metrics, dict):
        return {str(k): float(v) for k, v in metrics.items() if isinstance(v, int | float)}
    return {
        f"{tool}_{k}": float(v)
        for k, v in report.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


class Builder:
    """Builds the `builder` graph for one host; each thread builds one attempt of one task."""

    def __init__(
        self,
        board: BoardClient,
        root: Path,
        *,
        settings: BuilderSettings | None = None,
        run_tool: Any = None,
        config: WorkspaceConfig | None = None,
        workers: Mapping[str, Worker] | None = None,
    ) -> None:
        self.board, self.root = board, Path(root)
        self.settings = settings or BuilderSettings()
        self.run_tool = run_tool or run_step
        self.config = config
        self.workers = dict(workers or {})
        """Builder agent -> the worker it hands step-less tasks to (`command`, `llm`)."""
        self.agents: dict[str, AgentConfig] = {
            a.name: a for a in (config.agents if config is not None else [])
        }
        self.paused: set[str] = set()
        """Builder agents whose worker paused (its LLM key or bill was refused): the runner
        claims nothing more for them. Set before the task is handed back, so the runner
        cannot hand it to the same paused agent in between."""
        if self.workers and config is None:
            raise TypeError("workers need the workspace config")
        self._live: set[tuple[str, int]] = set()
        """(task, attempt) of the workers running in this process now."""
        self._live_lock = threading.Lock()

    # -- graph ------------------------------------------------------------------------------

    def graph(self, saver: Any) -> Any:
        """The compiled graph: step (looping) -> submit."""
        # langgraph loads only when a graph runs (start-up time)
        from langgraph.graph import END, START, StateGraph

        g = StateGraph(BuildState)
        g.add_node("step", self._step)
        g.add_node("work", self._work)
        g.add_node("submit", self._submit)
        g.add_conditional_edges(START, self._first, ["step", "work"])
        g.add_conditional_edges("step", self._after_step, ["step", "submit", END])
        g.add_conditional_edges("work", self._after_work, ["submit", END])
        g.add_edge("submit", END)
        return g.compile(checkpointer=saver)

    def _first(self, state: BuildState) -> str:
        return "work" if state["steps"] == 0 and state["agent"] in self.workers else "step"

    @staticmethod
    def _after_work(state: BuildState) -> str:
        return "__end__" if state["outcome"] else "submit"

    @staticmethod
    def start(task: Task, agent: str) -> BuildState:
        """The first state of a thread for `task`'s current lease."""
        assert task.lease is not None
        return BuildState(
            task=task.id,
            attempt=task.attempt,
            fence=task.lease.fence,
            agent=agent,
            steps=len(task.steps),
            next_step=0,
            outcome="",
            detail="",
        )

    @staticmethod
    def _after_step(state: BuildState) -> str:
        if state["outcome"]:
            return "__end__"
        return "step" if state["next_step"] < state["steps"] else "submit"

    # -- nodes ------------------------------------------------------------------------------

    def _holds(self, state: BuildState) -> Task | None:
        task = self.board.snapshot().tasks.get(state["task"])
        if task is None or task.lease is None or task.lease.fence != state["fence"]:
            return None
        return task

    def _step(self, state: BuildState) -> dict[str, Any]:
        task = self._holds(state)
        if task is None:
            return {"outcome": "lost", "detail": "the lease was lost before the step ran"}
        index = state["next_step"]
        if index >= len(task.steps):
            return {"next_step": index}
        step = task.steps[index]
        out = run_dir(self.root, task.id, state["attempt"])
        out.mkdir(parents=True, exist_ok=True)
        report_path = out / f"step-{index + 1}-{step.tool}.report.json"
        if report_path.exists():  # finished before a kill: do not run it twice
            return {"next_step": index + 1}
        try:
            with self._heartbeats(state) as lost:
                report = self._run_with_retries(task, state, step.tool, step.config)
            if lost.is_set():
                return {"outcome": "lost", "detail": "the lease was lost while the step ran"}
        except _StepFailed as exc:
            self._block(state, str(exc))
            return {"outcome": "failed", "detail": str(exc)}
        atomic_write(report_path, report.model_dump_json(indent=2).encode("utf-8"))
        return {"next_step": index + 1}

    def _run_with_retries(
        self, task: Task, state: BuildState, tool: str, config: Mapping[str, Any]
    ) -> BaseModel:
        where = f"{task.id} step {state['next_step'] + 1} ({tool})"
        try:
            resolved = resolve_runs(
                dict(config), self.board.snapshot(), {task.id: state["attempt"]}, task=task.id
            )
            resolved = _ssh_addresses(resolved, self.root)
            cfg = absolute_paths(validate_step(tool, resolved), self.root)
        except SprintboardError as exc:
            raise _StepFailed(f"{where}: {exc}") from None
        last = ""
        for attempt in range(self.settings.retries + 1):
            pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"step-{task.id}")
            future = pool.submit(self.run_tool, tool, cfg)
            try:
                report: BaseModel = future.result(timeout=self.settings.step_timeout)
                return report
            except concurrent.futures.TimeoutError:
                raise _StepFailed(
                    f"{where}: timed out after {self.settings.step_timeout:g}s"
                ) from None
            except Exception as exc:  # a tool failure is a task outcome, not a runner crash
                last = f"{type(exc).__name__}: {exc}"
                log.warning("%s: try %d failed: %s", where, attempt + 1, last)
            finally:
                pool.shutdown(wait=False)
        raise _StepFailed(f"{where}: failed after {self.settings.retries + 1} tries; {last}")

    @contextmanager
    def _heartbeats(self, state: BuildState) -> Iterator[threading.Event]:
        """Keep the lease alive while a step runs; `lost` is set when the board refuses."""
        stop, lost = threading.Event(), threading.Event()

        def beat() -> None:
            while not stop.wait(self.settings.heartbeat_every):
                try:
                    self.board.heartbeat(state["task"], state["fence"])
                except StaleFence:
                    lost.set()
                    return
                except BoardError as exc:  # a busy lock: try again next beat
                    log.warning("%s: heartbeat failed: %s", state["task"], exc)

        thread = threading.Thread(target=beat, name=f"heartbeat-{state['task']}", daemon=True)
        thread.start()
        try:
            yield lost
        finally:
            stop.set()
            thread.join()

    def _work(self, state: BuildState) -> dict[str, Any]:
        agent = self.agents[state["agent"]]
        assert self.config is not None
        plan = AttemptPlan(
            root=self.root.absolute(),
            config=self.config,
            agent=agent,
            host=self.board.host,
            task=state["task"],
            attempt=state["attempt"],
            fence=state["fence"],
        )
        key = (plan.task, plan.attempt)
        with self._live_lock:
            # an earlier attempt still running here ends by itself (its lease is gone)
            settle_earlier(plan, running=frozenset(self._live))
            self._live.add(key)
        try:
            outcome = settled_outcome(plan)
            if outcome is None:
                if self._holds(state) is None:
                    return {"outcome": "lost", "detail": "the lease was lost before it ran"}
                # no board lock is held while the worker runs: it may call `sprintboard note`
                with self._heartbeats(state) as lost:
                    worker = self.workers[agent.name]
                    outcome = run_attempt(plan, worker, self.board.snapshot(), lost)
        finally:
            with self._live_lock:
                self._live.discard(key)
        if outcome.ok:
            return {"detail": outcome.reason}
        if outcome.paused:
            return self._pause(state, agent, outcome.reason)
        return self._fail(state, agent, outcome.reason)

    def _pause(self, state: BuildState, agent: AgentConfig, reason: str) -> dict[str, Any]:
        """The worker cannot go on (its LLM key or bill was refused): say so in a decision
        (the notifier tells people), hand the task back to ready, and stop this agent."""
        task = self._holds(state)
        if task is None:
            return {"outcome": "lost", "detail": reason}
        self.paused.add(agent.name)
        host = self.board.host
        text = clean_line(
            f"Paused worker {agent.name}@{host}: {reason}. It takes no tasks until the "
            f"provider problem is fixed and its runner restarts; {task.id} is back to ready.",
            4000,
        )
        key = f"{host}:builder.{task.id}.{state['attempt']}.paused"
        try:
            self.board.apply(
                [
                    EventDraft(
                        "decision.add",
                        task.id,
                        {"text": text, "paused": agent.name},
                        f"{agent.name}@{host}",
                        None,
                        key,
                    )
                ]
            )
            self.board.release(task.id, state["fence"], clean_line(f"worker paused: {reason}"))
        except BoardError as exc:  # lost the lease meanwhile: the new holder decides
            log.warning("%s: could not hand the task back: %s", task.id, exc)
        return {"outcome": "paused", "detail": reason}

    def _fail(self, state: BuildState, agent: AgentConfig, reason: str) -> dict[str, Any]:
        """A worker attempt failed: back to ready with the reason, or blocked at the last."""
        task = self._holds(state)
        if task is None:  # fenced out: the attempt's files are never recorded
            return {"outcome": "lost", "detail": reason}
        if state["attempt"] >= agent.max_attempts:
            self._block(state, f"{state['attempt']} attempts failed; the last: {reason}")
            return {"outcome": "failed", "detail": reason}
        key = f"{self.board.host}:builder.{state['task']}.{state['attempt']}"
        actor = f"{state['agent']}@{self.board.host}"
        text = clean_line(f"Attempt {state['attempt']} failed: {reason}", 4000)
        try:
            self.board.apply(
                [
                    EventDraft(
                        "note.add", task.id, {"text": text}, actor, state["fence"], f"{key}.note"
                    )
                ]
            )
            self.board.release(task.id, state["fence"], clean_line(text))
        except BoardError as exc:  # lost the lease meanwhile: the new holder decides
            log.warning("%s: could not hand the task back: %s", task.id, exc)
        return {"outcome": "failed", "detail": reason}

    def _block(self, state: BuildState, reason: str) -> None:
        host = self.board.host
        try:
            self.board.move(
                state["task"],
                "blocked",
                f"{state['agent']}@{host}",
                reason=clean_line(reason),
                expected="in_progress",
                fence=state["fence"],
                key=f"{host}:builder.{state['task']}.{state['attempt']}.blocked",
            )
        except BoardError as exc:  # lost the lease meanwhile: the new holder decides
            log.warning("%s: could not block: %s", state["task"], exc)

    def _submit(self, state: BuildState) -> dict[str, Any]:
        task = self._holds(state)
        if task is None:
            current = self.board.snapshot().tasks.get(state["task"])
            if current is not None and current.attempt == state["attempt"]:
                if current.status in _REVIEW:  # submitted before a kill
                    return {"outcome": "submitted", "detail": "already submitted"}
            return {"outcome": "lost", "detail": "the lease was lost before submitting"}
        folder = run_dir(self.root, task.id, state["attempt"])
        metrics: dict[str, float] = {}
        for index, step in enumerate(task.steps):
            path = folder / f"step-{index + 1}-{step.tool}.report.json"
            metrics.update(_report_metrics(step.tool, json.loads(path.read_text(encoding="utf-8"))))
        if not folder.exists():
            artifacts = []
        elif state["agent"] in self.workers and not task.steps:
            artifacts = worker_artifacts(self.root, folder)
        else:
            artifacts = collect_artifacts(self.root, folder)
        try:
            self.board.submit(task.id, state["fence"], artifacts, metrics)
        except StaleFence as exc:
            return {"outcome": "lost", "detail": str(exc)}
        return {
            "outcome": "submitted",
            "detail": f"{len(artifacts)} artifacts in {run_relpath(task.id, state['attempt'])}",
        }


class _StepFailed(Exception):
    """A step failed for good (after retries, or timed out); the task gets blocked."""
