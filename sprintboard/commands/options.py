"""Options many commands share, defined once so their flags and help read the same everywhere."""

from __future__ import annotations

import typer

__all__ = ["FENCE", "FENCE_OPTIONAL", "HOST", "JSON", "MESSAGE", "TIMEOUT", "WORKSPACE"]

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
FENCE = typer.Option(
    ...,
    "--fence",
    envvar="SPRINTBOARD_FENCE",
    show_envvar=True,
    help="The lease's fencing token (claim printed it).",
)
FENCE_OPTIONAL = typer.Option(
    None,
    "--fence",
    envvar="SPRINTBOARD_FENCE",
    show_envvar=True,
    help="The lease's fencing token: needed off the owner host or for an unlisted agent.",
)
MESSAGE = typer.Option(None, "--message", help="A progress note to leave on the task with it.")
