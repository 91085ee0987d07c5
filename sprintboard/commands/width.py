"""How wide commands lay text out: help screens and tables fit the terminal, and a pipe or a
file gets a sensible width instead of rich's 80 columns (which wrap a table word by word)."""

from __future__ import annotations

import os
import sys

__all__ = ["NOT_A_TTY_WIDTH", "text_width"]

NOT_A_TTY_WIDTH = 120
"""Columns for help and tables written to a pipe or a file."""


def text_width() -> int | None:
    """Columns to lay text out in: `$COLUMNS` when set, None on a terminal (rich asks it
    for its width), else `NOT_A_TTY_WIDTH`."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return None
    return NOT_A_TTY_WIDTH
