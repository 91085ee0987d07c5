"""`sprintboard a2a ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="a2a commands.", no_args_is_help=True)
