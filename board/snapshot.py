"""`sprints/SPRINT_QUEUE.json`: the board state rendered from the journal.

The snapshot is a cache, never the truth: it records the journal position it was
rendered at, and a missing, damaged or stale snapshot is rebuilt from the journal.
Rendering is deterministic, so a replay gives the same bytes.

Why a second codec beside `sprints/queue_format.py`: this one is the cache, so it is
lossless (every task field through `board/codec.py`, the fencing counter, the journal
head; `format: sprintboard.queue/1`) and only this package reads it. The other is the
interchange shape other agent systems kept (`examples/SPRINT_QUEUE.example.json`):
lossy by design and lenient on reading. One encoding for both would make the cache
drop state or the interchange file carry the board's internals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec

from sprintboard.board.codec import decision_to_dict, question_to_dict, task_to_dict
from sprintboard.board.collector import collector_paused
from sprintboard.board.journal import Head
from sprintboard.board.models import (
    STATUSES,
    Decision,
    Note,
    Question,
    SprintInfo,
    SprintStatus,
    Task,
)
from sprintboard.board.state import BoardState

__all__ = ["SNAPSHOT_FORMAT", "counters", "first_difference", "parse_snapshot", "render_snapshot"]

SNAPSHOT_FORMAT = "sprintboard.queue/1"


def counters(state: BoardState) -> dict[str, int]:
    """Derived counts: total and one per status (never stored anywhere else)."""
    by_status = Counter(t.status for t in state.tasks.values())
    out = {"total_tasks": len(state.tasks)}
    out.update({status: by_status.get(status, 0) for status in STATUSES})
    return out


def render_snapshot(state: BoardState, head: Head) -> bytes:
    sprint = state.sprint
    doc: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "sprint_id": sprint.id,
        "goal": sprint.goal,
        "status": sprint.status,
        "started": sprint.started,
        "closed": sprint.closed,
        "wip_limits": sprint.wip_limits,
        "sprint_extra": sprint.extra,
        # The dataclasses themselves: msgspec writes their fields in declaration order,
        # which is `task_to_dict`'s order (tests/board/test_snapshot_encoding.py), in C;
        # through dicts and orjson this took ~3x as long (~50 ms at 10,000 tasks).
        "tasks": list(state.tasks.values()),
        "decisions": [decision_to_dict(d) for d in state.decisions],
        "notes": [decision_to_dict(n) for n in state.notes],
        "questions": [question_to_dict(q) for q in state.questions],
        "fence": state.fence,
        "hosts_seen": state.hosts_seen,
        "metadata": {"updated": state.updated, **counters(state)},
        "journal": {"seq": head.seq, "head": head.hash, "offset": head.offset},
    }
    # indented as orjson's OPT_INDENT_2 did (the same bytes; floats from 1e16 up print
    # their exponent as `e16`, not `e+16`): a diff of the file shows the tasks that changed
    return msgspec.json.format(_ENCODER.encode(doc), indent=2) + b"\n"


_ENCODER = msgspec.json.Encoder()


def first_difference(cached: BoardState, real: BoardState) -> str | None:
    """The first task and field where `cached` (a snapshot) differs from `real` (the
    journal), as `T1.status is 'done' in the snapshot, 'ready' in the journal`; None if alike."""

    def say(where: str, mine: Any, theirs: Any) -> str:
        return f"{where} is {mine!r} in the snapshot, {theirs!r} in the journal"

    for tid, task in real.tasks.items():
        other = cached.tasks.get(tid)
        if other is None:
            return f"task {tid} is missing from the snapshot"
        mine, theirs = task_to_dict(other), task_to_dict(task)
        for key, value in theirs.items():
            if mine.get(key) != value:
                return say(f"{tid}.{key}", mine.get(key), value)
    extra = [tid for tid in cached.tasks if tid not in real.tasks]
    if extra:
        return f"task {extra[0]} is in the snapshot but not in the journal"
    if list(cached.tasks) != list(real.tasks):
        return "the tasks are in another order than the journal created them"
    if cached.sprint != real.sprint:
        return say("the sprint", cached.sprint, real.sprint)
    for label, mine_list, theirs_list in (
        ("decision", cached.decisions, real.decisions),
        ("note", cached.notes, real.notes),
        ("question", cached.questions, real.questions),
    ):
        if mine_list != theirs_list:
            return f"the {label}s differ ({len(mine_list)} in the snapshot, {len(theirs_list)} in the journal)"
    if cached.fence != real.fence:
        return say("the fencing counter", cached.fence, real.fence)
    if cached.hosts_seen != real.hosts_seen:
        return say("the hosts seen", cached.hosts_seen, real.hosts_seen)
    return None


def parse_snapshot(data: bytes) -> tuple[BoardState, Head]:
    """Rebuild the state from a snapshot this package wrote.

    Raises:
        ValueError: not a sprintboard snapshot, or damaged (the caller replays the journal).
    """
    with collector_paused():
        return _parse_snapshot(data)


@dataclass(slots=True)
class _JournalAt:
    seq: int
    head: str | None
    offset: int


@dataclass(slots=True)
class _Metadata:
    updated: str | None


@dataclass(slots=True)
class _Doc:
    """What `render_snapshot` writes, typed: msgspec decodes it straight into the board's
    dataclasses and checks every type and status on the way (in C), about 2.5x faster than
    JSON dicts turned into dataclasses in Python. Keys it does not name (the derived
    counters) are skipped."""

    format: str
    sprint_id: str | None
    goal: str
    status: SprintStatus
    started: str | None
    closed: str | None
    wip_limits: dict[str, int]
    sprint_extra: dict[str, Any]
    tasks: list[Task]
    decisions: list[Decision]
    notes: list[Note]
    fence: int
    metadata: _Metadata
    journal: _JournalAt
    hosts_seen: dict[str, str] = field(default_factory=dict)
    """Absent in snapshots written before host heartbeats (board/hosts.py)."""
    # snapshots written before questions existed have none: an older cache still loads
    questions: list[Question] = field(default_factory=list)


_DECODER = msgspec.json.Decoder(_Doc)


def _parse_snapshot(data: bytes) -> tuple[BoardState, Head]:
    try:
        doc = _DECODER.decode(data)
    except msgspec.DecodeError as exc:  # invalid JSON, a missing key or a wrong type
        raise ValueError(f"damaged snapshot ({exc})") from None
    if doc.format != SNAPSHOT_FORMAT:
        raise ValueError(f"not a {SNAPSHOT_FORMAT} snapshot")
    sprint = SprintInfo(
        id=doc.sprint_id,
        goal=doc.goal,
        status=doc.status,
        started=doc.started,
        closed=doc.closed,
        wip_limits=doc.wip_limits,
        extra=doc.sprint_extra,
    )
    tasks = {t.id: t for t in doc.tasks}
    if len(tasks) != len(doc.tasks):
        raise ValueError("damaged snapshot (a task id appears twice)")
    at = doc.journal
    state = BoardState(
        sprint=sprint,
        tasks=tasks,
        decisions=doc.decisions,
        notes=doc.notes,
        questions=doc.questions,
        fence=doc.fence,
        seq=at.seq,
        head=at.head,
        updated=doc.metadata.updated,
        hosts_seen=doc.hosts_seen,
    )
    return state, Head(seq=at.seq, hash=at.head, offset=at.offset)
