"""Sprint backlogs in the oodatcaa format: `parse_backlog` reads one, `render_backlog` writes one.

Reading takes the oodatcaa format (`### T001: Title`, `**Field:** value` lines,
acceptance-criteria checkboxes, `**Steps:**`, a Summary) and its older variant (ids like
W001, `Priority: P0 (Critical Path)`, `Assigned: Needs planning`, criteria as plain
bullets). The Summary is never trusted: its stated critical path and phases are only
compared with what the dependencies say, and a disagreement becomes a warning.

Writing regenerates the Summary (counts, breakdowns, priority order, critical path,
phases, total time) every time, never copied, so it cannot drift from the work items.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sprintboard.board.criteria import parse_criterion, render_criterion
from sprintboard.board.models import Criterion, Estimate, SprintInfo, Step, Task
from sprintboard.errors import SprintFileError
from sprintboard.sprints.conflicts import refuse_conflicts
from sprintboard.sprints.field_words import (
    parse_estimate,
    parse_ids,
    parse_priority,
    parse_status,
)
from sprintboard.sprints.graph import analyze, format_path

__all__ = ["Backlog", "parse_backlog", "render_backlog"]

_ITEM = re.compile(
    r"^###\s+\[?(?P<id>[A-Za-z]+-?\d+(?:-[A-Za-z]*\d+)*)\]?\s*(?:[:.—–-]\s*)?(?P<title>.*)$"
)
_FIELD = re.compile(r"^\s*(?:[-*]\s+)?\*\*(?P<key>[^*]+?):\*\*\s*(?P<value>.*?)\s*$")
_PLAIN_FIELD = re.compile(
    r"^(?P<key>Type|Complexity|Status|Priority|Dependencies|Assigned|Estimated Time|Estimate)"
    r":\s*(?P<value>.*?)\s*$",
    re.IGNORECASE,
)
_CHECKBOX = re.compile(r"^\s*[-*]\s+\[(?P<mark>[ xX])\]\s+(?P<text>.*)$")
_BULLET = re.compile(r"^\s*[-*]\s+(?P<text>.*)$")
_STEP = re.compile(r"^\s*[-*]\s+`(?P<tool>[^`]+)`\s*(?:`(?P<config>.*)`)?\s*$")
_QUOTE_FIELD = re.compile(r"^>\s*\*\*(?P<key>[^*]+?):\*\*\s*(?P<value>.*?)\s*$")
_NO_AGENT = {"", "-", "none", "unassigned", "tbd", "needs planning", "n/a"}
_BLOCKS = {"description", "acceptance criteria", "links to objective", "steps"}


@dataclass(frozen=True, slots=True)
class Backlog:
    """A parsed backlog: the sprint, its tasks in file order, and what looked wrong."""

    sprint: SprintInfo
    tasks: list[Task]
    warnings: list[str]
    lines: dict[str, int] = field(default_factory=dict)
    """Task id -> the line of its `###` heading."""
    stated_critical_path: list[str] = field(default_factory=list)
    stated_phases: list[list[str]] = field(default_factory=list)


@dataclass(slots=True)
class _Item:
    id: str
    title: str
    line: int
    fields: list[tuple[str, str, int]] = field(default_factory=list)
    blocks: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def parse_backlog(text: str, path: Path) -> Backlog:
    """Parse a backlog's text; `path` is only used in messages.

    Raises:
        SprintFileError: conflict markers, a duplicate id, a bad `check:` span or step config.
    """
    refuse_conflicts(text, path)
    sprint, items, summary = _scan(text.splitlines())
    warnings: list[str] = []
    tasks: list[Task] = []
    where: dict[str, int] = {}
    for item in items:
        if item.id in where:
            raise SprintFileError(
                path,
                item.line,
                f"duplicate task id {item.id} (first at line {where[item.id]}); give each task "
                "its own id",
            )
        where[item.id] = item.line
        tasks.append(_task(item, path, warnings))

    stated_path, stated_phases = _stated(summary)
    backlog = Backlog(sprint, tasks, warnings, where, stated_path, stated_phases)
    warnings.extend(_compare_summary(backlog, path, summary))
    return backlog


def _scan(lines: list[str]) -> tuple[SprintInfo, list[_Item], list[tuple[str, int]]]:
    """One pass over the lines: the sprint (title, goal, header fields, text after the
    summary), each `###` item with its fields and blocks, and the Summary's lines."""
    sprint = SprintInfo()
    header: list[list[str]] = []
    items: list[_Item] = []
    section = ""
    current: _Item | None = None
    block: str | None = None
    summary: list[tuple[str, int]] = []
    trailer: list[str] | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if trailer is not None:
            trailer.append(raw)
            continue
        if line.startswith("# ") and sprint.id is None and not items:
            _title(sprint, line[2:].strip())
            continue
        if line.startswith("## "):
            section = line[3:].strip().lower()
            current, block = None, None
            continue
        if section == "summary":
            if line.strip() == "---":
                trailer = []
            else:
                summary.append((line, number))
            continue
        m = _QUOTE_FIELD.match(line)
        if m and current is None:
            if m["key"].strip().lower() == "sprint goal":
                sprint.goal = m["value"]
            else:
                header.append([m["key"].strip(), m["value"]])
            continue
        m = _ITEM.match(line)
        if m:
            current = _Item(m["id"], m["title"].strip(), number)
            items.append(current)
            block = None
            continue
        if current is not None:
            current, block = _item_line(current, block, line, number)
    if header:
        sprint.extra["header"] = header
    if trailer is not None and any(t.strip() for t in trailer):
        sprint.extra["trailer"] = "\n".join(trailer).strip("\n")
    return sprint, items, summary


