"""`SPRINT_QUEUE.json` as other agent systems kept it (the shape of
`examples/SPRINT_QUEUE.example.json` and its real variants), read and written.

Not the board's own snapshot (`board/snapshot.py`, `sprintboard.queue/1`): that one is a
lossless cache only sprintboard reads; this one is an interchange format, so it keeps the
foreign shape, drops what the shape has no place for (fences, criteria, the journal
head) and reads every variant leniently. Hence two codecs, on purpose. Read:
`assigned_to` or `agent`, inline leases, nested `subtasks` with `parent_task`/`parent`,
`lease_ttls`, `heartbeat_interval`, `lock_timeout`; every field sprintboard does not model
is kept in `extra` and written again. Counters that disagree with the tasks are recomputed
with a warning; a finished task that still holds a lease loses it, with a warning.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sprintboard.board.models import FINISHED_STATUSES, SprintInfo, Task
from sprintboard.errors import SprintFileError
from sprintboard.sprints.conflicts import refuse_conflicts
from sprintboard.sprints.field_words import parse_estimate, parse_priority, parse_status

__all__ = ["ImportedLease", "QueueDoc", "parse_queue", "render_queue"]

_TASK_KEYS = {
    "id", "title", "type", "complexity", "status", "priority", "agent", "assigned_to",
    "dependencies", "description", "estimated_time", "lease", "subtasks", "parent_task",
    "parent", "exit_gates", "role", "caps", "blocked_reason", "host",
}  # fmt: skip
_SPRINT_KEYS = {"sprint_id", "status", "goal", "wip_limits", "tasks", "metadata"}
_SPRINT_STATUS = {"in_progress": "in_progress", "active": "in_progress", "closed": "closed"}
_SPRINT_STATUS.update({"done": "closed", "completed": "closed", "planned": "planned"})
_COUNTED = ("ready", "in_progress", "blocked", "done")


@dataclass(frozen=True, slots=True)
class ImportedLease:
    """A lease as the queue file recorded it; the importer re-grants it under fencing."""

    task: str
    agent: str
    host: str
    ttl: int
    last_heartbeat: str | None


@dataclass(frozen=True, slots=True)
class QueueDoc:
    """A parsed queue: sprint, tasks (subtasks flattened after their parent), live leases."""

    sprint: SprintInfo
    tasks: list[Task]
    warnings: list[str]
    leases: list[ImportedLease] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)


# `"id": "<value>"` as JSON writes it; ids are plain (board/values.py), so no escapes.
_ID_KEY = re.compile(r'"id"\s*:\s*"([^"\\]*)"')


def _id_lines(text: str) -> dict[str, list[int]]:
    """Task id -> the lines of its `"id": "<task_id>"` entries, in file order.

    One pass over the text: looking each id up from the start made a 40k-task import
    quadratic (minutes).
    """
    found: dict[str, list[int]] = {}
    line, last = 1, 0
    for match in _ID_KEY.finditer(text):
        at = match.start(1)
        line += text.count("\n", last, at)
        last = at
        found.setdefault(match.group(1), []).append(line)
    return found


def _line_of(lines: dict[str, list[int]], task_id: str, nth: int = 0) -> int:
    """The line of the `nth` `"id": "<task_id>"` in the raw text (1 if not found)."""
    seen = lines.get(task_id, [])
    return seen[nth] if nth < len(seen) else 1


def parse_queue(text: str, path: Path) -> QueueDoc:
    """Parse a SPRINT_QUEUE.json text; `path` is only used in messages.

    Raises:
        SprintFileError: conflict markers, invalid JSON, not a queue, duplicate ids, or a
            task that does not fit (with the line of the task).
    """
    refuse_conflicts(text, path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SprintFileError(
            path, exc.lineno, f"not valid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), list):
        raise SprintFileError(path, 1, "not a sprint queue: expected an object with a `tasks` list")
    warnings: list[str] = []
    try:
        sprint = _sprint(doc)
    except (ValueError, TypeError, OverflowError) as exc:
        raise SprintFileError(path, 1, f"a bad sprint value ({exc})") from None
    tasks: list[Task] = []
    leases: list[ImportedLease] = []
    lines: dict[str, int] = {}
    seen: Counter[str] = Counter()
    ttls: dict[str, Any] = doc["lease_ttls"] if isinstance(doc.get("lease_ttls"), dict) else {}

    id_lines = _id_lines(text)

    def add(raw: Any, parent: str | None) -> None:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            where = _line_of(id_lines, parent) if parent else 1
            raise SprintFileError(path, where, "a task without a string `id`; give it one")
        tid = raw["id"]
        line = _line_of(id_lines, tid, seen[tid])
        seen[tid] += 1
        if tid in lines:
            raise SprintFileError(
                path,
                line,
                f"duplicate task id {tid} (first at line {lines[tid]}); ids must be unique",
            )
        lines[tid] = line
        try:
            task, lease = _task(raw, parent, ttls, path, line, warnings)
        except (ValueError, TypeError, OverflowError) as exc:
            raise SprintFileError(path, line, f"{tid}: a bad value ({exc})") from None
        tasks.append(task)
        if lease is not None:
            leases.append(lease)
        for sub in raw.get("subtasks") or []:
            add(sub, tid)

    for raw in doc["tasks"]:
        add(raw, None)
    top_ids = {raw["id"] for raw in doc["tasks"]}
    warnings.extend(_check_counters(doc, [t for t in tasks if t.id in top_ids], tasks))
    return QueueDoc(sprint, tasks, warnings, leases, lines)


def _sprint(doc: dict[str, Any]) -> SprintInfo:
    raw_status = str(doc.get("status") or "planned")
    status = _SPRINT_STATUS.get(raw_status.lower(), "planned")
    extra = {k: v for k, v in doc.items() if k not in _SPRINT_KEYS}
    if status != raw_status:
        extra["status_text"] = raw_status
    meta = doc.get("metadata")
    if isinstance(meta, dict) and meta.get("created"):
        extra["created"] = meta["created"]
    sprint_id = doc.get("sprint_id") or (f"sprint-{doc['sprint']}" if "sprint" in doc else None)
    wip: dict[str, Any] = doc["wip_limits"] if isinstance(doc.get("wip_limits"), dict) else {}
    return SprintInfo(
        id=sprint_id,
        goal=str(doc.get("goal") or ""),
        status=status,  # type: ignore[arg-type]
        wip_limits={str(k): int(v) for k, v in wip.items()},
        extra=extra,
    )


def _task(
    raw: dict[str, Any],
    parent: str | None,
    ttls: dict[str, Any],
    path: Path,
    line: int,
    warnings: list[str],
) -> tuple[Task, ImportedLease | None]:
    tid = raw["id"]
    task = Task(id=tid, title=str(raw.get("title") or tid))
    status = parse_status(str(raw.get("status") or "needs_plan"))
    if status is None:
        raise SprintFileError(path, line, f"{tid}: unknown status {raw.get('status')!r}")
    task.status = status
    prio = raw.get("priority")
    task.priority = prio if isinstance(prio, int) else parse_priority(str(prio or "3")) or 3
    task.type = str(raw.get("type") or "Task")
    task.complexity = raw.get("complexity")
    deps = raw.get("dependencies") or []
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise SprintFileError(path, line, f"{tid}: `dependencies` must be a list of task ids")
    task.dependencies = list(dict.fromkeys(deps))
    task.description = str(raw.get("description") or "")
    if raw.get("estimated_time"):
        task.estimate = parse_estimate(str(raw["estimated_time"]))
    task.role = str(raw.get("role") or "builder")
    task.caps = list(raw.get("caps") or [])
    task.agent = raw.get("agent") or raw.get("assigned_to") or None
    task.host = raw.get("host")
    task.parent = raw.get("parent_task") or raw.get("parent") or parent
    task.exit_gates = [str(g) for g in raw.get("exit_gates") or []]
    task.blocked_reason = raw.get("blocked_reason") or None
    task.extra = {k: v for k, v in raw.items() if k not in _TASK_KEYS}
    if "assigned_to" in raw:
        task.extra["agent_key"] = "assigned_to"
    lease = _lease(raw, task, ttls, warnings)
    return task, lease


def _lease(
    raw: dict[str, Any], task: Task, ttls: dict[str, Any], warnings: list[str]
) -> ImportedLease | None:
    data = raw.get("lease")
    if not isinstance(data, dict):
        return None
    if task.status in FINISHED_STATUSES:
        warnings.append(
            f"{task.id} is {task.status} but still held a lease "
            f"({data.get('agent', '?')}); the lease was released"
        )
        return None
    agent = data.get("agent") or task.agent or "unknown"
    ttl = data.get("ttl") or ttls.get(task.role) or ttls.get("default") or 900
    return ImportedLease(
        task=task.id,
        agent=str(agent),
        host=str(data.get("owner") or data.get("host") or task.host or "unknown"),
        ttl=int(ttl),
        last_heartbeat=data.get("last_heartbeat") or data.get("acquired"),
    )


def _check_counters(doc: dict[str, Any], top: list[Task], tasks: list[Task]) -> list[str]:
    """Counters are checked against the top-level tasks, then against all (some files
    count subtasks); a warning names each counter that matches neither."""
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        return []
    out: list[str] = []
    for scope in (top, tasks):
        actual: dict[str, int] = {"total_tasks": len(scope)}
        actual.update(Counter(t.status for t in scope))
        wrong = [
            (k, v, actual.get(k, 0))
            for k, v in meta.items()
            if isinstance(v, int) and (k == "total_tasks" or parse_status(k) == k)
            and v != actual.get(k, 0)
        ]  # fmt: skip
        if not wrong:
            return []
        if not out:
            out = [f"metadata.{k} says {v} but the tasks give {n}; recomputed" for k, v, n in wrong]
    return out


def _lease_dict(task: Task) -> dict[str, Any] | None:
    if task.lease is None:
        return None
    return {
        "agent": task.lease.agent,
        "owner": task.lease.host,
        "acquired": task.lease.acquired,
        "ttl": task.lease.ttl,
        "last_heartbeat": task.lease.last_heartbeat,
        "expires": task.lease.expires,
        "fence": task.lease.fence,
    }


def _task_dict(task: Task, children: dict[str, list[Task]]) -> dict[str, Any]:
    agent_key = task.extra.get("agent_key", "agent")
    out: dict[str, Any] = {"id": task.id, "title": task.title, "type": task.type}
    out["complexity"] = task.complexity
    out["status"] = task.status
    out["priority"] = task.priority
    out[agent_key] = task.agent
    out["dependencies"] = list(task.dependencies)
    if task.estimate is not None:
        out["estimated_time"] = f"{task.estimate.low}-{task.estimate.high} min"
    if task.description:
        out["description"] = task.description
    if task.role != "builder":
        out["role"] = task.role
    if task.caps:
        out["caps"] = list(task.caps)
    if task.blocked_reason:
        out["blocked_reason"] = task.blocked_reason
    if task.parent:
        out["parent_task"] = task.parent
    if task.exit_gates:
        out["exit_gates"] = list(task.exit_gates)
    out["lease"] = _lease_dict(task)
    out.update({k: v for k, v in task.extra.items() if k != "agent_key"})
    kids = children.get(task.id)
    if kids:
        out["subtasks"] = [_task_dict(k, children) for k in kids]
    return out


def render_queue(tasks: Sequence[Task], sprint: SprintInfo) -> str:
    """The queue JSON in the example's shape; counters derived from the tasks."""
    by_id = {t.id: t for t in tasks}
    children: dict[str, list[Task]] = {}
    for t in tasks:
        if t.parent in by_id:
            children.setdefault(t.parent or "", []).append(t)
    extra = dict(sprint.extra)
    created = extra.pop("created", None)
    status_text = extra.pop("status_text", None)
    doc: dict[str, Any] = {}
    if "sprint" in extra:
        doc["sprint"] = extra.pop("sprint")
    doc["sprint_id"] = sprint.id
    doc["status"] = status_text or sprint.status
    if sprint.goal:
        doc["goal"] = sprint.goal
    doc["wip_limits"] = dict(sprint.wip_limits)
    doc.update(extra)
    top = [t for t in tasks if t.parent not in by_id]
    doc["tasks"] = [_task_dict(t, children) for t in top]
    counts: Counter[str] = Counter(t.status for t in top)
    updated = max((t.updated for t in tasks if t.updated), default=None)
    meta: dict[str, Any] = {"created": created, "updated": updated, "total_tasks": len(top)}
    meta.update({s: counts.get(s, 0) for s in _COUNTED})
    meta.update({s: n for s, n in counts.items() if s not in _COUNTED})
    doc["metadata"] = meta
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
