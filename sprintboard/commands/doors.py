"""Open doors: `sprintboard mcp` (an MCP server) and `sprintboard serve` (the live web board)."""

from __future__ import annotations

from pathlib import Path

import typer

from sprintboard.commands import options

__all__ = ["register"]


def mcp(
    workspace: Path | None = typer.Option(None, "--workspace", "-w", help="Workspace directory."),
    host: str | None = options.HOST,
    timeout: float = options.TIMEOUT,
) -> None:
    """Serve the board over MCP on stdin/stdout (tools: list_tasks, next_task, claim, ...);
    on a host that is not the owner, every tool call is answered by the owner."""
    from sprintboard.doors.mcp import serve_stdio

    serve_stdio(workspace, host, timeout=timeout)


def serve(
    workspace: Path | None = typer.Option(None, "--workspace", "-w", help="Workspace directory."),
    port: int = typer.Option(8765, help="Port on 127.0.0.1."),
) -> None:
    """Serve the live web board on http://127.0.0.1:PORT (updates as the journal changes).
    Exit 1 when the port is taken."""
    from sprintboard.doors.web.app import serve as run_server
    from sprintboard.workspace import open_board

    def ready(url: str) -> None:
        typer.echo(f"sprintboard web board on {url}", err=True)

    run_server(open_board(workspace), port=port, ready=ready)


def register(root: typer.Typer) -> None:
    """Add the door commands to the root app."""
    root.command("mcp")(mcp)
    root.command("serve")(serve)
