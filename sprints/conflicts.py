"""Git conflict markers: found before any parsing, so a half-merged file is never imported.

A SPRINT_QUEUE.json with `<<<<<<<` in it once stopped every agent of a real system; here
the import is refused and every marker line is named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sprintboard.errors import SprintFileError

__all__ = ["ConflictMarker", "find_conflict_markers", "refuse_conflicts"]

# `=======` alone is also a markdown setext underline, so it counts only between markers.
_OPEN = re.compile(r"^<{7}(?: |$)")
_BASE = re.compile(r"^\|{7}(?: |$)")
_SPLIT = re.compile(r"^={7}\s*$")
_CLOSE = re.compile(r"^>{7}(?: |$)")
# every marker line holds one of these (`=======` counts only after `<<<<<<<`)
_MARKS = ("<" * 7, "|" * 7, ">" * 7)


@dataclass(frozen=True, slots=True)
class ConflictMarker:
    """One marker line: 1-based line number and the marker text."""

    line: int
    text: str


def find_conflict_markers(text: str) -> list[ConflictMarker]:
    """Every git conflict marker line in `text` (`<<<<<<<`, `|||||||`, `=======`, `>>>>>>>`)."""
    if not any(mark in text for mark in _MARKS):
        return []  # a scan in C: the line loop cost ~1/4 of parsing a 10k-task queue
    found: list[ConflictMarker] = []
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _OPEN.match(line):
            inside = True
        elif _CLOSE.match(line):
            inside = False
        elif not (_BASE.match(line) or (inside and _SPLIT.match(line))):
            continue
        found.append(ConflictMarker(number, line.rstrip()))
    return found


def refuse_conflicts(text: str, path: Path) -> None:
    """Raise if `text` holds git conflict markers.

    Raises:
        SprintFileError: at the first marker's line, naming the line of every marker.
    """
    markers = find_conflict_markers(text)
    if not markers:
        return
    lines = ", ".join(str(m.line) for m in markers)
    raise SprintFileError(
        path,
        markers[0].line,
        f"git conflict markers on line(s) {lines}; finish the merge (keep one side of each "
        "conflict and delete the marker lines)",
    )
