"""Field values of sprint files as people and agents write them: statuses, priorities,
estimates, id lists. Shared by the backlog parser and the SPRINT_QUEUE.json importer."""

from __future__ import annotations

import re

from sprintboard.board.models import STATUSES, Estimate, Status

__all__ = ["ID_PATTERN", "parse_estimate", "parse_ids", "parse_priority", "parse_status"]

ID_PATTERN = re.compile(r"\b[A-Za-z]+-?\d+(?:-[A-Za-z]*\d+)*\b")

_STATUS_WORDS: dict[str, Status] = {
    "todo": "needs_plan",
    "to_do": "needs_plan",
    "pending": "needs_plan",
    "not_started": "needs_plan",
    "backlog": "needs_plan",
    "new": "needs_plan",
    "planned": "planning_complete",
    "in-progress": "in_progress",
    "wip": "in_progress",
    "active": "in_progress",
    "complete": "done",
    "completed": "done",
    "finished": "done",
    "closed": "done",
    "canceled": "cancelled",
    "review": "awaiting_test",
    "in_review": "awaiting_test",
}
_PRIORITY_WORDS = {"critical": 0, "high": 1, "medium": 2, "normal": 2, "low": 3}
_ESTIMATE = re.compile(
    r"(?P<low>\d[\d,]*(?:\.\d+)?)\s*(?:(?:-|–|—|to)\s*(?P<high>\d[\d,]*(?:\.\d+)?))?\s*"
    r"(?P<unit>minutes?|mins?|m\b|hours?|hrs?|h\b|days?|d\b)?",
    re.IGNORECASE,
)


def parse_status(text: str) -> Status | None:
    """`ready`, `In Progress`, `Needs planning`, `completed` -> a board status; None if unknown."""
    key = text.strip().strip("*`").lower().replace(" ", "_")
    if key in STATUSES:
        return key
    return _STATUS_WORDS.get(key) or _STATUS_WORDS.get(key.replace("_", "-"))


def parse_priority(text: str) -> int | None:
    """`1`, `P0 (Critical Path)`, `High` -> an int (lower is more urgent); None if unknown."""
    m = re.match(r"\s*[Pp]?(\d+)", text)
    if m:
        return int(m.group(1))
    return _PRIORITY_WORDS.get(text.strip().split(" ")[0].lower())


def parse_estimate(text: str) -> Estimate | None:
    """`120-180 minutes`, `2-3 hours`, `90 min`, `1,260–1,800 minutes` -> minutes; None if none."""
    m = _ESTIMATE.search(text)
    if not m:
        return None
    unit = (m["unit"] or "min").lower()
    scale = 60 if unit.startswith("h") else 480 if unit.startswith("d") else 1
    low = round(float(m["low"].replace(",", "")) * scale)
    high = round(float(m["high"].replace(",", "")) * scale) if m["high"] else low
    return Estimate(low=min(low, high), high=max(low, high))


def parse_ids(text: str) -> list[str]:
    """Task ids in a list like `T002, T004 (Dataset)`; `None` and `-` give an empty list."""
    return list(dict.fromkeys(ID_PATTERN.findall(re.sub(r"\([^)]*\)", "", text))))
