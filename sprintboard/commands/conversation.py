"""The conversation on a task: `note` (progress), `ask` (a question for a person), `answer`
(a person's reply). `note` and `ask` work from any host (elsewhere than the owner, under
the host's own lease and its fence); `--fence` defaults to `$SPRINTBOARD_FENCE`."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import BaseModel, ConfigDict

from sprintboard.board.document import NoteDoc, QuestionDoc
from sprintboard.commands import options
from sprintboard.commands.output import print_json

__all__ = ["NoteWritten", "QuestionState", "register"]


class NoteWritten(BaseModel):
    """`note --json`: the note as `show --json` lists it, with its id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    note_id: str
    note: NoteDoc


class QuestionState(BaseModel):
    """`ask --json` and `answer --json`: the question as `show --json` lists it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    question_id: str
    question: QuestionDoc


AgentOpt = typer.Option(
    ...,
    "--as",
    help="The agent writing: NAME (its host from sprintboard.toml) or NAME@HOST. On the "
    "owner a configured agent needs no fence; elsewhere, or unlisted, it writes only about "
    "the task it holds, with that lease's fence.",
)


def note(
    task_id: str = typer.Argument(..., metavar="TASK"),
    text: str = typer.Argument(..., help="The note (shown in show, KANBAN.md and the standup)."),
    agent: str = AgentOpt,
    fence: int | None = options.FENCE_OPTIONAL,
    workspace: Path | None = options.WORKSPACE,
    host: str | None = options.HOST,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """Leave a progress note on TASK."""
    from sprintboard.a2a.node import open_client

    got = open_client(workspace, host, timeout=timeout).note(task_id, text, agent, fence)
    if json:
        from sprintboard.board.document import note_doc

        print_json(NoteWritten(task=task_id, note_id=got.id, note=note_doc(got)))
    else:
        typer.echo(f"{task_id}: noted")


def ask(
    task_id: str = typer.Argument(..., metavar="TASK"),
    question: str = typer.Argument(..., help="What a person should decide or tell you."),
    agent: str = AgentOpt,
    fence: int | None = options.FENCE_OPTIONAL,
    workspace: Path | None = options.WORKSPACE,
    host: str | None = options.HOST,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """Ask a person about TASK; prints the question id. The lease is kept (keep
    heartbeating): the task shows as waiting for a person until someone answers (the
    answer appears in `sprintboard show TASK`)."""
    from sprintboard.a2a.node import open_client
    from sprintboard.board.document import question_doc

    asked = open_client(workspace, host, timeout=timeout).ask(task_id, question, agent, fence)
    if json:
        print_json(QuestionState(task=task_id, question_id=asked.id, question=question_doc(asked)))
    else:
        typer.echo(asked.id)


def answer(
    task_id: str = typer.Argument(..., metavar="TASK"),
    text: str = typer.Argument(..., help="The answer."),
    question: str | None = typer.Option(
        None, "--question", "-q", help="The question id (default: the task's oldest open one)."
    ),
    actor: str = typer.Option(
        "human:cli", "--as", help="Who answers: human:NAME (only people answer)."
    ),
    workspace: Path | None = options.WORKSPACE,
    host: str | None = options.HOST,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """Answer a question an agent asked about TASK (its runner wakes up to it)."""
    from sprintboard.a2a.node import open_client
    from sprintboard.board.document import question_doc

    got = open_client(workspace, host, timeout=timeout).answer(task_id, text, actor, question)
    if json:
        print_json(QuestionState(task=task_id, question_id=got.id, question=question_doc(got)))
    else:
        typer.echo(f"{task_id}: answered {got.id}")


def register(root: typer.Typer) -> None:
    """Add the conversation commands to the root app."""
    for fn in (note, ask, answer):
        root.command(fn.__name__)(fn)
