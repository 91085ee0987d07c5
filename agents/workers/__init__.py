"""Workers: what a Builder hands a claimed task without tool steps to (DESIGN.md contract 12).

A builder agent's `worker` in sprintboard.toml says which: `tools` (registered steps only,
no worker), `command` (an outside coding agent's CLI, `command.py`) or `llm` (an LLM tool
loop, not built yet). Every worker gets the same `WorkerJob`: a run folder
`runs/<task>/<attempt>/` that already holds PROMPT.md and task.json (`run_dir.py`), the
environment it may see, a cwd (the run folder, or a git worktree with `repo`: `repo.py`),
and an event that says its lease was lost. It answers with a `WorkerOutcome`; the Builder
submits or fails the attempt. A new kind plugs in by implementing `Worker.run`.
"""

from __future__ import annotations

from sprintboard.agents.workers.job import Worker, WorkerJob, WorkerOutcome, worker_for

__all__ = ["Worker", "WorkerJob", "WorkerOutcome", "worker_for"]
