"""Options many commands share, defined once so their flags and help read the same everywhere."""

from __future__ import annotations

import typer

__all__ = ["HOST", "JSON", "TIMEOUT", "WORKSPACE"]

WORKSPACE = typer.Option(
    None, "--workspace", "-w", help="Workspace directory (default: find upward from cwd)."
)
HOST = typer.Option(
    None, "--host", help="This host's name (default: $SPRINTBOARD_HOST or the board owner)."
)
JSON = typer.Option(
    False, "--json", help="Print one JSON document on stdout (stable shape, for scripts)."
)
TIMEOUT = typer.Option(
    5.0,
    "--timeout",
    help="On a host that is not the owner: seconds to wait for the owner's answer before "
    "giving up (exit 1, saying which owner, transport and wait).",
)
