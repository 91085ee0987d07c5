"""How commands print: `--json` emits one stable JSON document on stdout, else rich text."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel

__all__ = ["NOT_A_TTY_WIDTH", "print_json", "text_width"]

NOT_A_TTY_WIDTH = 120
"""Columns for help and tables written to a pipe or a file (rich assumes 80 and wraps)."""


def text_width() -> int | None:
    """Columns to lay text out in: `$COLUMNS` when set, None on a terminal (rich asks it
    for its width), else `NOT_A_TTY_WIDTH`."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return None
    return NOT_A_TTY_WIDTH


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    return value


def print_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    """Write `value` as indented JSON plus a newline to stdout."""
    sys.stdout.buffer.write(orjson.dumps(_plain(value), option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()
