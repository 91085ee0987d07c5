"""Run folders: every attempt of a task writes under `runs/<task>/<attempt>/` (contract 8).

Planned configs and checks say `{run:T004}`, or `{run}` for the task's own run (a
worker's outputs: `check: file_exists {run}/report.md`); the attempt is known only when the
task runs, so the Builder and the Auditor resolve the placeholder against the board: a
task's own run is its current attempt (the one being built or audited), another task's run
is the attempt that was accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sprintboard.board.state import BoardState
from sprintboard.errors import BoardError

__all__ = ["absolute_paths", "resolve_runs", "run_dir", "run_refs", "run_relpath"]

_RUN = re.compile(r"\{run:([A-Za-z0-9_.\-]+)\}")
_OWN_RUN = "{run}"


def run_refs(text: str) -> list[str]:
    """Task ids named by `{run:ID}` placeholders in `text`."""
    return _RUN.findall(text)


def run_relpath(task: str, attempt: int) -> str:
    """`runs/<task>/<attempt>` as a workspace-relative POSIX path."""
    return f"runs/{task}/{attempt}"


def run_dir(root: Path, task: str, attempt: int) -> Path:
    """The folder attempt `attempt` of `task` writes into."""
    return Path(root) / run_relpath(task, attempt)


def resolve_runs(
    value: Any,
    state: BoardState,
    own: Mapping[str, int] | None = None,
    *,
    task: str | None = None,
) -> Any:
    """Replace `{run:ID}` in strings (recursively) by `runs/ID/<attempt>`, and `{run}` by
    `task`'s own run.

    `own` pins attempts (the running task's); other tasks use their current attempt.

    Raises:
        BoardError: a placeholder names a task the board does not know, or one never run;
            `{run}` where no task is given.
    """
    pinned = dict(own or {})

    def attempt_of(task_id: str) -> int:
        if task_id in pinned:
            return pinned[task_id]
        task = state.tasks.get(task_id)
        if task is None or task.attempt < 1:
            why = "is unknown" if task is None else "has not run yet"
            raise BoardError(f"{{run:{task_id}}}: task {task_id} {why}; check the step config")
        return task.attempt

    def sub(text: str) -> str:
        if _OWN_RUN in text:
            if task is None:
                raise BoardError(f"{_OWN_RUN} names a task's own run; say {{run:ID}} here")
            text = text.replace(_OWN_RUN, run_relpath(task, attempt_of(task)))
        return _RUN.sub(lambda m: run_relpath(m.group(1), attempt_of(m.group(1))), text)

    if isinstance(value, str):
        return sub(value)
    if isinstance(value, list):
        return [resolve_runs(v, state, pinned, task=task) for v in value]
    if isinstance(value, dict):
        return {k: resolve_runs(v, state, pinned, task=task) for k, v in value.items()}
    return value


def absolute_paths(model: BaseModel, root: Path) -> BaseModel:
    """The same config with every relative `Path` field made absolute against `root`.

    Tools resolve paths against the process's cwd; agents run with any cwd, and several
    builders share one process, so chdir is not an option.
    """

    def fix(value: Any) -> Any:
        if isinstance(value, Path):
            return value if value.is_absolute() else Path(root) / value
        if isinstance(value, BaseModel):
            return absolute_paths(value, root)
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, tuple):
            return tuple(fix(v) for v in value)
        return value

    updates = {name: fix(getattr(model, name)) for name in type(model).model_fields}
    return model.model_copy(update=updates)