def _title(sprint: SprintInfo, heading: str) -> None:
    """`# S1 Backlog` names the sprint; any other wording is kept to write back."""
    name = re.split(r"\s+Backlog\b", heading, maxsplit=1)[0].strip() or "sprint"
    sprint.id = name.replace(" ", "-")
    if heading != f"{sprint.id} Backlog":
        sprint.extra["heading"] = heading


def _item_line(
    current: _Item, block: str | None, line: str, number: int
) -> tuple[_Item | None, str | None]:
    """A line inside an item: `---` ends it, a field is taken (a block field opens a
    block), any other line goes to the open block. The item and block after it."""
    if line.strip() == "---":
        return None, None
    m = _FIELD.match(line) or _PLAIN_FIELD.match(line)
    if m:
        key = m["key"].strip()
        if key.lower() in _BLOCKS:
            block = key.lower()
            current.blocks[block] = [(m["value"], number)] if m["value"] else []
            return current, block
        current.fields.append((key, m["value"], number))
        return current, None
    if block is not None:
        current.blocks[block].append((line, number))
    return current, block


def _block_text(rows: list[tuple[str, int]]) -> str:
    return "\n".join(r for r, _ in rows).strip("\n")


def _task(item: _Item, path: Path, warnings: list[str]) -> Task:
    task = Task(id=item.id, title=item.title)
    extra_fields: dict[str, str] = {}
    status_seen = False
    for key, value, number in item.fields:
        name = key.lower()
        if name == "type":
            task.type = value
        elif name == "complexity":
            task.complexity = value or None
        elif name == "status":
            status_seen = True
            _status(task, value, f"{path}:{number}: {item.id}", warnings)
        elif name == "priority":
            _priority(task, value, f"{path}:{number}: {item.id}", warnings)
        elif name in ("dependencies", "depends on"):
            task.dependencies = parse_ids(value)
        elif name in ("assigned", "assigned to", "agent", "owner"):
            if value.strip().lower() in _NO_AGENT:
                task.extra["assigned_text"] = value
                if value.strip().lower() == "needs planning" and not status_seen:
                    task.status = "needs_plan"
            else:
                task.agent = value
        elif name in ("estimated time", "estimate"):
            task.estimate = parse_estimate(value)
            if task.estimate is None and value:
                warnings.append(f"{path}:{number}: {item.id}: cannot read estimate {value!r}")
        elif name == "role":
            task.role = value
        elif name in ("capabilities", "caps"):
            task.caps = [c.strip() for c in value.split(",") if c.strip()]
        elif name == "parent":
            task.parent = value or None
        elif name == "blocked reason":
            task.blocked_reason = value or None
        else:
            extra_fields[key] = value
    if extra_fields:
        task.extra["backlog_fields"] = extra_fields
    task.description = _block_text(item.blocks.get("description", []))
    task.links = _block_text(item.blocks.get("links to objective", [])) or None
    task.criteria = _criteria(item, path)
    task.steps = _steps(item, path)
    return task


def _status(task: Task, value: str, where: str, warnings: list[str]) -> None:
    """`Status: blocked: reason` (or a status word); an unknown one stays needs_plan."""
    status = parse_status(value.split(":")[0])
    if status is None:
        warnings.append(f"{where}: unknown status {value!r}, read as needs_plan")
        task.extra["status_text"] = value
        return
    task.status = status
    reason = value.partition(":")[2].strip()
    if status == "blocked" and reason:
        task.blocked_reason = reason


def _priority(task: Task, value: str, where: str, warnings: list[str]) -> None:
    """`Priority: P1` or a word for one; an unknown one reads as 3. A label that is not
    the bare number is kept to write back."""
    prio = parse_priority(value)
    if prio is None:
        warnings.append(f"{where}: unknown priority {value!r}, read as 3")
        prio = 3
    task.priority = prio
    if value != str(prio):
        task.extra["priority_label"] = value


