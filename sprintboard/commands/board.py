"""`sprintboard board ...` (KANBAN.md render/sync/check) and `sprintboard watch`."""

from __future__ import annotations

import typer

app = typer.Typer(help="KANBAN.md: render, sync, check.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Add the top-level commands of this room (`watch`) to the root app."""
