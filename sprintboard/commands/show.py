"""Reading commands for outside agents: `show` (the whole task) and `prime` (the primer for
an agent's AGENTS.md / CLAUDE.md). Both work from any host: elsewhere than the owner, the
owner answers within `--timeout`."""

from __future__ import annotations

from pathlib import Path

import typer

from sprintboard.commands import options
from sprintboard.commands.output import print_json

__all__ = ["register"]


def show(
    task_id: str = typer.Argument(..., metavar="TASK", help="Task id, e.g. T004."),
    workspace: Path | None = options.WORKSPACE,
    host: str | None = options.HOST,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """Everything about TASK: description, criteria with the Auditor's last results,
    dependencies and their artifacts, lease, notes, questions and answers, decisions.

    On a host that is not the owner, when the owner does not answer, the task is shown from
    the last snapshot it sent (saying how old) and the exit code is 1."""
    from sprintboard.a2a.node import open_client
    from sprintboard.board.document import render_task_page, task_document
    from sprintboard.errors import OwnerUnreachable

    board = open_client(workspace, host, timeout=timeout)
    stale: str | None = None
    try:
        doc = board.task(task_id)
    except OwnerUnreachable as exc:
        from sprintboard.a2a.remote import RemoteBoard

        cached = board.cached_snapshot() if isinstance(board, RemoteBoard) else None
        if cached is None:
            raise
        doc = task_document(cached.state, task_id)
        stale = (
            f"error: {exc}. Shown: the owner's last snapshot, received {cached.received} "
            f"({cached.age:.0f}s ago, seq {cached.state.seq})."
        )
    if json:
        print_json(doc)
    else:
        typer.echo(render_task_page(doc), nl=False)
    if stale is not None:
        typer.echo(stale, err=True)
        raise typer.Exit(1)


def prime(
    agent: str | None = typer.Option(
        None, "--agent", "-a", help="The agent to write it for (its role, host and caps)."
    ),
    workspace: Path | None = options.WORKSPACE,
    host: str | None = options.HOST,
    timeout: float = options.TIMEOUT,
) -> None:
    """Print the primer an outside coding agent needs (for its AGENTS.md or CLAUDE.md): the
    protocol, the exact commands and MCP tools, the sprint goal, the agent's role and caps."""
    from sprintboard.a2a.node import open_client
    from sprintboard.board.primer import primer
    from sprintboard.config import load_config

    board = open_client(workspace, host, timeout=timeout)
    typer.echo(primer(board.snapshot(), load_config(board.root), agent), nl=False)


def register(root: typer.Typer) -> None:
    """Add the reading commands to the root app."""
    root.command("show")(show)
    root.command("prime")(prime)
