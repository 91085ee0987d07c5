"""The sprint's training runs as the report shows them: each task with a `train` or `eval`
step, the metrics its steps recorded on the board and the files they produced.

The Builder records a step's report `metrics` on its task (`metric.set` via `submit`:
`train_loss`, `val_loss`, `tokens_per_sec`, ... for `train`; `test_loss`, `test_ppl` for
`eval`) and the run folder's files as artifacts; this reads them back from the state, so
the report needs no access to the run folders.
"""

from __future__ import annotations

from pydantic import BaseModel

from sprintboard.board.criteria import parse_check
from sprintboard.board.models import Task
from sprintboard.board.state import BoardState

__all__ = ["MetricCheck", "TrainingArtifact", "TrainingRun", "TRAINING_TOOLS", "training_runs"]

TRAINING_TOOLS = ("train", "eval")
"""The MLX steps whose tasks the report lists as training runs."""


class _Row(BaseModel, frozen=True, extra="forbid"):
    pass


class TrainingArtifact(_Row):
    """A file a training task produced (contract 8)."""

    path: str
    size: int
    sha256: str


class MetricCheck(_Row):
    """An acceptance criterion of a training task that checks a metric (`metric val_loss < 2`)."""

    text: str
    check: str
    done: bool
    result: str | None


class TrainingRun(_Row):
    """One training or evaluation task of the sprint."""

    task: str
    title: str
    status: str
    tools: list[str]
    """Its training steps, in order (`train`, `eval`)."""
    metrics: dict[str, float]
    checks: list[MetricCheck]
    artifacts: list[TrainingArtifact]


def _is_metric_check(check: str | None) -> bool:
    if not check:
        return False
    try:
        return parse_check(check).kind == "metric"
    except ValueError:  # an unparsable check is the auditor's to report, not the report's
        return False


def _run(task: Task) -> TrainingRun:
    return TrainingRun(
        task=task.id,
        title=task.title,
        status=task.status,
        tools=[s.tool for s in task.steps if s.tool in TRAINING_TOOLS],
        metrics=dict(sorted(task.metrics.items())),
        checks=[
            MetricCheck(text=c.text, check=c.check, done=c.done, result=c.result)
            for c in task.criteria
            if c.check is not None and _is_metric_check(c.check)
        ],
        artifacts=[
            TrainingArtifact(path=a.path, size=a.size, sha256=a.sha256) for a in task.artifacts
        ],
    )


def training_runs(state: BoardState) -> list[TrainingRun]:
    """Every task with a `train` or `eval` step, in task id order."""
    return [
        _run(task)
        for task in sorted(state.tasks.values(), key=lambda t: t.id)
        if any(s.tool in TRAINING_TOOLS for s in task.steps)
    ]
