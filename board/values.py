"""What a value must look like before the board writes it (DESIGN.md contract 11).

Every door (CLI, MCP, web, A2A, import, KANBAN.md) ends in `LocalBoard`'s write path,
which runs `check_draft` on each event before the reducer folds it, so a value refused
here is never in the journal. The doors call the same rules earlier (`task_id`, `name`,
`one_line`, `finite`, ...) to normalise what a person typed and to refuse the rest with
a message that names the field.

The rules exist because of what a bad value did before them: a NaN that the journal
stored as `null` and no replay could fold again, a newline in an id that forged
KANBAN.md lines, an integer past 64 bits the JSON encoder could not write, a lease
already expired when granted. Replaying an existing journal does not run these rules:
a journal written before them still loads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

from sprintboard.board.client import EventDraft
from sprintboard.board.criteria import parse_check
from sprintboard.board.models import OPS, STATUSES
from sprintboard.board.state import BoardState
from sprintboard.errors import InvalidValue

__all__ = [
    "MAX_INT",
    "MAX_TTL",
    "PRIORITIES",
    "actor",
    "check_draft",
    "check_task",
    "clean_line",
    "entry_text",
    "finite",
    "host",
    "integer",
    "metric_name",
    "metrics",
    "name",
    "one_line",
    "task_id",
    "text",
]

MAX_INT = 2**53
"""Largest integer written anywhere (exact in a JSON double; far inside orjson's 64 bits)."""
MAX_TTL = 30 * 24 * 3600
"""Longest lease, in seconds (a builder heartbeats long work anyway)."""
PRIORITIES = range(100)
"""P0 (most urgent) to P99."""

_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,255}")
_SPRINT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# Agent and owner names (rendered as `**[name]**` in KANBAN.md): letters of any script,
# digits, `_ . @ : + -`, single inner spaces.
_NAME = re.compile(r"[^\W_](?:[\w.@:+-]| (?=[\w.@:+-])){0,63}")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ACTOR = re.compile(
    r"human:[^\W_][\w.@+-]{0,63}|[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}@[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
)
_METRIC = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./:-]{0,127}")
_COMMIT = re.compile(r"[0-9A-Za-z]{1,64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TS = re.compile(r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:?\d\d)?)?")
# Control characters (C0, DEL, C1, so terminal escapes too), line and paragraph
# separators, bidirectional overrides (text that reads other than it is stored) and lone
# surrogates (not UTF-8: the journal encoder refuses them).
_FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_FORBIDDEN_IN_TEXT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)

_LINE_MAX = 1_000
_TEXT_MAX = 20_000
_DESCRIPTION_MAX = 200_000


# -- single values ------------------------------------------------------------------------


def _str(value: object, what: str, task: str | None = None) -> str:
    if not isinstance(value, str):
        raise InvalidValue(what, value, f"must be text, not {type(value).__name__}", task)
    return value


def _match(
    pattern: re.Pattern[str], value: object, what: str, rule: str, task: str | None = None
) -> str:
    text = _str(value, what, task)
    if not pattern.fullmatch(text):
        raise InvalidValue(what, value, rule, task)
    return text


def task_id(value: object, what: str = "task id", task: str | None = None) -> str:
    """A task id: `[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}` (the A2A envelope's rule).

    Raises:
        InvalidValue: anything else (empty, a path, a newline, an escape code, too long).
    """
    return _match(
        _TASK_ID,
        value,
        what,
        "use 1-128 of A-Z a-z 0-9 _ . : -, starting with a letter or digit",
        task,
    )


def name(value: object, what: str = "name", task: str | None = None) -> str:
    """An agent or owner name: letters, digits, `_ . @ : + -` and single inner spaces.

    Raises:
        InvalidValue: empty, longer than 64 characters, or holding anything else.
    """
    return _match(
        _NAME,
        value,
        what,
        "use 1-64 letters, digits, _ . @ : + - or single inner spaces, starting with a "
        "letter or digit",
        task,
    )


def host(value: object, what: str = "host", task: str | None = None) -> str:
    """A host, role, capability or tool name: `[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`.

    Raises:
        InvalidValue: anything else.
    """
    return _match(_HOST, value, what, "use 1-64 of A-Z a-z 0-9 _ . -", task)


