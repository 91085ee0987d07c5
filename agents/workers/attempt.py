"""One attempt of a step-less task, from an empty run folder to its outcome.

`run_attempt` marks the folder as begun, writes PROMPT.md and task.json, makes the
worktree in `repo` mode, runs the worker and records the repository's changes on
success; the outcome is saved before it is returned, so a re-run after a kill never runs
the worker twice. `void_attempt` is the answer to a folder begun and never ended (the
runner was killed): the orphaned worker is stopped and the attempt fails unrecorded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

from sprintboard.agents.rundirs import run_dir as attempt_folder
from sprintboard.agents.workers.job import Worker, WorkerJob, WorkerOutcome
from sprintboard.agents.workers.prompt import compose_prompt, task_json
from sprintboard.agents.workers.repo import open_worktree, record_changes, remove_worktree
from sprintboard.agents.workers.run_dir import (
    load_outcome,
    mark_started,
    save_outcome,
    started,
    stop_leftover,
    worker_env,
    write_inputs,
)
from sprintboard.board.state import BoardState
from sprintboard.config import AgentConfig, WorkspaceConfig
from sprintboard.errors import SprintboardError

__all__ = ["AttemptPlan", "run_attempt", "settle_earlier", "settled_outcome"]


@dataclass(frozen=True, slots=True)
class AttemptPlan:
    """Where and as whom an attempt runs."""

    root: Path
    """The workspace, absolute."""
    config: WorkspaceConfig
    agent: AgentConfig
    host: str
    task: str
    attempt: int
    fence: int

    @property
    def run_dir(self) -> Path:
        return attempt_folder(self.root, self.task, self.attempt)

    @property
    def repo(self) -> Path | None:
        if self.agent.repo is None:
            return None
        repo = Path(self.agent.repo)
        return repo if repo.is_absolute() else self.root / repo


def settled_outcome(plan: AttemptPlan) -> WorkerOutcome | None:
    """The outcome of an attempt that ran before (None if it never began here).

    A begun attempt without an outcome was cut off by a kill: its leftover process group
    and worktree are removed and it is recorded as failed; its files stay unrecorded.
    """
    saved = load_outcome(plan.run_dir)
    if saved is not None or not started(plan.run_dir):
        return saved
    stop_leftover(plan.run_dir)
    if plan.repo is not None:
        remove_worktree(plan.repo, plan.root, plan.task, plan.attempt)
    void = WorkerOutcome(
        False,
        f"attempt {plan.attempt} was cut off (the runner stopped while it ran); its files "
        "are not recorded",
    )
    save_outcome(plan.run_dir, void)
    return void


def settle_earlier(
    plan: AttemptPlan, running: frozenset[tuple[str, int]] = frozenset()
) -> list[int]:
    """Void the task's earlier attempts that a kill cut off here (their lease expired while
    the runner was down, so no thread resumes them); returns their numbers. `running`:
    (task, attempt) pairs still being worked in this process, left to end by themselves."""
    cut = []
    for attempt in range(1, plan.attempt):
        earlier = replace(plan, attempt=attempt)
        if (plan.task, attempt) in running:
            continue
        if load_outcome(earlier.run_dir) is None and started(earlier.run_dir):
            settled_outcome(earlier)
            cut.append(attempt)
    return cut


def run_attempt(
    plan: AttemptPlan, worker: Worker, state: BoardState, lost: threading.Event
) -> WorkerOutcome:
    """Prepare the run folder, run the worker, record what it made; the outcome is saved."""
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    mark_started(plan.run_dir)
    try:
        outcome = _run(plan, worker, state, lost)
    except SprintboardError as exc:  # a bad repo, git refusing: this attempt fails
        outcome = WorkerOutcome(False, str(exc))
    finally:
        if plan.repo is not None:
            try:
                remove_worktree(plan.repo, plan.root, plan.task, plan.attempt)
            except SprintboardError:
                pass  # the repo itself is the problem: the outcome says so already
    if lost.is_set():
        outcome = WorkerOutcome(False, "the lease was lost while the worker ran")
    save_outcome(plan.run_dir, outcome)
    return outcome


def _run(
    plan: AttemptPlan, worker: Worker, state: BoardState, lost: threading.Event
) -> WorkerOutcome:
    prompt = compose_prompt(plan.root, state, plan.config, plan.agent, plan.task)
    write_inputs(plan.run_dir, prompt, task_json(state, plan.task))
    cwd = plan.run_dir
    tree = None
    if plan.repo is not None:
        tree = open_worktree(plan.repo, plan.root, plan.task, plan.attempt)
        cwd = tree.path
    env = worker_env(
        plan.agent,
        task=plan.task,
        fence=plan.fence,
        host=plan.host,
        root=plan.root,
        run_dir=plan.run_dir,
    )
    job = WorkerJob(
        task=plan.task,
        attempt=plan.attempt,
        fence=plan.fence,
        agent=plan.agent.name,
        host=plan.host,
        root=plan.root,
        run_dir=plan.run_dir,
        cwd=cwd,
        env=env,
        lost=lost,
    )
    outcome = worker.run(job)
    if outcome.ok and tree is not None and not lost.is_set():
        count = record_changes(tree, plan.run_dir)
        outcome = WorkerOutcome(True, f"{outcome.reason}; {count} commit(s) on {tree.branch}")
    return outcome
