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

import gc
from collections import Counter
from typing import Any

import orjson

from sprintboard.board.codec import decision_to_dict, task_from_dict, task_to_dict
from sprintboard.board.journal import Head
from sprintboard.board.models import STATUSES, Decision, Note, SprintInfo
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
        "tasks": [task_to_dict(t) for t in state.tasks.values()],
        "decisions": [decision_to_dict(d) for d in state.decisions],
        "notes": [decision_to_dict(n) for n in state.notes],
        "fence": state.fence,
        "hosts_seen": state.hosts_seen,
        "metadata": {"updated": state.updated, **counters(state)},
        "journal": {"seq": head.seq, "head": head.hash, "offset": head.offset},
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


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
    # The parse allocates ~50 containers per task and none of them form cycles: with the
    # collector on, its full passes over the growing heap cost more than the parse itself.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_snapshot(data)
    finally:
        if enabled:
            gc.enable()


def _parse_snapshot(data: bytes) -> tuple[BoardState, Head]:
    try:
        doc = orjson.loads(data)
        if doc.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"not a {SNAPSHOT_FORMAT} snapshot")
        sprint = SprintInfo(
            id=doc["sprint_id"],
            goal=doc["goal"],
            status=doc["status"],
            started=doc["started"],
            closed=doc["closed"],
            wip_limits=doc["wip_limits"],
            extra=doc["sprint_extra"],
        )
        tasks = {t["id"]: task_from_dict(t) for t in doc["tasks"]}
        state = BoardState(
            sprint=sprint,
            tasks=tasks,
            decisions=[Decision(**d) for d in doc["decisions"]],
            notes=[Note(**n) for n in doc["notes"]],
            fence=doc["fence"],
            seq=doc["journal"]["seq"],
            head=doc["journal"]["head"],
            updated=doc["metadata"]["updated"],
            hosts_seen=dict(doc.get("hosts_seen") or {}),
        )
        head = Head(
            seq=doc["journal"]["seq"], hash=doc["journal"]["head"], offset=doc["journal"]["offset"]
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"damaged snapshot ({exc})") from None
    return state, head