def _criteria(item: _Item, path: Path) -> list[Criterion]:
    out: list[Criterion] = []
    for line, number in item.blocks.get("acceptance criteria", []):
        m = _CHECKBOX.match(line)
        text, done = (m["text"], m["mark"] != " ") if m else (None, False)
        if text is None:
            b = _BULLET.match(line)
            if b is None:
                if line.strip() and out:  # a wrapped criterion continues the previous one
                    out[-1].text = f"{out[-1].text} {line.strip()}"
                continue
            text = b["text"]
        try:
            out.append(parse_criterion(text, done=done))
        except ValueError as exc:
            raise SprintFileError(path, number, f"{item.id}: {exc}") from None
    return out


def _steps(item: _Item, path: Path) -> list[Step]:
    out: list[Step] = []
    for line, number in item.blocks.get("steps", []):
        if not line.strip():
            continue
        m = _STEP.match(line)
        if m is None:
            raise SprintFileError(
                path, number, f"{item.id}: write a step as - `tool` `{{json config}}`"
            )
        config: Any = {}
        if m["config"]:
            try:
                config = json.loads(m["config"])
            except json.JSONDecodeError as exc:
                raise SprintFileError(
                    path, number, f"{item.id}: step {m['tool']}: config is not JSON ({exc.msg})"
                ) from None
            if not isinstance(config, dict):
                raise SprintFileError(
                    path, number, f"{item.id}: step {m['tool']}: config must be a JSON object"
                )
        out.append(Step(tool=m["tool"].strip(), config=config))
    return out


def _summary_block(summary: list[tuple[str, int]], key: str) -> list[tuple[str, int]]:
    """The lines under `**KEY:**` in the Summary, up to the next bold key or blank gap."""
    out: list[tuple[str, int]] = []
    inside = False
    for line, number in summary:
        m = _FIELD.match(line)
        if m and not line.lstrip().startswith(("-", "*  ")):
            if inside:
                break
            if m["key"].strip().lower() == key:
                inside = True
                if m["value"]:
                    out.append((m["value"], number))
            continue
        if inside and line.strip():
            out.append((line, number))
    return out


def _stated(summary: list[tuple[str, int]]) -> tuple[list[str], list[list[str]]]:
    path_lines = _summary_block(summary, "critical path")
    stated_path = parse_ids(re.split(r"\(\d", path_lines[0][0])[0]) if path_lines else []
    phases: list[list[str]] = []
    for line, _ in _summary_block(summary, "parallel opportunities"):
        m = re.match(r"^\s*[-*]\s*Phase\s+\d+[^:]*:(?P<rest>.*)$", line)
        if m:
            members = re.sub(r"\([^)]*\)", "", m["rest"]).split(" after ")[0]
            phases.append(parse_ids(members))
    return stated_path, phases


def _compare_summary(backlog: Backlog, path: Path, summary: list[tuple[str, int]]) -> list[str]:
    if not backlog.stated_critical_path and not backlog.stated_phases:
        return []
    result = analyze(backlog.tasks)
    by_id = {t.id: t for t in backlog.tasks}
    out: list[str] = []
    stated = backlog.stated_critical_path
    if stated and stated != result.critical_path:
        line = next((n for _, n in _summary_block(summary, "critical path")), 0)
        why = []
        for a, b in zip(stated, stated[1:], strict=False):
            if b in by_id and a not in by_id[b].dependencies:
                leaf = "" if result.unblocks.get(a) else f"; {a} is a leaf, nothing depends on it"
                why.append(f"{b} does not depend on {a}{leaf}")
        out.append(
            f"{path}:{line}: the stated critical path {format_path(stated)} does not follow "
            f"from the dependencies ({'; '.join(why) or 'another chain is longer'}); by the "
            f"dependencies and estimates it is {format_path(result.critical_path)} "
            f"({result.length_min}-{result.length_max} min)"
        )
    phases = backlog.stated_phases
    if phases and phases != result.phases:
        line = next((n for _, n in _summary_block(summary, "parallel opportunities")), 0)
        computed = "; ".join(" + ".join(p) for p in result.phases)
        out.append(
            f"{path}:{line}: the {len(phases)} stated phases disagree with the dependencies, "
            f"which give {len(result.phases)}: {computed}"
        )
    return out


_SIZES = {"S": "Small", "M": "Medium", "L": "Large", "XL": "Extra large"}


def _minutes(low: int, high: int) -> str:
    span = f"{low:,}-{high:,}" if low != high else f"{low:,}"
    hours = f"{low / 60:.4g}-{high / 60:.4g}" if low != high else f"{low / 60:.4g}"
    return f"{span} minutes ({hours} hours)"


def _estimate(e: Estimate) -> str:
    return f"{e.low}-{e.high} minutes" if e.low != e.high else f"{e.low} minutes"


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _task_lines(t: Task) -> list[str]:
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
        out += _task_lines(t)
        out += ["", "---", ""]
    out += _summary(tasks)
    trailer = sprint.extra.get("trailer")
    if isinstance(trailer, str) and trailer:
        out += ["", "---", "", trailer]
    return "\n".join(out) + "\n"
