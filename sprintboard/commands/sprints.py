"""Sprint commands: `import`, `export`, `graph`, `next`.

Board and graph modules are imported inside the commands so `sprintboard --help` and the
other commands do not pay for them.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from sprintboard.commands import options
from sprintboard.commands.output import print_json
from sprintboard.commands.quick import next_document

if TYPE_CHECKING:
    from sprintboard.a2a.remote import RemoteBoard
    from sprintboard.board.scheduling import NextUp
    from sprintboard.board.state import BoardState

__all__ = ["register"]


def _read_only_process() -> None:
    """Turn the cyclic collector off for the rest of this short process.

    `graph`, `next` and `export` load the board, print and exit; everything they build is
    acyclic (freed by reference counting), and the collector's passes over a 10k-task
    state cost more than the command itself.
    """
    gc.disable()


def _board(workspace: Path | None) -> Any:
    from sprintboard.workspace import open_board

    return open_board(workspace)


def import_(
    file: Path = typer.Argument(..., help="A sprint BACKLOG.md or a SPRINT_QUEUE.json."),
    workspace: Path | None = options.WORKSPACE,
    json: bool = options.JSON,
) -> None:
    """Import a sprint backlog (.md) or queue (.json) into the board, all or nothing."""
    from sprintboard.sprints.importer import import_file

    report = import_file(_board(workspace), file)
    if json:
        print_json(report)
        return
    typer.echo(
        f"imported {len(report.created)} task(s) from {file} ({report.kind})"
        + (f", {len(report.skipped)} already on the board" if report.skipped else "")
        + (f", {len(report.leases)} lease(s) re-granted" if report.leases else "")
    )
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)


def export(
    fmt: str = typer.Option("queue", "--format", "-f", help="backlog (markdown) or queue (JSON)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
    workspace: Path | None = options.WORKSPACE,
) -> None:
    """Export the board as a sprint backlog or a SPRINT_QUEUE.json (the example's shape)."""
    from sprintboard.sprints.importer import export_text

    _read_only_process()
    if fmt not in ("backlog", "queue"):
        raise typer.BadParameter(f"{fmt!r}: use backlog or queue", param_hint="--format")
    text = export_text(_board(workspace).snapshot(), fmt)  # type: ignore[arg-type]
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


def graph(workspace: Path | None = options.WORKSPACE, json: bool = options.JSON) -> None:
    """The dependency graph: critical path, phases, cycles, slack."""
    from sprintboard.sprints.graph import analyze, format_path

    _read_only_process()
    result = analyze(_board(workspace).snapshot().tasks.values())
    if json:
        print_json(
            {
                "critical_path": result.critical_path,
                "length_min": result.length_min,
                "length_max": result.length_max,
                "phases": result.phases,
                "cycles": result.cycles,
                "slack": result.slack,
                "warnings": result.warnings,
            }
        )
        return
    typer.echo(
        f"critical path: {format_path(result.critical_path) or '(none)'} "
        f"({result.length_min}-{result.length_max} min)"
    )
    for n, phase in enumerate(result.phases, start=1):
        typer.echo(f"phase {n}: {' + '.join(phase)}")
    for cycle in result.cycles:
        typer.echo(f"cycle: {format_path(cycle)}")
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)


def next_(
    role: str | None = typer.Option(
        None, "--role", help="Only tasks for this role (default: builder, unless --agent)."
    ),
    caps: list[str] = typer.Option(
        [], "--caps", help="Capabilities the agent has (repeatable or comma-separated)."
    ),
    agent: str | None = typer.Option(
        None,
        "--agent",
        help="Rank for this agent: its role, host, capabilities and WIP room from "
        "sprintboard.toml (what `claim-next --agent` would take first).",
    ),
    limit: int = typer.Option(5, "--limit", "-n", help="How many to list."),
    host: str | None = options.HOST,
    workspace: Path | None = options.WORKSPACE,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """What to take next: ready tasks by priority, then least slack (critical path first).
    Works on any host: elsewhere than the owner, the owner answers (within --timeout); when
    it does not, the ranking of the last snapshot it sent is shown (with its age) and the
    exit code is 1."""
    from sprintboard.a2a.node import open_client
    from sprintboard.a2a.remote import RemoteBoard
    from sprintboard.errors import OwnerUnreachable
    from sprintboard.status import StaleRow

    _read_only_process()
    board = open_client(workspace, None, timeout=timeout)  # --host is the agent's host
    cap_list = [c.strip() for item in caps for c in item.split(",") if c.strip()]
    stale: StaleRow | None = None
    try:
        got = board.next_up(agent, role, cap_list or None, host=host, limit=limit)
    except OwnerUnreachable as exc:
        if not isinstance(board, RemoteBoard) or (cached := board.cached_snapshot()) is None:
            raise
        stale = StaleRow(received=cached.received, age_s=round(cached.age, 1), reason=str(exc))
        got = _next_from(board, cached.state, agent, role, cap_list or None, host, limit)
    if json:
        doc = next_document(got)  # the quick path prints the same (commands/quick.py)
        if stale is not None:  # only when the answer is the owner's last snapshot's
            doc["stale"] = stale.model_dump(mode="json")
        print_json(doc)
    else:
        if got.why is not None:
            typer.echo(f"nothing to take: {got.why.reason}")
        for t in got.tasks:
            typer.echo(f"{t.id}  P{t.priority}  {t.title}")
    if stale is not None:
        typer.echo(
            f"error: {stale.reason}. Shown: ranked from the owner's last snapshot, received "
            f"{stale.received} ({stale.age_s:g}s ago); it may have changed since.",
            err=True,
        )
        raise typer.Exit(1)


def _next_from(
    board: RemoteBoard,
    state: BoardState,
    agent: str | None,
    role: str | None,
    caps: list[str] | None,
    host: str | None,
    limit: int,
) -> NextUp:
    """`next_up` as the owner ranks it, over a snapshot this host kept: the owner's
    sprintboard.toml (roles, hosts, WIP) is this folder's too (`join` copies it)."""
    from sprintboard.board.scheduling import next_up
    from sprintboard.config import load_config
    from sprintboard.workspace import policy_from_config

    policy = policy_from_config(load_config(board.root))
    where = None if agent is None else policy.host_for(agent, host, board.host)
    return next_up(state, policy, agent=agent, role=role, caps=caps, host=where, limit=limit)


def register(root: typer.Typer) -> None:
    """Add the sprint commands to the root app."""
    root.command("import")(import_)
    root.command("export")(export)
    root.command("graph")(graph)
    root.command("next")(next_)
