"""Acceptance criteria text and the `check:` grammar (DESIGN.md contract 6).

`- [ ] Split written `check: file_exists data/train.jsonl`` -> Criterion(text, check).
KIND is `file_exists PATH`, `audit_clean PATH`, `metric [TASK.]NAME OP NUMBER` or
`command ARGV`; running the checks is the Auditor's job.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Literal

from sprintboard.board.models import Criterion
from sprintboard.errors import InvalidValue

__all__ = ["CHECK_KINDS", "Check", "parse_check", "parse_criterion", "render_criterion"]

CheckKind = Literal["file_exists", "audit_clean", "metric", "command"]
CHECK_KINDS: tuple[str, ...] = ("file_exists", "audit_clean", "metric", "command")

_CHECK_SPAN = re.compile(r"\s*`check:\s*([^`]*)`\s*$")
_METRIC = re.compile(
    r"^(?:(?P<task>[A-Za-z][\w-]*)\.)?(?P<name>[\w/-]+)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<num>[-+0-9.eE]+)$"
)


@dataclass(frozen=True, slots=True)
class Check:
    """A parsed machine check."""

    kind: CheckKind
    path: str | None = None
    task: str | None = None
    metric: str | None = None
    op: str | None = None
    number: float | None = None
    argv: tuple[str, ...] = ()


def parse_check(text: str) -> Check:
    """Parse `KIND ARGS` (without the `check:` prefix).

    Raises:
        InvalidValue: unknown kind or malformed arguments (the message shows the grammar);
            it is a `ValueError` too.
    """
    try:
        return _parse_check(text)
    except ValueError as exc:
        raise InvalidValue("check", text, str(exc)) from None


def _parse_check(text: str) -> Check:
    kind, _, rest = text.strip().partition(" ")
    rest = rest.strip()
    if kind in ("file_exists", "audit_clean"):
        if not rest:
            raise ValueError(f"`check: {kind} PATH` needs a path")
        return Check(kind=kind, path=rest)  # type: ignore[arg-type]
    if kind == "metric":
        m = _METRIC.match(rest)
        if not m:
            raise ValueError(
                f"`check: metric {rest}`: write `metric [TASK.]NAME OP NUMBER`, e.g. `metric val_loss < 2.5`"
            )
        return Check(
            kind="metric", task=m["task"], metric=m["name"], op=m["op"], number=float(m["num"])
        )
    if kind == "command":
        argv = tuple(shlex.split(rest))
        if not argv:
            raise ValueError("`check: command ARGV` needs a command")
        return Check(kind="command", argv=argv)
    raise ValueError(f"unknown check kind {kind!r}; one of: {', '.join(CHECK_KINDS)}")


def parse_criterion(text: str, done: bool = False) -> Criterion:
    """Split a criterion line into its text and optional trailing `check:` span.

    Whitespace is made canonical (one line, single spaces), as KANBAN.md shows it.

    Raises:
        InvalidValue: the check span does not parse, or the text holds a control character.
    """
    # cycle: board.values checks criteria with this module
    from sprintboard.board.values import one_line

    text = one_line(text, "criterion", empty=True)
    m = _CHECK_SPAN.search(text)
    if not m:
        return Criterion(text=text, done=done)
    check = m.group(1).strip()
    parse_check(check)
    return Criterion(text=text[: m.start()].strip(), done=done, check=check)


def render_criterion(c: Criterion) -> str:
    """The criterion text with its check span, as written in markdown."""
    return f"{c.text} `check: {c.check}`" if c.check else c.text
