"""What a worker reads: PROMPT.md (the primer, the task, earlier attempts, its run) and
task.json.

The task's page and JSON are `sprintboard show`'s (`board/document.py`), the primer is
`sprintboard prime`'s (`board/primer.py`): a worker reads what a person or an outside
agent would. Only the "Earlier attempts" and "This run" sections are the runner's own.
"""

from __future__ import annotations

import json
from pathlib import Path

from sprintboard.agents.workers.run_dir import load_outcome
from sprintboard.board.codec import task_to_dict
from sprintboard.board.criteria import render_criterion
from sprintboard.board.state import BoardState
from sprintboard.config import AgentConfig, WorkspaceConfig

__all__ = ["compose_prompt", "earlier_attempts", "task_json"]


def task_json(state: BoardState, task_id: str) -> str:
    """task.json: the task as `show --json` prints it."""
    # TODO(show): task_document(state, task_id).model_dump_json(indent=2) once merged
    return json.dumps(task_to_dict(state.task(task_id)), indent=2, ensure_ascii=False) + "\n"


def _task_page(state: BoardState, task_id: str) -> str:
    # TODO(show): render_task_page(task_document(state, task_id)) once merged
    task = state.task(task_id)
    lines = [f"# {task.id}: {task.title}", "", f"Status: {task.status} · P{task.priority}"]
    if task.caps:
        lines.append(f"Capabilities: {', '.join(task.caps)}")
    if task.description:
        lines += ["", task.description]
    if task.criteria:
        lines += ["", "## Acceptance criteria"]
        lines += [f"- [{'x' if c.done else ' '}] {render_criterion(c)}" for c in task.criteria]
    return "\n".join(lines) + "\n"


def _primer(state: BoardState, config: WorkspaceConfig, agent: str) -> str:
    # TODO(show): primer(state, config, agent) once merged
    return (
        f"You are {agent}, working one task of the board {config.board.name!r}.\n"
        "Use `sprintboard note $SPRINTBOARD_TASK TEXT` to tell the board what you found.\n"
    )


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
    parts = [_primer(state, config, agent.name), _task_page(state, task_id)]
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
