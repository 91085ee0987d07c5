"""Core board commands: init, status, add, edit, move, claim, heartbeat, release, submit, log, validate."""

from __future__ import annotations

import typer


def register(root: typer.Typer) -> None:
    """Add the core commands to the root app."""
