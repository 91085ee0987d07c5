"""Open doors: `sprintboard mcp` (an MCP server) and `sprintboard serve` (the live web board)."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def mcp(
    workspace: Path | None = typer.Option(None, "--workspace", "-w", help="Workspace directory."),
) -> None:
    """Serve the board over MCP on stdin/stdout (tools: list_tasks, next_task, claim, ...)."""
    from sprintboard.mcp_server import serve_stdio

    serve_stdio(workspace)


def register(root: typer.Typer) -> None:
    """Add the door commands to the root app."""
    root.command("mcp")(mcp)
