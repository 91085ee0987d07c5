"""How commands print: `--json` emits one stable JSON document on stdout, else rich text."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["console", "print_json"]


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


def console() -> Console:
    """A rich console for people's text on stdout: styled on a terminal, plain in a pipe,
    and plain under `NO_COLOR` (https://no-color.org) even on a terminal: rich by itself
    drops only the colours there and keeps bold."""
    # rich loads only when a command prints for people (start-up time of the JSON paths)
    from rich.console import Console

    plain = os.environ.get("NO_COLOR", "") != ""
    return Console(highlight=False, color_system=None if plain else "auto")
