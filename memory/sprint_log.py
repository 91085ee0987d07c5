"""`sprints/SPRINT_LOG.md`: a log a person can read, generated from the journal, newest last.

One line per change worth a person's eye: sprint start and close, tasks created (a batch is
one line), claims, moves (with reasons), lease ends and expiries (with how long the lease
lived and how many heartbeats it had: heartbeats never get a line of their own), updates to
priority, owner, dependencies or commits, failed criteria, decisions and notes.

The file is only ever appended to. After each batch a marker records the journal seq it
covers (`<!-- sprintboard:sprint-log sprint=S1 seq=42 -->`), so the next update adds only
what is new and lines people add are kept. When a new sprint starts, the old sprint's file
moves to `sprints/<sprint>/SPRINT_LOG.md` (rotation) and a fresh one begins.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from sprintboard.board.clock import parse_ts
from sprintboard.board.models import FINISHED_STATUSES, Event, Lease
from sprintboard.board.state import BoardState, reduce
from sprintboard.memory.daily_notes import append_text, read_text
from sprintboard.memory.history import format_age, format_minute

__all__ = ["LogEntry", "SprintLogResult", "log_entries", "update_sprint_log"]

_MARKER = re.compile(r"^<!-- sprintboard:sprint-log sprint=(\S+) seq=(\d+) -->$", re.M)
_NO_SPRINT = "-"
_LOGGED_UPDATES = ("priority", "agent", "host", "dependencies", "commits", "role", "title")
_LIST_AT_MOST = 10
_INTRO = "_Generated from the journal, newest last; lines people add are kept._\n\n"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the log: the seq and time of its event, the sprint it belongs to."""

    seq: int
    ts: str
    sprint: str | None
    text: str

    def line(self) -> str:
        """The entry as a markdown bullet."""
        return f"- {format_minute(self.ts)} {self.text}"


class SprintLogResult(BaseModel, frozen=True, extra="forbid"):
    """What `update_sprint_log` did."""

    path: Path
    appended: int
    """Entries added."""
    rotated: list[Path] = []
    """Logs of finished sprints moved aside by this update."""


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_LIST_AT_MOST])
    more = len(ids) - _LIST_AT_MOST
    return shown + (f" and {more} more" if more > 0 else "")


def _lease_span(lease: Lease, ts: str, heartbeats: int) -> str:
    held = format_age(parse_ts(ts) - parse_ts(lease.acquired))
    beats = f"{heartbeats} heartbeat" + ("" if heartbeats == 1 else "s")
    return f"{lease.agent}@{lease.host} held it {held}, {beats}"


def log_entries(events: Sequence[Event]) -> list[LogEntry]:
    """The log lines of `events` (the whole journal, in seq order)."""
    state = BoardState()
    entries: list[LogEntry] = []
    beats: dict[str, int] = {}
    lease_note: dict[str, str] = {}
    batch: tuple[tuple[str, str], list[str], int] | None = None
    """The create batch the last entry stands for: (actor, ts), its ids, its last seq."""
    """Lease ends folded into the move that caused them (one line, not two)."""
    for event in events:
        sprint_before = state.sprint.id
        task = state.tasks.get(event.task) if event.task else None
        before_status = task.status if task else None
        before_lease = task.lease if task else None
        reduce(state, event)
        after = state.tasks.get(event.task) if event.task else None
        sprint = state.sprint.id if event.op == "sprint.start" else sprint_before
        span = ""
        if before_lease is not None and after is not None and after.lease is None:
            span = _lease_span(before_lease, event.ts, beats.get(event.task or "", 0))
        text = _describe(event, state, before_status, span, lease_note)
        if event.op == "lease.heartbeat" and event.task:
            beats[event.task] = beats.get(event.task, 0) + 1
        elif event.op == "lease.grant" and event.task:
            beats[event.task] = 0
        if text is None:
            continue
        if event.op == "task.create":
            # Tasks created in one commit by one actor are one line, not one line each.
            if batch and batch[0] == (event.actor, event.ts) and entries[-1].seq == batch[2]:
                ids = batch[1]
                ids.append(event.task or "?")  # in place: a copy per task was quadratic
                text = f"{event.actor} created {len(ids)} tasks: {_ids(ids)}"
                entries[-1] = LogEntry(event.seq, event.ts, sprint, text)
                batch = ((event.actor, event.ts), ids, event.seq)
                continue
            batch = ((event.actor, event.ts), [event.task or "?"], event.seq)
        entries.append(LogEntry(event.seq, event.ts, sprint, text))
    return entries


