"""Daily notes `memory/YYYY-MM-DD.md`: read what people wrote, find our standups, append safely.

People write these files in many shapes ("Night Review", "Evening Review", "Open blockers",
free text). This module only ever reads them and appends to their end; it never rewrites a
byte that is already there. A generated standup sits between two HTML comments::

    <!-- sprintboard:standup date=2026-11-23 seq=42 since=17 -->
    ...
    <!-- sprintboard:standup-end -->

so the next run can tell what it already wrote, and the blocker reader skips it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sprintboard.errors import MemoryFileError

__all__ = [
    "END_MARKER",
    "DailyNote",
    "NoteBlocker",
    "StandupMarker",
    "append_text",
    "daily_note_path",
    "latest_standup",
    "note_dates",
    "read_daily_note",
    "read_text",
    "standup_marker",
]

END_MARKER = "<!-- sprintboard:standup-end -->"
_START = re.compile(
    r"^<!-- sprintboard:standup date=(\d{4}-\d{2}-\d{2}) seq=(\d+) since=(\d+) -->$"
)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_NOTE_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.md$")
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_CHECKED = re.compile(r"^\[[xX]\]\s*")
_UNCHECKED = re.compile(r"^\[ \]\s*")


@dataclass(frozen=True, slots=True)
class StandupMarker:
    """A standup this tool wrote: for which day, through which journal seq, since which."""

    path: Path
    line: int
    day: str
    seq: int
    since: int


@dataclass(frozen=True, slots=True)
class NoteBlocker:
    """A line people wrote about a blocker that names known task ids."""

    path: Path
    line: int
    section: str
    text: str
    tasks: tuple[str, ...]


@dataclass(slots=True)
class DailyNote:
    """What was read from one daily note."""

    path: Path
    markers: list[StandupMarker] = field(default_factory=list)
    blockers: list[NoteBlocker] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    """Headings people wrote, in file order (generated standups left out)."""


def standup_marker(day: str, seq: int, since: int) -> str:
    """The comment that opens a generated standup."""
    return f"<!-- sprintboard:standup date={day} seq={seq} since={since} -->"


def daily_note_path(memory_dir: Path, day: date) -> Path:
    """`memory/YYYY-MM-DD.md` for `day`."""
    return memory_dir / f"{day.isoformat()}.md"


def note_dates(memory_dir: Path) -> list[str]:
    """Dates (`YYYY-MM-DD`) of the daily notes in `memory_dir`, oldest first."""
    if not memory_dir.is_dir():
        return []
    found = (_NOTE_NAME.match(p.name) for p in memory_dir.iterdir() if p.is_file())
    return sorted(m.group(1) for m in found if m)


def read_text(path: Path) -> str:
    """The file as text, or "" if it does not exist.

    Raises:
        MemoryFileError: the file is not UTF-8 (a BOM is fine); the line of the first bad byte
            is named, and nothing is written to it.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise MemoryFileError(
            path, line, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def _is_blocker_heading(title: str) -> bool:
    low = title.lower()
    return "blocker" in low or "blocked" in low


def _is_review_heading(title: str) -> bool:
    return "review" in title.lower()


def read_daily_note(path: Path, known_tasks: Iterable[str] = ()) -> DailyNote:
    """Read one note: our standup markers, people's headings, and blockers naming `known_tasks`.

    A line counts as a blocker when it sits under a heading that says "blocker"/"blocked"
    (at any level above it), or under a "... Review" heading and itself mentions "block".
    Ticked checkboxes and struck-through lines are resolved blockers and are skipped.

    Raises:
        MemoryFileError: the file is not UTF-8.
    """
    known = set(known_tasks)
    note = DailyNote(path=path)
    headings: list[tuple[int, str]] = []
    in_standup = False
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        stripped = line.strip()
        start = _START.match(stripped)
        if start:
            in_standup = True
            note.markers.append(
                StandupMarker(
                    path, number, start.group(1), int(start.group(2)), int(start.group(3))
                )
            )
            continue
        if in_standup:
            in_standup = stripped != END_MARKER
            continue
        heading = _HEADING.match(stripped)
        if heading:
            level = len(heading.group(1))
            headings = [h for h in headings if h[0] < level] + [(level, heading.group(2))]
            note.sections.append(heading.group(2))
            continue
        if not stripped or not headings or not known:
            continue
        blocker = _blocker_of(path, number, stripped, headings, known)
        if blocker is not None:
            note.blockers.append(blocker)
    return note


def _blocker_of(
    path: Path, number: int, stripped: str, headings: list[tuple[int, str]], known: set[str]
) -> NoteBlocker | None:
    titles = [t for _, t in headings]
    under_blockers = any(_is_blocker_heading(t) for t in titles)
    under_review = any(_is_review_heading(t) for t in titles)
    if not under_blockers and not (under_review and "block" in stripped.lower()):
        return None
    bullet = _BULLET.match(stripped)
    text = bullet.group(1) if bullet else stripped
    if _CHECKED.match(text) or (text.startswith("~~") and text.rstrip(" .").endswith("~~")):
        return None
    text = _UNCHECKED.sub("", text)
    tokens = {t.rstrip(".:-") for t in _TOKEN.findall(text)}
    tasks = tuple(sorted(tokens & known))
    if not tasks:
        return None
    return NoteBlocker(path, number, titles[-1], text, tasks)


def latest_standup(memory_dir: Path) -> str | None:
    """The text of the newest generated standup in `memory_dir` (markers included), or None."""
    for day in reversed(note_dates(memory_dir)):
        path = memory_dir / f"{day}.md"
        lines = read_text(path).splitlines()
        starts = [i for i, line in enumerate(lines) if _START.match(line.strip())]
        if not starts:
            continue
        first = starts[-1]
        end = next(
            (i for i in range(first, len(lines)) if lines[i].strip() == END_MARKER), len(lines) - 1
        )
        return "\n".join(lines[first : end + 1]) + "\n"
    return None


def append_text(path: Path, text: str, title: str | None = None) -> None:
    """Append `text` at the end of `path`, never touching what is there; durable on return.

    A new file starts with `# {title}`. The existing line ending style (LF or CRLF) is kept,
    and a last line without a newline gets one first so the two never run together.

    Raises:
        MemoryFileError: the existing file is not UTF-8 (appending would mix encodings).
    """
    existing = read_text(path)
    newline = "\r\n" if "\r\n" in existing else "\n"
    prefix = ""
    if not existing:
        prefix = f"# {title}\n\n" if title else ""
    elif not existing.endswith("\n"):
        prefix = "\n\n"
    elif not existing.endswith("\n\n") and not existing.endswith("\r\n\r\n"):
        prefix = "\n"
    body = (prefix + text).replace("\r\n", "\n")
    if newline != "\n":
        body = body.replace("\n", newline)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: a person saving the file at the same moment loses nothing of ours or theirs.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        data = memoryview(body.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
