"""`sprintboard validate --repair`: a journal that cannot be loaded, made loadable again
without losing the events after the bad line.

A line that is not an event, or that the reducer cannot fold (a NaN an older version
stored as `null`, a value of the wrong type), is set aside; every other line is kept in
its order, renumbered and re-chained (`seq`, `prev`), so a line edited in place is
accepted as it now reads. The old journal is kept whole as a backup and the lines set
aside are written beside it with the reason, so nothing is lost: a person can put an
event back by hand. The recorded head and the snapshot are dropped (both describe the
old journal) and rebuilt on the next open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sprintboard.board.codec import event_from_dict
from sprintboard.board.journal import encode_event, header_problem, line_hash
from sprintboard.board.models import OPS
from sprintboard.board.state import BoardState, reduce
from sprintboard.errors import BoardError
from sprintboard.files import atomic_write

__all__ = ["RepairReport", "repair_journal"]


@dataclass(slots=True)
class RepairReport:
    """What a repair kept and set aside."""

    kept: int = 0
    set_aside: list[tuple[int, str]] = field(default_factory=list)
    """(line number in the old journal, why) of each line taken out."""
    rechained: int = 0
    """Kept lines whose `seq` or `prev` had to be rewritten."""
    backup: Path | None = None
    aside_file: Path | None = None


def _event(raw: bytes, seq: int, prev: str | None) -> dict[str, Any]:
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    if data.get("op") not in OPS:
        raise ValueError(f"unknown op {data.get('op')!r}")
    problem = header_problem(data)
    if problem:
        raise ValueError(problem)
    return {**data, "seq": seq, "prev": prev}


def repair_journal(
    journal: Path, head: Path, snapshot: Path, backups: Path, label: str
) -> RepairReport:
    """Rewrite `journal` without the lines that cannot be applied; see the module docstring.

    `label` names the backup files (a timestamp). The caller holds the board lock.
    """
    report = RepairReport()
    try:
        old = journal.read_bytes()
    except FileNotFoundError:
        return report
    backups.mkdir(parents=True, exist_ok=True)
    report.backup = backups / f"events.{label}.jsonl"
    atomic_write(report.backup, old)
    *lines, torn = old.split(b"\n")
    state = BoardState()
    kept: list[bytes] = []
    aside: list[bytes] = []
    prev: str | None = None
    for number, raw in enumerate(lines, 1):
        seq = len(kept) + 1
        data, why = _replay(state, raw, seq, prev)
        if data is None:
            report.set_aside.append((number, why))
            aside.append(_aside_line(number, why, raw))
            continue
        original = orjson.loads(raw)
        if original.get("seq") != seq or original.get("prev") != prev:
            raw = encode_event(event_from_dict(data))
            report.rechained += 1
        kept.append(raw)
        prev = line_hash(raw)
    if torn:
        report.set_aside.append((len(lines) + 1, "a torn last line (no newline)"))
        aside.append(_aside_line(len(lines) + 1, "torn", torn))
    if aside:
        report.aside_file = backups / f"events.{label}.set-aside.jsonl"
        atomic_write(report.aside_file, b"".join(line + b"\n" for line in aside))
    atomic_write(journal, b"".join(line + b"\n" for line in kept))
    head.unlink(missing_ok=True)
    snapshot.unlink(missing_ok=True)
    report.kept = len(kept)
    return report


def _replay(
    state: BoardState, raw: bytes, seq: int, prev: str | None
) -> tuple[dict[str, Any] | None, str]:
    """The line as event `seq` after `prev`, applied to `state`; (None, why) when it cannot
    be read or applied."""
    try:
        data = _event(raw, seq, prev)
        reduce(state, event_from_dict(data))
    except (
        orjson.JSONDecodeError,
        BoardError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        IndexError,
    ) as exc:
        why = (
            str(exc) if isinstance(exc, BoardError | ValueError) else f"{type(exc).__name__}: {exc}"
        )
        return None, why
    return data, ""


def _aside_line(number: int, reason: str, raw: bytes) -> bytes:
    return orjson.dumps({"line": number, "reason": reason, "text": raw.decode("utf-8", "replace")})
