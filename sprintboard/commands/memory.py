"""Memory commands: `sprintboard standup` (and the sprint log) and `sprintboard report`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sprintboard.commands import options
from sprintboard.commands.output import print_json

if TYPE_CHECKING:
    from sprintboard.llm import ChatBackend

__all__ = ["register"]


def _backend(root: Path) -> ChatBackend:
    """The LLM backend from `[llm]` of sprintboard.toml (the front door builds it, memory/ only uses it)."""
    from sprintboard.agents.llm import OpenAIBackend
    from sprintboard.config import load_config

    return OpenAIBackend.from_config(load_config(root).llm)


def standup(
    day: str | None = typer.Option(
        None,
        "--date",
        help="Day as YYYY-MM-DD (default: today, UTC); a past day uses the journal as it stood then.",
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Count events after this journal seq or ISO time as new (default: the last standup).",
    ),
    llm: bool = typer.Option(
        False,
        "--llm",
        help="Add a short prose summary through the [llm] endpoint (facts are written either way).",
    ),
    stalled_days: int = typer.Option(
        3, "--stalled-days", min=1, help="Days without an event that make a task stalled."
    ),
    workspace: Path | None = options.WORKSPACE,
    host: str | None = options.HOST,
    json: bool = options.JSON,
) -> None:
    """Append today's standup to memory/YYYY-MM-DD.md and bring sprints/SPRINT_LOG.md up to date."""
    from sprintboard.board.collector import collector_paused
    from sprintboard.memory.sprint_log import update_sprint_log
    from sprintboard.memory.standup import write_standup
    from sprintboard.workspace import open_board

    try:
        on = date.fromisoformat(day) if day else None
    except ValueError:
        raise typer.BadParameter(
            f"{day!r}: write the day as YYYY-MM-DD", param_hint="--date"
        ) from None
    board = open_board(workspace, host=host)
    backend = _backend(board.root) if llm else None
    # the standup and the log fold the whole journal again: see board/collector.py
    with collector_paused():
        try:
            result = write_standup(
                board, day=on, since=since, llm=backend, stalled_days=stalled_days
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--date/--since") from None
        log = update_sprint_log(board.root, board.events())
    if json:
        print_json(
            {"standup": result.model_dump(mode="json"), "sprint_log": log.model_dump(mode="json")}
        )
        return
    if result.appended:
        typer.echo(
            f"standup for {result.day} (journal seq {result.since}..{result.seq}) appended to {result.path}"
        )
    else:
        typer.echo(f"{result.path} already has the standup through seq {result.seq}; nothing added")
    if result.llm_error:
        typer.echo(f"no summary: {result.llm_error}", err=True)
    rotated = "".join(f"; previous sprint's log moved to {p}" for p in log.rotated)
    typer.echo(f"{log.appended} new entries in {log.path}{rotated}")


def report(
    as_html: bool = typer.Option(False, "--html", help="Also write one self-contained HTML page."),
    out: Path | None = typer.Option(
        None, "--out", help="Directory for the files (default: memory/)."
    ),
    workspace: Path | None = options.WORKSPACE,
    host: str | None = options.HOST,
    json: bool = options.JSON,
) -> None:
    """Burndown and velocity (text + PNG), throughput per role, lead time per task."""
    from sprintboard.memory.report import write_report
    from sprintboard.workspace import open_board

    result = write_report(open_board(workspace, host=host), out, as_html=as_html)
    if json:
        print_json(result)
        return
    typer.echo(result.text, nl=False)
    typer.echo(f"\nchart: {result.png}" + (f"\npage: {result.html}" if result.html else ""))


def register(root: typer.Typer) -> None:
    """Add the memory commands to the root app."""
    root.command("standup")(standup)
    root.command("report")(report)
