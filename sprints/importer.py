"""Load a sprint backlog (.md) or a SPRINT_QUEUE.json into a board, and write them back out.

An import is one atomic `apply`: it is checked completely first (conflict markers, JSON,
duplicate ids, unknown dependencies, cycles) and refused with file:line, so the board
keeps its last good state. Tasks already on the board are left alone, so importing the
same file twice changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sprintboard.board.client import EventDraft
from sprintboard.board.clock import format_ts, parse_ts
from sprintboard.board.codec import task_to_dict
from sprintboard.board.collector import collector_paused
from sprintboard.board.kanban.parse import heading_key
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import ACTIVE_STATUSES, SprintInfo, Task
from sprintboard.board.state import BoardState
from sprintboard.board.values import MAX_TTL, check_task, clean_line, integer
from sprintboard.errors import BoardError, InvalidValue, SprintFileError
from sprintboard.sprints.backlog import parse_backlog, render_backlog
from sprintboard.sprints.graph import validate_graph
from sprintboard.sprints.queue_format import ImportedLease, parse_queue, render_queue

__all__ = ["ExportFormat", "ImportReport", "export_text", "import_file", "read_sprint_file"]

ExportFormat = Literal["backlog", "queue"]
_ACTOR = "human:import"


class ImportReport(BaseModel):
    """What an import did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    kind: Literal["backlog", "queue"]
    sprint_id: str | None
    created: list[str]
    """Task ids added to the board, in file order."""
    skipped: list[str]
    """Task ids already on the board (left as they are)."""
    leases: list[str]
    """Task ids whose lease was granted again under fencing."""
    warnings: list[str]


def read_sprint_file(
    path: Path,
) -> tuple[
    Literal["backlog", "queue"],
    SprintInfo,
    list[Task],
    list[str],
    list[ImportedLease],
    dict[str, int],
]:
    """Parse a backlog or queue file and check its graph.

    Raises:
        SprintFileError: unreadable, conflict markers, invalid JSON, duplicate ids, unknown
            dependencies or a dependency cycle (each with the file and line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SprintFileError(path, 0, "no such file") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise SprintFileError(path, line, "not UTF-8 text; re-save it as UTF-8") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        queue = parse_queue(text, path)
        kind: Literal["backlog", "queue"] = "queue"
        sprint, tasks, warnings, leases, lines = (
            queue.sprint, queue.tasks, list(queue.warnings), queue.leases, queue.lines,
        )  # fmt: skip
    else:
        backlog = parse_backlog(text, path)
        kind = "backlog"
        sprint, tasks, warnings, leases, lines = (
            backlog.sprint, backlog.tasks, list(backlog.warnings), [], backlog.lines,
        )  # fmt: skip
        if not tasks:
            _refuse_empty_backlog(path, text)
    return kind, sprint, tasks, warnings, leases, lines


def _refuse_empty_backlog(path: Path, text: str) -> None:
    """A backlog without one task would only replace the sprint: refuse it, and point a
    KANBAN.md (a board people edit, not a sprint backlog) to `board sync`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## ") and heading_key(line[3:]) is not None:
            raise SprintFileError(
                path,
                number,
                "this is a KANBAN.md board (its sections are board columns), not a sprint "
                "backlog: copy it over the workspace's KANBAN.md and run `sprintboard board "
                "sync` to merge its cards",
            )
    raise SprintFileError(
        path,
        1,
        "no task found (a backlog task starts with a `### T001: Title` heading)",
    )


def _check_graph(path: Path, tasks: list[Task], lines: dict[str, int], board: BoardState) -> None:
    known = set(lines) | set(board.tasks)
    for t in tasks:
        unknown = [d for d in t.dependencies if d not in known]
        if unknown:
            raise SprintFileError(
                path,
                lines.get(t.id, 0),
                f"{t.id} depends on unknown task(s) {', '.join(unknown)}; add them or fix the "
                "dependency list",
            )
    try:
        validate_graph([*tasks, *(t for tid, t in board.tasks.items() if tid not in lines)])
    except BoardError as exc:
        first = next((lines[t] for t in lines if t in str(exc)), 0)
        raise SprintFileError(path, first, str(exc)) from None


def _check_values(
    path: Path, tasks: list[Task], leases: list[ImportedLease], lines: dict[str, int]
) -> None:
    """Canonical one-line reasons, and lease TTLs refused with the file's line (the write
    path checks every value of the tasks it creates: `import_file` names their lines)."""
    for task in tasks:
        if task.blocked_reason:  # shown on one line in KANBAN.md: store it as shown
            task.blocked_reason = clean_line(task.blocked_reason)
    for lease in leases:
        try:
            integer(lease.ttl, "lease ttl", 1, MAX_TTL, lease.task)
        except InvalidValue as exc:
            raise SprintFileError(path, lines.get(lease.task, 0), str(exc)) from None


