"""The worker seam: the job a worker gets, the outcome it gives back, and the factory.

`worker_for` maps an agent's `worker` kind to its implementation: `command.py` or
`llm.py` (which also needs the board, for `note`/`ask`, and the workspace config).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sprintboard.board.client import BoardClient
from sprintboard.config import AgentConfig, WorkspaceConfig
from sprintboard.errors import ConfigError
from sprintboard.llm import ChatBackend

__all__ = ["Worker", "WorkerJob", "WorkerOutcome", "worker_for"]


@dataclass(frozen=True, slots=True)
class WorkerJob:
    """One attempt of one task, ready to run."""

    task: str
    attempt: int
    fence: int
    agent: str
    host: str
    root: Path
    """The workspace (absolute)."""
    run_dir: Path
    """`runs/<task>/<attempt>/` (absolute); PROMPT.md and task.json are in it."""
    cwd: Path
    """Where the worker runs: the run folder, or the attempt's git worktree (`repo`)."""
    env: Mapping[str, str]
    """The whole environment the worker sees (nothing else of the runner's reaches it)."""
    lost: threading.Event = field(default_factory=threading.Event)
    """Set when the lease was lost: the worker stops at once, its result is void."""

    @property
    def prompt_file(self) -> Path:
        return self.run_dir / "PROMPT.md"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "worker.log"


@dataclass(frozen=True, slots=True)
class WorkerOutcome:
    """How an attempt ended."""

    ok: bool
    reason: str = ""
    """Why it failed (the log's tail), or what it did."""
    paused: bool = False
    """The worker cannot go on until a person acts (an LLM key refused, a bill unpaid):
    the task goes back to ready for others and this worker takes no more tasks."""


class Worker(Protocol):
    """Does one attempt of a step-less task; never raises for the worker's own failure."""

    def run(self, job: WorkerJob) -> WorkerOutcome: ...


def worker_for(
    agent: AgentConfig,
    config_path: Path,
    *,
    config: WorkspaceConfig | None = None,
    board: BoardClient | None = None,
    backend: ChatBackend | None = None,
) -> Worker | None:
    """The worker of a builder agent; None for `tools` (it runs tool steps only).

    `llm` needs the workspace `config` and the `board`; `backend` replaces `[llm]`'s.

    Raises:
        ConfigError: an `llm` worker without the config or board to run it.
    """
    if agent.worker == "command":
        # a cycle otherwise: command.py imports this module for WorkerJob
        from sprintboard.agents.workers.command import CommandWorker

        return CommandWorker(agent)
    if agent.worker == "llm":
        if config is None or board is None:
            raise ConfigError(
                config_path, "agents", f"agent {agent.name!r}: an llm worker needs the board"
            )
        # a cycle otherwise: llm.py imports this module for WorkerJob
        from sprintboard.agents.workers.llm import LLMWorker

        return LLMWorker(agent, config, board, backend=backend)
    return None
