"""How commands print: `--json` emits one stable JSON document on stdout, else rich text."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel

__all__ = ["print_json"]


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