def _refused(path: Path, exc: InvalidValue, lines: dict[str, int]) -> SprintFileError:
    """A value the write path refused, at the line of the task it names (its id, or the
    id itself when that is the bad value)."""
    line = lines.get(exc.task or "", 0) or lines.get(str(exc.value), 0)
    return SprintFileError(path, line, str(exc))


def _origin_name(path: Path, root: Path) -> str:
    """The imported file as a task's origin: relative to the workspace when inside it."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(root.resolve()))
    except ValueError:
        return str(resolved)


def _sprint_start(
    state: BoardState, sprint: SprintInfo, path: Path, warnings: list[str]
) -> list[EventDraft]:
    """A `sprint.start` when the file names another sprint than the board's (with a warning
    when it replaces one)."""
    if sprint.id is None or state.sprint.id == sprint.id:
        return []
    if state.sprint.id is not None:
        warnings.append(
            f"the board's sprint {state.sprint.id} is replaced by {sprint.id} from {path.name}"
        )
    fields = {
        "id": sprint.id,
        "goal": sprint.goal,
        "wip_limits": sprint.wip_limits,
        "extra": sprint.extra,
    }
    return [EventDraft("sprint.start", None, fields, _ACTOR)]


def _regrant(
    task: Task, lease: ImportedLease | None, now: datetime, fence: int, warnings: list[str]
) -> list[EventDraft]:
    """An active task keeps its work only under a live lease: a `lease.grant` with `fence`
    (and a move back to its status) after it is created ready. Without one it comes in
    ready, unowned, with a warning, so someone can claim it."""
    target = task.status
    expires = (
        parse_ts(lease.last_heartbeat) + timedelta(seconds=lease.ttl)
        if lease is not None and lease.last_heartbeat
        else None
    )
    if lease is None or expires is None or expires <= now:
        held = f"lease of {lease.agent}@{lease.host}" if lease else "no lease"
        warnings.append(
            f"{task.id} was {task.status} with {held} "
            f"{'(expired)' if lease else ''}; imported as ready so someone can claim it"
        )
        task.status, task.lease, task.agent = "ready", None, None
        return []
    task.status = "ready"
    grant = {
        "agent": lease.agent,
        "host": lease.host,
        "ttl": lease.ttl,
        "expires": format_ts(expires),
        "fence": fence,
    }
    drafts = [EventDraft("lease.grant", task.id, grant, _ACTOR)]
    if target != "in_progress":
        drafts.append(
            EventDraft("task.move", task.id, {"to": target, "force": True}, _ACTOR, fence)
        )
    return drafts


def import_file(board: LocalBoard, path: Path) -> ImportReport:
    """Import a backlog (.md) or a SPRINT_QUEUE.json (.json) into `board`, atomically.

    Raises:
        SprintFileError: the file is refused (see `read_sprint_file`); nothing is written.
    """
    # 10,000 tasks parsed, checked and written make ~50 containers each and no cycles; the
    # collector's full passes over them were a third of an import (board/collector.py)
    with collector_paused():
        return _import(board, Path(path))


def _import(board: LocalBoard, path: Path) -> ImportReport:
    kind, sprint, tasks, warnings, leases, lines = read_sprint_file(path)
    state = board.snapshot()
    _check_values(path, tasks, leases, lines)
    where = _origin_name(path, board.root)
    for task in tasks:
        if task.id in lines and task.origin is None:
            task.origin = f"{where}:{lines[task.id]}"
    _check_graph(path, tasks, lines, state)
    drafts = _sprint_start(state, sprint, path, warnings)
    now = board.clock.now()
    live = {lease.task: lease for lease in leases}
    created, skipped, granted = [], [], []
    after: list[EventDraft] = []
    fence = state.fence
    for task in tasks:
        if task.id in state.tasks:
            skipped.append(task.id)
            try:  # not written, so the write path never sees it: refused as it would be
                check_task(task_to_dict(task))
            except InvalidValue as exc:
                raise _refused(path, exc, lines) from None
            continue
        if task.status in ACTIVE_STATUSES:
            regrant = _regrant(task, live.get(task.id), now, fence + 1, warnings)
            if regrant:
                fence += 1
                after += regrant
                granted.append(task.id)
        task.lease = None
        drafts.append(EventDraft("task.create", task.id, {"task": task_to_dict(task)}, _ACTOR))
        created.append(task.id)
    try:
        # The write path checks every value (check_draft) before anything is written; the
        # import only names the file's line. Checking here as well doubled the cost.
        board.apply(drafts + after)
    except InvalidValue as exc:
        raise _refused(path, exc, lines) from None
    return ImportReport(
        path=str(path),
        kind=kind,
        sprint_id=sprint.id,
        created=created,
        skipped=skipped,
        leases=granted,
        warnings=warnings,
    )


def export_text(state: BoardState, fmt: ExportFormat) -> str:
    """The board's tasks as a backlog (oodatcaa markdown) or a queue (example JSON shape)."""
    tasks = list(state.tasks.values())
    if fmt == "backlog":
        return render_backlog(tasks, state.sprint)
    return render_queue(tasks, state.sprint)