def actor(value: object, what: str = "actor") -> str:
    """Who acts: `human:NAME` or `AGENT@HOST`.

    Raises:
        InvalidValue: anything else.
    """
    return _match(_ACTOR, value, what, "write `human:NAME` or `AGENT@HOST`")


def metric_name(value: object, what: str = "metric name") -> str:
    """A metric name: `[A-Za-z0-9_][A-Za-z0-9_./:-]{0,127}` (e.g. `val_loss`, `eval/acc`).

    Raises:
        InvalidValue: anything else.
    """
    return _match(_METRIC, value, what, "use 1-128 of A-Z a-z 0-9 _ . / : -")


def _forbidden(text: str, pattern: re.Pattern[str], what: str, task: str | None) -> None:
    bad = pattern.search(text)
    if bad:
        raise InvalidValue(
            what,
            text,
            f"holds the control character U+{ord(bad.group()):04X}; write plain text",
            task,
        )


def one_line(
    value: object,
    what: str = "text",
    *,
    max_len: int = _LINE_MAX,
    empty: bool = False,
    task: str | None = None,
) -> str:
    """`value` as one line with single spaces (what a person typed, made canonical).

    Raises:
        InvalidValue: not text, a line break or control character, empty (unless `empty`),
            or longer than `max_len`.
    """
    text = _str(value, what, task)
    _forbidden(text, _FORBIDDEN, what, task)
    text = " ".join(text.split())
    if not text and not empty:
        raise InvalidValue(what, value, "must not be empty", task)
    if len(text) > max_len:
        raise InvalidValue(what, value, f"is longer than {max_len} characters", task)
    return text


def text(
    value: object,
    what: str = "text",
    *,
    max_len: int = _TEXT_MAX,
    empty: bool = True,
    task: str | None = None,
) -> str:
    """Free text that may span lines (descriptions, reasons); returned unchanged.

    Raises:
        InvalidValue: not text, a control character other than newline and tab, empty
            (unless `empty`), or longer than `max_len`.
    """
    body = _str(value, what, task)
    _forbidden(body, _FORBIDDEN_IN_TEXT, what, task)
    if not empty and not body.strip():
        raise InvalidValue(what, value, "must not be empty", task)
    if len(body) > max_len:
        raise InvalidValue(what, value, f"is longer than {max_len} characters", task)
    return body


def entry_text(value: object, what: str = "text") -> str:
    """A decision or note as KANBAN.md shows it: non-empty lines, each with single spaces.

    Raises:
        InvalidValue: not text, a control character, or nothing left.
    """
    body = text(value, what)
    lines = [" ".join(line.split()) for line in body.split("\n")]
    out = "\n".join(line for line in lines if line)
    if not out:
        raise InvalidValue(what, value, "must not be empty")
    return out


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 256 else "\ufffd"


def clean_line(value: str, max_len: int = _LINE_MAX) -> str:
    """`value` made safe to write, never refused: for text a program produced (a command's
    output, an exception, a peer's message) that the board records as a reason."""
    out = _FORBIDDEN.sub(_escape, " ".join(value.split()))
    return out if len(out) <= max_len else out[: max_len - 1] + "…"


def finite(
    value: object, what: str = "number", task: str | None = None, *, strict: bool = False
) -> float:
    """A finite number (not NaN, not infinite, not a bool) as a float.

    Raises:
        InvalidValue: anything else; text is parsed first (`"0.5"` is 0.5) unless `strict`.
    """
    number: float
    if isinstance(value, bool) or (strict and not isinstance(value, int | float)):
        raise InvalidValue(what, value, "must be a number", task)
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise InvalidValue(what, value, f"must be at most {MAX_INT:.3g} in size", task)
        number = float(value)
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise InvalidValue(what, value, "must be a number", task) from None
    else:
        raise InvalidValue(what, value, "must be a number", task)
    if not math.isfinite(number):
        raise InvalidValue(what, value, "must be a finite number (not NaN or infinite)", task)
    return number


