"""What a worker reads: PROMPT.md (the primer, the task, earlier attempts, its run) and
task.json.

The task's page and JSON are `sprintboard show`'s (`board/document.py`), the primer is
`sprintboard prime`'s (`board/primer.py`): a worker reads what a person or an outside
agent would. Only the "Earlier attempts" and "This run" sections are the runner's own.
"""

from __future__ import annotations

from pathlib import Path

from sprintboard.agents.workers.run_dir import load_outcome
from sprintboard.board.document import render_task_page, task_document
from sprintboard.board.primer import primer
from sprintboard.board.state import BoardState
from sprintboard.config import AgentConfig, WorkspaceConfig

__all__ = ["compose_prompt", "earlier_attempts", "task_json"]


def task_json(state: BoardState, task_id: str) -> str:
    """task.json: the task as `show --json` prints it."""
    return task_document(state, task_id).model_dump_json(indent=2) + "\n"


def earlier_attempts(root: Path, state: BoardState, task_id: str) -> list[str]:
    """What earlier attempts of the task were told: a worker's failure, the Auditor's."""
    task = state.task(task_id)
    said = []
    for attempt in range(1, task.attempt):
        outcome = load_outcome(root / "runs" / task_id / str(attempt))
        if outcome is not None and not outcome.ok:
            said.append(f"Attempt {attempt} failed: {outcome.reason}")
    for index, c in enumerate(task.criteria):
        if c.result and not c.done and c.check:
            said.append(f"Criterion #{index + 1} ({c.text}) was checked and failed: {c.result}")
    return said


def compose_prompt(
    root: Path, state: BoardState, config: WorkspaceConfig, agent: AgentConfig, task_id: str
) -> str:
    """PROMPT.md for the task's current attempt."""
    task = state.task(task_id)
    page = render_task_page(task_document(state, task_id))
    parts = [primer(state, config, agent.name), page]
    earlier = earlier_attempts(root, state, task_id)
    if earlier:
        parts.append("## Earlier attempts\n\n" + "\n".join(f"- {e}" for e in earlier) + "\n")
    where = (
        "a git worktree on its own branch: commit your work there; the commits and the "
        "diff are recorded, nothing is merged"
        if agent.repo
        else "this run folder"
    )
    parts.append(
        f"## This run\n\nAttempt {task.attempt} of at most {agent.max_attempts}. You work in "
        f"{where}. Files you write into `$SPRINTBOARD_RUN_DIR` are submitted as the task's "
        "artifacts when you exit 0; a non-zero exit fails the attempt with the end of your "
        f"output as the reason. You have {agent.timeout:g} seconds.\n"
    )
    return "\n".join(parts)