def _describe(
    event: Event, state: BoardState, before: str | None, span: str, lease_note: dict[str, str]
) -> str | None:
    f, tid, who = event.fields, event.task or "?", event.actor
    op = event.op
    if op == "sprint.start":
        goal = f" — goal: {state.sprint.goal}" if state.sprint.goal else ""
        return f"**Sprint {state.sprint.id} started** by {who}{goal}"
    if op == "sprint.close":
        done = [t.id for t in state.tasks.values() if t.status == "done"]
        open_ = [t.id for t in state.tasks.values() if t.status not in FINISHED_STATUSES]
        left = f"; not finished: {_ids(open_)}" if open_ else ""
        return f"**Sprint {state.sprint.id} closed** by {who}: {len(done)} done{left}"
    if op == "task.create":
        return f"{who} created 1 task: {tid}"
    if op == "lease.grant":
        task = state.tasks[tid]
        return f"{tid} claimed by {f['agent']}@{f['host']} (attempt {task.attempt}, fence {f['fence']})"
    if op == "lease.release":
        reason = str(f.get("reason") or "released")
        if reason.startswith("moved to "):
            lease_note[tid] = span
            return None
        return f"{tid} released by {who} ({span}): {reason}"
    if op == "lease.expire":
        return f"{tid} lease expired ({span}); back to {state.tasks[tid].status}"
    if op == "task.move":
        to = state.tasks[tid].status
        reason = f": {f['reason']}" if f.get("reason") else ""
        note = lease_note.pop(tid, "") or span
        held = f" ({note})" if note else ""
        return f"{tid} {before} → {to} by {who}{reason}{held}"
    if op == "task.update":
        changed = [k for k in _LOGGED_UPDATES if k in f]
        if not changed:
            return None
        parts = [f"{k} {_value(f[k])}" for k in changed]
        return f"{tid} updated by {who}: {', '.join(parts)}"
    if op == "criterion.check" and not f.get("done"):
        result = f": {f['result']}" if f.get("result") else ""
        return f"{tid} criterion {int(f['index']) + 1} failed{result}"
    if op == "decision.add":
        about = f" ({event.task})" if event.task else ""
        return f"Decision by {who}{about}: {f.get('text', '')}"
    if op == "note.add":
        about = f" ({event.task})" if event.task else ""
        return f"Note by {who}{about}: {f.get('text', '')}"
    return None  # heartbeats, artifacts, metrics and passing checks are summarised elsewhere


def _value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _marker(sprint: str | None, seq: int) -> str:
    return f"<!-- sprintboard:sprint-log sprint={sprint or _NO_SPRINT} seq={seq} -->"


def _dir_name(sprint: str) -> str:
    """A directory name for a sprint id (ids are free text)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", sprint).strip("-.")
    return cleaned or "sprint"


def _rotate(path: Path, sprint: str) -> Path:
    target_dir = path.parent / _dir_name(sprint)
    target = target_dir / "SPRINT_LOG.md"
    n = 2
    while target.exists():  # a sprint id used twice: keep both logs
        target = target_dir / f"SPRINT_LOG-{n}.md"
        n += 1
    target_dir.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return target


def _header(sprint: str | None) -> str:
    return f"Sprint log — {sprint}" if sprint else "Sprint log"


def update_sprint_log(root: Path, events: Sequence[Event]) -> SprintLogResult:
    """Append what is new in `events` to `root/sprints/SPRINT_LOG.md`, rotating by sprint.

    Raises:
        MemoryFileError: a log file is not UTF-8; it is left as it is.
    """
    sprints_dir = root / "sprints"
    path = sprints_dir / "SPRINT_LOG.md"
    text = read_text(path)
    cursor = 0
    for old in sorted(sprints_dir.glob("*/SPRINT_LOG*.md")):
        cursor = max([cursor] + [int(m.group(2)) for m in _MARKER.finditer(read_text(old))])
    markers = list(_MARKER.finditer(text))
    cursor = max([cursor] + [int(m.group(2)) for m in markers])
    file_sprint = markers[-1].group(1) if markers else None
    file_sprint = None if file_sprint == _NO_SPRINT else file_sprint
    last_seq = events[-1].seq if events else 0
    new = [e for e in log_entries(events) if e.seq > cursor]
    rotated: list[Path] = []
    i = 0
    while i < len(new):
        sprint = new[i].sprint
        j = i
        while j < len(new) and new[j].sprint == sprint:
            j += 1
        group = new[i:j]
        if file_sprint is not None and sprint is not None and sprint != file_sprint:
            if path.exists():
                rotated.append(_rotate(path, file_sprint))
        through = last_seq if j == len(new) else group[-1].seq
        lines = [e.line() for e in group] + [_marker(sprint, through)]
        intro = "" if path.exists() else _INTRO
        append_text(path, intro + "\n".join(lines) + "\n", title=_header(sprint))
        file_sprint = sprint or file_sprint
        i = j
    return SprintLogResult(path=path, appended=len(new), rotated=rotated)