def integer(
    value: object,
    what: str,
    lo: int = 0,
    hi: int = MAX_INT,
    task: str | None = None,
    *,
    strict: bool = False,
) -> int:
    """A whole number in `lo..hi` (not a bool; `"3"` is not; `3.0` is 3 unless `strict`,
    which the write path uses: the journal keeps the value exactly as given).

    Raises:
        InvalidValue: anything else.
    """
    if not strict and isinstance(value, float) and value.is_integer() and math.isfinite(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(what, value, "must be a whole number", task)
    if not lo <= value <= hi:
        raise InvalidValue(what, value, f"must be between {lo} and {hi}", task)
    return value


def metrics(values: Mapping[Any, Any], task: str | None = None) -> dict[str, float]:
    """Metric names and finite values.

    Raises:
        InvalidValue: a bad name or a value that is not a finite number.
    """
    return {metric_name(k): finite(v, f"metric {str(k)[:40]!r}", task) for k, v in values.items()}


# -- compound values ----------------------------------------------------------------------

_Check = Callable[[Any, str, str | None], object]
"""A rule for one field: (value, field name, task id for the message); raises InvalidValue."""


def _json_safe(value: object, what: str, task: str | None, depth: int = 0) -> None:
    """Plain JSON the journal can write and read back: finite numbers, 64-bit ints."""
    if depth > 32:
        raise InvalidValue(what, "...", "is nested more than 32 levels deep", task)
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _forbidden(value, _SURROGATE, what, task)
    elif isinstance(value, int):
        integer(value, what, -MAX_INT, MAX_INT, task, strict=True)
    elif isinstance(value, float):
        finite(value, what, task, strict=True)
    elif isinstance(value, list | tuple):
        for item in value:
            _json_safe(item, what, task, depth + 1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidValue(what, key, "keys must be text", task)
            _forbidden(key, _SURROGATE, what, task)
            _json_safe(item, f"{what}.{key[:40]}", task, depth + 1)
    else:
        raise InvalidValue(what, value, f"{type(value).__name__} is not JSON", task)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _plain(value: object) -> object:
    """A dataclass (Criterion, Step, ...) as its dict; anything else as it is."""
    if type(value) is dict:  # most values: skips `is_dataclass`, a cost on every field
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def _dict(value: object, what: str, keys: frozenset[str], task: str | None) -> dict[str, Any]:
    value = _plain(value)
    if not isinstance(value, Mapping):
        raise InvalidValue(what, value, "must be an object", task)
    unknown = sorted(set(value) - keys)
    if unknown:
        raise InvalidValue(what, unknown, f"unknown keys; allowed: {', '.join(sorted(keys))}", task)
    return dict(value)


def _list(value: object, what: str, task: str | None, limit: int = 10_000) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise InvalidValue(what, value, "must be a list", task)
    if len(value) > limit:
        raise InvalidValue(what, f"{len(value)} items", f"has more than {limit} items", task)
    return list(value)


def _line_field(max_len: int = _LINE_MAX, empty: bool = False) -> _Check:
    """A rendered one-line field: must already be canonical (doors call `one_line`)."""

    def check(value: Any, what: str, task: str | None) -> None:
        if one_line(value, what, max_len=max_len, empty=empty, task=task) != value:
            raise InvalidValue(
                what, value, "must be one line without outer or repeated spaces", task
            )

    return check


def _text_field(max_len: int = _TEXT_MAX, line: bool = False) -> _Check:
    def check(value: Any, what: str, task: str | None) -> None:
        body = text(value, what, max_len=max_len, task=task)
        if line and "\n" in body:
            raise InvalidValue(what, value, "must be one line", task)

    return check


def _optional(
    check: _Check,
) -> _Check:
    def optional(value: Any, what: str, task: str | None) -> None:
        if value is not None:
            check(value, what, task)

    return optional


def _pattern(pattern: re.Pattern[str], rule: str) -> _Check:
    def check(value: Any, what: str, task: str | None) -> None:
        _match(pattern, value, what, rule, task)

    return check


def _each(check: _Check) -> _Check:
    def each(value: Any, what: str, task: str | None) -> None:
        for i, item in enumerate(_list(value, what, task)):
            check(item, f"{what}[{i}]", task)

    return each


def _check_bool(value: Any, what: str, task: str | None) -> None:
    if not isinstance(value, bool):
        raise InvalidValue(what, value, "must be true or false", task)


def _ints(lo: int, hi: int) -> _Check:
    def check(value: Any, what: str, task: str | None) -> None:
        integer(value, what, lo, hi, task, strict=True)

    return check


def _check_status(value: Any, what: str, task: str | None) -> None:
    if value not in STATUSES:
        raise InvalidValue(what, value, f"is not a status; one of {', '.join(STATUSES)}", task)


def _check_json(value: Any, what: str, task: str | None) -> None:
    _json_safe(value, what, task)


def _check_check(value: Any, what: str, task: str | None) -> None:
    _line_field()(value, what, task)
    try:
        parse_check(value)
    except ValueError as exc:
        raise InvalidValue(what, value, str(exc), task) from None


def _check_criterion(value: Any, what: str, task: str | None) -> None:
    data = _dict(value, what, frozenset({"text", "done", "check", "result"}), task)
    _line_field(empty=True)(data.get("text", ""), f"{what}.text", task)
    _check_bool(data.get("done", False), f"{what}.done", task)
    _optional(_check_check)(data.get("check"), f"{what}.check", task)
    _optional(_text_field())(data.get("result"), f"{what}.result", task)


def _check_estimate(value: Any, what: str, task: str | None) -> None:
    data = _dict(value, what, frozenset({"low", "high"}), task)
    low = integer(data.get("low"), f"{what}.low", 0, 10**7, task, strict=True)
    high = integer(data.get("high"), f"{what}.high", 0, 10**7, task, strict=True)
    if low > high:
        raise InvalidValue(what, f"{low}-{high}", "low must not exceed high", task)


def _check_step(value: Any, what: str, task: str | None) -> None:
    data = _dict(value, what, frozenset({"tool", "config"}), task)
    host(data.get("tool"), f"{what}.tool", task)
    config = data.get("config", {})
    if not isinstance(config, Mapping):
        raise InvalidValue(f"{what}.config", config, "must be an object", task)
    _json_safe(config, f"{what}.config", task)


def _check_artifact(value: Any, what: str, task: str | None) -> None:
    data = _dict(value, what, frozenset({"path", "sha256", "size"}), task)
    _text_field(max_len=4096, line=True)(data.get("path"), f"{what}.path", task)
    _match(_SHA256, data.get("sha256"), f"{what}.sha256", "must be 64 lowercase hex digits", task)
    integer(data.get("size"), f"{what}.size", 0, MAX_INT, task, strict=True)


def _check_ts(value: Any, what: str, task: str | None) -> None:
    _match(_TS, value, what, "must be an ISO 8601 time, e.g. 2025-10-05T09:12:00Z", task)


def _check_lease(value: Any, what: str, task: str | None) -> None:
    keys = frozenset({"agent", "host", "fence", "acquired", "ttl", "expires", "last_heartbeat"})
    data = _dict(value, what, keys, task)
    name(data.get("agent"), f"{what}.agent", task)
    host(data.get("host"), f"{what}.host", task)
    integer(data.get("fence"), f"{what}.fence", 1, MAX_INT, task, strict=True)
    integer(data.get("ttl"), f"{what}.ttl", 1, MAX_TTL, task, strict=True)
    for key in ("acquired", "expires", "last_heartbeat"):
        _check_ts(data.get(key), f"{what}.{key}", task)


def _check_metrics(value: Any, what: str, task: str | None) -> None:
    if not isinstance(value, Mapping):
        raise InvalidValue(what, value, "must be an object", task)
    for key, number in value.items():
        metric_name(key, f"{what} name")
        finite(number, f"{what}.{str(key)[:40]}", task, strict=True)


_TASK_RULES: dict[str, _Check] = {
    "id": task_id,
    "title": _line_field(max_len=500),
    "status": _check_status,
    "priority": _ints(PRIORITIES.start, PRIORITIES.stop - 1),
    "type": _text_field(max_len=100, line=True),
    "complexity": _optional(_text_field(max_len=100, line=True)),
    "dependencies": _each(task_id),
    "description": _text_field(max_len=_DESCRIPTION_MAX),
    "criteria": _each(_check_criterion),
    "estimate": _optional(_check_estimate),
    "role": host,
    "caps": _each(host),
    "steps": _each(_check_step),
    "agent": _optional(name),
    "host": _optional(host),
    "lease": _optional(_check_lease),
    "artifacts": _each(_check_artifact),
    "metrics": _check_metrics,
    "blocked_reason": _optional(_text_field()),
    "parent": _optional(task_id),
    "exit_gates": _each(_text_field(line=True)),
    "commits": _each(_pattern(_COMMIT, "a commit is 1-64 letters and digits")),
    "links": _optional(_text_field(line=True)),
    "attempt": _ints(0, 10**6),
    "optional": _check_bool,
    "created": _optional(_check_ts),
    "updated": _optional(_check_ts),
    "done_at": _optional(_check_ts),
    "origin": _optional(_text_field(max_len=1000, line=True)),
    "extra": _check_json,
}
_TASK_KEYS = frozenset(_TASK_RULES)


# -- the plain case, checked fast -----------------------------------------------------------
#
# An import writes 10,000 tasks at once, and running ~30 worded rules on each was a third of
# its time. Most fields of most tasks hold a plain value (None, an empty list, a short name,
# one line of text) that a type test or one regex shows to be fine. `_PLAIN` holds, per
# field, such a test: True only for values its rule accepts (it may be stricter: a value it
# does not recognise goes to the rule, which accepts it or says what is wrong). So every value
# is still checked, and the message of a refusal is the rule's own.
# tests/board/test_values.py checks each test against its rule.

_F = _FORBIDDEN.pattern[1:-1]  # the forbidden characters, as a character class body
_CANONICAL_LINE = re.compile(rf"[^\s{_F}]+(?: [^\s{_F}]+)*")
"""Non-empty, one line, single inner spaces, no control character: what `one_line` keeps."""


def _is_line(max_len: int) -> Callable[[Any], bool]:
    """A canonical one-line text (a `_line_field` that must not be empty)."""
    canonical = _CANONICAL_LINE.fullmatch

    def plain(value: Any) -> bool:
        return type(value) is str and len(value) <= max_len and canonical(value) is not None

    return plain


def _is_text(max_len: int, *, line: bool = False) -> Callable[[Any], bool]:
    """Text without a control character (`line`: without a line break, nor a tab)."""
    forbidden = (_FORBIDDEN if line else _FORBIDDEN_IN_TEXT).search

    def plain(value: Any) -> bool:
        return type(value) is str and len(value) <= max_len and forbidden(value) is None

    return plain


def _is_match(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    match = pattern.fullmatch

    def plain(value: Any) -> bool:
        return type(value) is str and match(value) is not None

    return plain


def _is_each(item: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def plain(value: Any) -> bool:
        if type(value) is not list:
            return False
        if value and (len(value) > 10_000 or not all(map(item, value))):
            return False
        return True

    return plain


def _is_none_or(item: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def plain(value: Any) -> bool:
        return value is None or item(value)

    return plain


def _is_int(lo: int, hi: int) -> Callable[[Any], bool]:
    def plain(value: Any) -> bool:
        return type(value) is int and lo <= value <= hi

    return plain


def _is_estimate(value: Any) -> bool:
    if type(value) is not dict or len(value) != 2:
        return False
    low, high = value.get("low"), value.get("high")
    return type(low) is int and type(high) is int and 0 <= low <= high <= 10**7


def _is_empty_list(value: Any) -> bool:
    return type(value) is list and not value


def _is_empty_dict(value: Any) -> bool:
    return type(value) is dict and not value


def _is_none(value: Any) -> bool:
    return value is None


_STATUS_SET = frozenset(STATUSES)

_PLAIN: dict[str, Callable[[Any], bool]] = {
    "id": _is_match(_TASK_ID),
    "title": _is_line(500),
    "status": lambda value: type(value) is str and value in _STATUS_SET,
    "priority": _is_int(PRIORITIES.start, PRIORITIES.stop - 1),
    "type": _is_text(100, line=True),
    "complexity": _is_none_or(_is_text(100, line=True)),
    "dependencies": _is_each(_is_match(_TASK_ID)),
    "description": _is_text(_DESCRIPTION_MAX),
    "criteria": _is_empty_list,
    "estimate": _is_none_or(_is_estimate),
    "role": _is_match(_HOST),
    "caps": _is_each(_is_match(_HOST)),
    "steps": _is_empty_list,
    "agent": _is_none_or(_is_match(_NAME)),
    "host": _is_none_or(_is_match(_HOST)),
    "lease": _is_none,
    "artifacts": _is_empty_list,
    "metrics": _is_empty_dict,
    "blocked_reason": _is_none_or(_is_text(_TEXT_MAX)),
    "parent": _is_none_or(_is_match(_TASK_ID)),
    "exit_gates": _is_empty_list,
    "commits": _is_empty_list,
    "links": _is_none_or(_is_text(_TEXT_MAX, line=True)),
    "attempt": _is_int(0, 10**6),
    "optional": lambda value: type(value) is bool,
    "created": _is_none_or(_is_match(_TS)),
    "updated": _is_none_or(_is_match(_TS)),
    "done_at": _is_none_or(_is_match(_TS)),
    "origin": _is_none_or(_is_text(1000, line=True)),
    "extra": _is_empty_dict,
}
"""Per task field: a fast test that is True only for values its `_TASK_RULES` rule accepts."""
_NONE_PLAIN = frozenset(key for key, test in _PLAIN.items() if test(None))
"""The fields whose rule accepts None (most of a usual task's fields hold None)."""


def check_task(data: Mapping[str, Any] | object, *, partial: bool = False) -> None:
    """Check a task's fields (`task_to_dict` shape); `partial` for the fields of an update.

    Raises:
        InvalidValue: the first field that breaks its rule, named with the task id.
    """
    fields = _plain(data)
    if not isinstance(fields, Mapping):
        raise InvalidValue("task", data, "must be an object")
    tid = fields.get("id")
    label = tid if isinstance(tid, str) and _TASK_ID.fullmatch(tid) else None
    if not partial:
        task_id(tid, "task id", None)
        if not fields.keys() <= _TASK_KEYS:
            unknown = sorted(fields.keys() - _TASK_KEYS)
            raise InvalidValue("task", unknown, "unknown fields", label)
    plain, none_ok = _PLAIN, _NONE_PLAIN  # the same keys as _TASK_RULES
    for key, value in fields.items():
        if value is None and key in none_ok:
            continue
        test = plain.get(key)
        if test is None or test(value) or (key == "id" and not partial):
            continue
        rule = _TASK_RULES[key]
        rule(_plain(value) if key in ("estimate", "lease") else value, key, label)


# -- events -------------------------------------------------------------------------------


def _fields(draft: EventDraft, keys: frozenset[str]) -> dict[str, Any]:
    return _dict(draft.fields, f"{draft.op} fields", keys, draft.task)


def _require_known(state: BoardState, draft: EventDraft) -> None:
    if draft.task is not None and draft.task not in state.tasks:
        raise InvalidValue("task", draft.task, "is not on the board", draft.task)


def check_draft(state: BoardState, draft: EventDraft) -> None:
    """Refuse an event whose values break the rules, before the reducer folds it.

    Raises:
        InvalidValue: naming the field, the value and the rule.
    """
    t = draft.task
    if draft.op not in OPS:
        raise InvalidValue("op", draft.op, f"is not one of {', '.join(OPS)}", t)
    if t is not None:
        task_id(t)
    actor(draft.actor)
    if draft.fence is not None:
        integer(draft.fence, "fence", 0, MAX_INT, t, strict=True)
    if draft.id is not None:
        _match(_EVENT_ID, draft.id, "event id", "use 1-256 of A-Z a-z 0-9 _ . : @ + -", t)
    check = _OP_CHECKS.get(draft.op)
    if check is not None:
        check(state, draft, t)


def _task_create(state: BoardState, draft: EventDraft, t: str | None) -> None:
    check_task(_fields(draft, frozenset({"task"})).get("task"))


def _task_update(state: BoardState, draft: EventDraft, t: str | None) -> None:
    check_task({k: v for k, v in draft.fields.items() if k != "id"}, partial=True)


def _task_move(state: BoardState, draft: EventDraft, t: str | None) -> None:
    f = _fields(draft, frozenset({"to", "from", "reason", "force", "role"}))
    _check_status(f.get("to"), "to", t)
    _optional(_check_status)(f.get("from"), "from", t)
    _optional(_text_field())(f.get("reason"), "reason", t)
    _check_bool(f.get("force", False), "force", t)
    _optional(host)(f.get("role"), "role", t)


def _lease_grant(state: BoardState, draft: EventDraft, t: str | None) -> None:
    f = _fields(draft, frozenset({"agent", "host", "ttl", "expires", "fence"}))
    name(f.get("agent"), "agent", t)
    host(f.get("host"), "host", t)
    integer(f.get("ttl"), "ttl", 1, MAX_TTL, t, strict=True)
    integer(f.get("fence"), "fence", 1, MAX_INT, t, strict=True)
    _check_ts(f.get("expires"), "expires", t)


def _lease_heartbeat(state: BoardState, draft: EventDraft, t: str | None) -> None:
    _check_ts(_fields(draft, frozenset({"expires"})).get("expires"), "expires", t)


def _lease_end(state: BoardState, draft: EventDraft, t: str | None) -> None:
    _optional(_text_field())(_fields(draft, frozenset({"reason"})).get("reason"), "reason", t)


def _criterion_check(state: BoardState, draft: EventDraft, t: str | None) -> None:
    f = _fields(draft, frozenset({"index", "done", "result"}))
    integer(f.get("index"), "criterion index", 0, 10**6, t, strict=True)
    _check_bool(f.get("done"), "done", t)
    _optional(_text_field())(f.get("result"), "result", t)


def _artifact_add(state: BoardState, draft: EventDraft, t: str | None) -> None:
    _check_artifact(draft.fields, "artifact", t)


def _metric_set(state: BoardState, draft: EventDraft, t: str | None) -> None:
    f = _fields(draft, frozenset({"name", "value"}))
    metric_name(f.get("name"))
    finite(f.get("value"), f"metric {str(f.get('name'))[:40]!r}", t, strict=True)


def _entry_add(state: BoardState, draft: EventDraft, t: str | None) -> None:
    # a decision may name the worker it paused (the notifier tells people)
    keys = {"text", "paused"} if draft.op == "decision.add" else {"text"}
    f = _fields(draft, frozenset(keys))
    text(f.get("text"), draft.op.split(".")[0], empty=False, task=t)
    if f.get("paused") is not None:
        name(f.get("paused"), "paused worker", t)
    _require_known(state, draft)


def _question_ask(state: BoardState, draft: EventDraft, t: str | None) -> None:
    f = _fields(draft, frozenset({"text"}))
    if t is None:
        raise InvalidValue("task", None, "a question is about a task; name it", None)
    text(f.get("text"), "question", empty=False, task=t)
    _require_known(state, draft)


def _question_answer(state: BoardState, draft: EventDraft, t: str | None) -> None:
    f = _fields(draft, frozenset({"text", "question"}))
    if t is None:
        raise InvalidValue("task", None, "an answer is about a task; name it", None)
    text(f.get("text"), "answer", empty=False, task=t)
    _match(_EVENT_ID, f.get("question"), "question id", "an id `ask` printed", t)
    _require_known(state, draft)


def _sprint_start(state: BoardState, draft: EventDraft, t: str | None) -> None:
    f = dict(draft.fields)
    if f.get("id") is not None:
        _match(_SPRINT_ID, f["id"], "sprint id", "use 1-64 of A-Z a-z 0-9 _ . -")
    text(f.get("goal", ""), "goal", max_len=_LINE_MAX)
    limits = f.get("wip_limits") or {}
    if not isinstance(limits, Mapping):
        raise InvalidValue("wip_limits", limits, "must be an object")
    for role, limit in limits.items():
        host(role, "wip_limits role", None)
        integer(limit, f"wip_limits.{role}", 0, 10**6, strict=True)
    _json_safe({k: v for k, v in f.items() if k not in ("id", "goal")}, "sprint", None)


def _host_heartbeat(state: BoardState, draft: EventDraft, t: str | None) -> None:
    if t is not None:
        raise InvalidValue("task", t, "must be null: a host heartbeat is about a host", t)
    host(_fields(draft, frozenset({"host"})).get("host"), "host", None)


# The rule of each op's fields (an op without one carries none worth checking).
_OP_CHECKS: dict[str, Callable[[BoardState, EventDraft, str | None], None]] = {
    "task.create": _task_create,
    "task.update": _task_update,
    "task.move": _task_move,
    "lease.grant": _lease_grant,
    "lease.heartbeat": _lease_heartbeat,
    "lease.release": _lease_end,
    "lease.expire": _lease_end,
    "criterion.check": _criterion_check,
    "artifact.add": _artifact_add,
    "metric.set": _metric_set,
    "decision.add": _entry_add,
    "note.add": _entry_add,
    "question.ask": _question_ask,
    "question.answer": _question_answer,
    "sprint.start": _sprint_start,
    "host.heartbeat": _host_heartbeat,
}
