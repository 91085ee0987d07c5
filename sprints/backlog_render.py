"""Write a sprint backlog in the oodatcaa format, with a Summary regenerated from the tasks.

The Summary (counts, breakdowns, priority order, critical path, phases, total time) is
computed every time, never copied, so it cannot drift from the work items above it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sprintboard.board.criteria import render_criterion
from sprintboard.board.models import Estimate, SprintInfo, Task
from sprintboard.sprints.backlog_fields import parse_priority
from sprintboard.sprints.graph import analyze, format_path

__all__ = ["render_backlog"]

_SIZES = {"S": "Small", "M": "Medium", "L": "Large", "XL": "Extra large"}


def _minutes(low: int, high: int) -> str:
    span = f"{low:,}-{high:,}" if low != high else f"{low:,}"
    hours = f"{low / 60:.4g}-{high / 60:.4g}" if low != high else f"{low / 60:.4g}"
    return f"{span} minutes ({hours} hours)"


def _estimate(e: Estimate) -> str:
    return f"{e.low}-{e.high} minutes" if e.low != e.high else f"{e.low} minutes"


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _task(t: Task) -> list[str]:
    out = [f"### {t.id}: {t.title}", f"**Type:** {t.type}  "]
    if t.complexity:
        out.append(f"**Complexity:** {t.complexity}  ")
    status = t.extra.get("status_text") if t.status == "needs_plan" else None
    out.append(f"**Status:** {status or t.status}")
    label = t.extra.get("priority_label")
    use_label = isinstance(label, str) and parse_priority(label) == t.priority
    out.append(f"**Priority:** {label if use_label else t.priority}")
    if t.dependencies:
        out.append(f"**Dependencies:** {', '.join(t.dependencies)}")
    assigned = t.agent or t.extra.get("assigned_text")
    if assigned:
        out.append(f"**Assigned:** {assigned}")
    if t.role != "builder":
        out.append(f"**Role:** {t.role}")
    if t.caps:
        out.append(f"**Capabilities:** {', '.join(t.caps)}")
    if t.parent:
        out.append(f"**Parent:** {t.parent}")
    if t.blocked_reason:
        out.append(f"**Blocked Reason:** {t.blocked_reason}")
    fields = t.extra.get("backlog_fields")
    if isinstance(fields, dict):
        out += [f"**{k}:** {v}" for k, v in fields.items()]
    if t.description:
        out += ["", "**Description:**  ", t.description]
    if t.criteria:
        out += ["", "**Acceptance Criteria:**"]
        out += [f"- [{'x' if c.done else ' '}] {render_criterion(c)}" for c in t.criteria]
    if t.steps:
        out += ["", "**Steps:**"]
        out += [
            f"- `{s.tool}` `{json.dumps(s.config, ensure_ascii=False)}`"
            if s.config
            else f"- `{s.tool}`"
            for s in t.steps
        ]
    if t.links:
        out += ["", "**Links to Objective:**  ", t.links]
    if t.estimate is not None:
        out += ["", f"**Estimated Time:** {_estimate(t.estimate)}"]
    return out


def _breakdown(tasks: Sequence[Task], key: str) -> list[str]:
    groups: dict[str, list[str]] = {}
    if key == "complexity":
        groups = {size: [] for size in ("S", "M", "L")}
    for t in tasks:
        value = (t.complexity or "unsized") if key == "complexity" else t.type
        groups.setdefault(value, []).append(t.id)
    out = []
    for value, ids in groups.items():
        label = f"{_SIZES[value]} ({value})" if value in _SIZES else value
        listed = f" ({', '.join(ids)})" if ids else ""
        out.append(f"- {label}: {_items(len(ids))}{listed}")
    return out


def _summary(tasks: Sequence[Task]) -> list[str]:
    result = analyze(tasks)
    titles = {t.id: t.title for t in tasks}
    out = ["## Summary", "", f"**Total Items:** {len(tasks)}  ", "**Complexity Breakdown:**"]
    out += _breakdown(tasks, "complexity")
    out += ["", "**Type Breakdown:**", *_breakdown(tasks, "type"), "", "**Priority Order:**"]
    ranked = sorted(enumerate(tasks), key=lambda it: (it[1].priority, it[0]))
    for n, (_, t) in enumerate(ranked, start=1):
        after = f"depends on {', '.join(t.dependencies)}" if t.dependencies else "no dependencies"
        out.append(f"{n}. {t.id} ({t.title}) - {t.status.upper()}, {after}")
    out += ["", "**Critical Path:**  "]
    if result.critical_path:
        out.append(
            f"{format_path(result.critical_path)} "
            f"({result.length_min:,}-{result.length_max:,} minutes)"
        )
    else:
        out.append("(none)")
    out += ["", "**Parallel Opportunities:**"]
    for n, phase in enumerate(result.phases, start=1):
        members = " + ".join(f"{tid} ({titles[tid]})" for tid in phase)
        out.append(f"- Phase {n}: {members}")
    if result.cycles:
        out += ["", "**Dependency Cycles:**"]
        out += [f"- {format_path(c)}" for c in result.cycles]
    low = sum(t.estimate.low for t in tasks if t.estimate)
    high = sum(t.estimate.high for t in tasks if t.estimate)
    out += ["", f"**Estimated Total Time:** {_minutes(low, high)}"]
    return out


def render_backlog(tasks: Sequence[Task], sprint: SprintInfo) -> str:
    """The backlog markdown for `tasks` of `sprint` (oodatcaa format, Summary regenerated)."""
    heading = sprint.extra.get("heading") or f"{sprint.id or 'Sprint'} Backlog"
    out = [f"# {heading}", ""]
    if sprint.goal:
        out += [f"> **Sprint Goal:** {sprint.goal}", ""]
    header = sprint.extra.get("header")
    if isinstance(header, list) and header:
        out += [f"> **{k}:** {v}  " for k, v in header]
        out.append("")
    out += ["---", "", "## Work Items", ""]
    for t in tasks:
        out += _task(t)
        out += ["", "---", ""]
    out += _summary(tasks)
    trailer = sprint.extra.get("trailer")
    if isinstance(trailer, str) and trailer:
        out += ["", "---", "", trailer]
    return "\n".join(out) + "\n"
