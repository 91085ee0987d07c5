"""`next --json`, `status --json` and `show TASK --json` on the owner host, answered
without typer or pydantic.

Agents and scripts call these in a loop, and most of a call used to be start-up: typer
and pydantic alone cost more than loading a 10,000-task board. `answer` reads the few
options these commands take and answers from the board with plain dataclasses and
orjson; the settings come from `config_cache` (validated once per change of the file).
It declines (returns False, and the typer command runs as before) on anything else:
another command or option, `--help`, `--debug`, a malformed value (typer says what is
wrong), no `--json`, or a host that is not the owner (the owner answers over A2A).

The documents are the typer commands' own: `next_document` is shared with them, and the
pydantic `StatusReport` and `TaskDocument` stay the schemas of `status --json` and
`show --json` (tests/test_cli_quick.py proves both paths print the same bytes).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sprintboard.board.models import Artifact, Lease
from sprintboard.board.scheduling import NextUp
from sprintboard.board.state import BoardState
from sprintboard.board.waits import Wait, state_counters, state_of

__all__ = ["answer", "next_document", "show_document", "status_document"]


@dataclass(slots=True)
class _Args:
    """The options of `next`, `status` and `show` (last one wins, as click does)."""

    values: dict[str, str] = field(default_factory=dict)
    positional: list[str] = field(default_factory=list)
    lists: dict[str, list[str]] = field(default_factory=dict)
    json: bool = False


# option spelling -> (name, repeatable); each takes one value
_NEXT_OPTIONS = {
    "--role": ("role", False),
    "--caps": ("caps", True),
    "--agent": ("agent", False),
    "--limit": ("limit", False),
    "-n": ("limit", False),
    "--host": ("host", False),
    "--workspace": ("workspace", False),
    "-w": ("workspace", False),
    "--timeout": ("timeout", False),
}
_STATUS_OPTIONS = {
    "--host": ("host", False),
    "--workspace": ("workspace", False),
    "-w": ("workspace", False),
    "--timeout": ("timeout", False),
}
_SHOW_OPTIONS = _STATUS_OPTIONS


def _parse(
    args: Sequence[str], options: dict[str, tuple[str, bool]], positional: int
) -> _Args | None:
    """The options and exactly `positional` arguments, or None for anything this parser
    does not know (typer handles it)."""
    out = _Args()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--json":
            out.json = True
            i += 1
            continue
        if not arg.startswith("-"):  # "-" alone and "--" are click's business: declined below
            out.positional.append(arg)
            i += 1
            continue
        name, eq, inline = arg.partition("=")
        if name not in options or (eq and not name.startswith("--")):
            return None
        if eq:
            value = inline
            i += 1
        elif i + 1 < len(args):
            value = args[i + 1]
            i += 2
        else:
            return None
        key, repeatable = options[name]
        if repeatable:
            out.lists.setdefault(key, []).append(value)
        else:
            out.values[key] = value
    return out if out.json and len(out.positional) == positional else None


def _number(text: str | None, kind: Callable[[str], Any]) -> Any:
    """`text` as `kind`, None when absent; raises ValueError like click would refuse it."""
    return None if text is None else kind(text)


def next_document(got: NextUp) -> dict[str, Any]:
    """`sprintboard next --json`."""
    rows = [
        {"id": t.id, "title": t.title, "priority": t.priority, "role": t.role, "caps": t.caps}
        for t in got.tasks
    ]
    return {
        "tasks": rows,
        "wip_limit": got.why.wip_limit if got.why else None,
        "why": got.why.reason if got.why else None,
    }


def _lease(lease: Lease) -> dict[str, Any]:
    """A lease as `status` shows it (`show` adds its ttl, last)."""
    return {
        "agent": lease.agent,
        "host": lease.host,
        "fence": lease.fence,
        "acquired": lease.acquired,
        "expires": lease.expires,
        "last_heartbeat": lease.last_heartbeat,
    }


def status_document(
    root: Path, host: str, state: BoardState, waits: dict[str, Wait] | None = None
) -> dict[str, Any]:
    """`sprintboard status --json` on the owner: `StatusReport` (sprintboard/status.py, the
    schema) as `model_dump(mode="json")` gives it, without the `stale` key; `waits`: what
    each task waits for (board/waits.py)."""
    sprint = state.sprint
    return {
        "version": 1,
        "workspace": str(root),
        "host": host,
        "sprint": {"id": sprint.id, "goal": sprint.goal, "status": sprint.status},
        "counters": state_counters(state),
        "tasks": _task_rows(state, waits or {}),
        "journal": {"seq": state.seq, "head": state.head},
    }


def _task_rows(state: BoardState, waits: dict[str, Wait]) -> list[dict[str, Any]]:
    """`TaskRow`s, one per task in board order.

    One dict literal per task and nothing copied: a 10,000-task board makes 10,000 rows,
    and each call, list copy or property on the way costs milliseconds in all. The task's
    own lists go in as they are (orjson prints them the same); its state and column depend
    only on its status and blocked reason (`state_of`, `column_of`), so they are worked out
    once per pair.
    """
    shown: dict[tuple[str, str | None], tuple[str, str]] = {}
    rows = []
    for task in state.tasks.values():
        key = (task.status, task.blocked_reason)
        names = shown.get(key)
        if names is None:
            names = shown[key] = (state_of(task), task.column)
        lease = task.lease
        wait = waits.get(task.id)
        artifacts = task.artifacts
        rows.append(
            {
                "id": task.id,
                "title": task.title,
                "status": task.status,
                "state": names[0],
                "column": names[1],
                "priority": task.priority,
                "role": task.role,
                "agent": task.agent,
                "host": task.host,
                "dependencies": task.dependencies,
                "blocked_reason": task.blocked_reason,
                "lease": None if lease is None else _lease(lease),
                "updated": task.updated,
                "waits": None
                if wait is None
                else {"on": wait.on, "who": wait.who, "run": wait.run},
                "caps": task.caps,
                "artifacts": [a.path for a in artifacts] if artifacts else [],
            }
        )
    return rows


def _artifacts(artifacts: Sequence[Artifact]) -> list[dict[str, Any]]:
    return [{"path": a.path, "sha256": a.sha256, "size": a.size} for a in artifacts]


def show_document(state: BoardState, task_id: str) -> dict[str, Any]:
    """`sprintboard show TASK --json`: `TaskDocument` (board/document.py, the schema) as
    `model_dump(mode="json")` gives it, field for field in the same order.

    Raises:
        UnknownTask: no such task on the board.
    """
    task = state.task(task_id)
    deps = []
    for dep_id in task.dependencies:
        dep = state.tasks.get(dep_id)
        deps.append(
            {"id": dep_id, "title": "", "status": "unknown", "artifacts": []}
            if dep is None
            else {
                "id": dep.id,
                "title": dep.title,
                "status": dep.status,
                "artifacts": _artifacts(dep.artifacts),
            }
        )
    lease = task.lease
    questions = [
        {
            "id": q.id,
            "text": q.text,
            "actor": q.actor,
            "ts": q.ts,
            "answer": q.answer,
            "answered_by": q.answered_by,
            "answered_at": q.answered_at,
        }
        for q in state.questions
        if q.task == task.id
    ]
    return {
        "id": task.id,
        "title": task.title,
        "description": task.description,
        "status": task.status,
        "column": task.column,
        "priority": task.priority,
        "type": task.type,
        "role": task.role,
        "caps": list(task.caps),
        "estimate": None if task.estimate is None else str(task.estimate),
        "criteria": [
            {
                "index": i,
                "text": c.text,
                "done": c.done,
                "check": c.check,
                "result": c.result,
                "failed": not c.done and c.check is not None and c.result is not None,
            }
            for i, c in enumerate(task.criteria)
        ],
        "dependencies": deps,
        "steps": [{"tool": s.tool, "config": dict(s.config)} for s in task.steps],
        "agent": task.agent,
        "lease": None if lease is None else {**_lease(lease), "ttl": lease.ttl},
        "attempt": task.attempt,
        "artifacts": _artifacts(task.artifacts),
        # the schema's `dict[str, float]` prints 3 as 3.0
        "metrics": {name: float(value) for name, value in task.metrics.items()},
        "notes": [
            {"text": n.text, "actor": n.actor, "ts": n.ts} for n in state.notes if n.task == task.id
        ],
        "questions": questions,
        "decisions": [
            {"text": d.text, "actor": d.actor, "ts": d.ts}
            for d in state.decisions
            if d.task == task.id
        ],
        "blocked_reason": task.blocked_reason,
        "waiting_for_person": any(q["answer"] is None for q in questions),
        "origin": task.origin,
        "updated": task.updated,
    }


def _owner_board(args: _Args, process_host: str | None) -> Any:
    """The owner's `LocalBoard`, opened as `open_board` would, or None on another host."""
    from sprintboard.board.local import LocalBoard
    from sprintboard.config_cache import board_settings
    from sprintboard.workspace import find_workspace

    workspace = args.values.get("workspace")
    root = find_workspace(None if workspace is None else Path(workspace))
    settings = board_settings(root)
    host = settings.host(process_host)
    if host != settings.owner or settings.database:  # a store board opens through open_board
        return None
    # No observers: a read never renders KANBAN.md (see workspace.open_board).
    return LocalBoard(root, host=host, policy=settings.policy, lock_timeout=settings.lock_timeout)


def _print(doc: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def _next(args: _Args) -> bool:
    try:
        limit = _number(args.values.get("limit", "5"), int)
        _number(args.values.get("timeout"), float)
    except ValueError:
        return False
    board = _owner_board(args, None)  # --host is the agent's host here, not this process's
    if board is None:
        return False
    caps = [c.strip() for item in args.lists.get("caps", []) for c in item.split(",") if c.strip()]
    got = board.next_up(
        args.values.get("agent"),
        args.values.get("role"),
        caps or None,
        host=args.values.get("host"),
        limit=limit,
    )
    _print(next_document(got))
    return True


def _read_here(args: _Args) -> Any:
    """The owner's board for `status` and `show` (their `--host` is this process's host),
    or None to decline."""
    try:
        _number(args.values.get("timeout"), float)
    except ValueError:
        return None
    return _owner_board(args, args.values.get("host"))


def _status(args: _Args) -> bool:
    board = _read_here(args)
    if board is None:
        return False
    from datetime import UTC, datetime

    from sprintboard.board.hosts import alive_hosts
    from sprintboard.board.waits import waits

    state = board.snapshot()
    alive = alive_hosts(state, board.policy.owner, datetime.now(UTC))
    found = {w.task: w for w in waits(state, board.policy, alive, here=board.host)}
    _print(status_document(board.root, board.host, state, found))
    return True


def _show(args: _Args) -> bool:
    board = _read_here(args)
    if board is not None:
        _print(show_document(board.refresh(), args.positional[0]))
    return board is not None


# command -> (its options, how many arguments, the answer)
_COMMANDS: dict[str, tuple[dict[str, tuple[str, bool]], int, Callable[[_Args], bool]]] = {
    "next": (_NEXT_OPTIONS, 0, _next),
    "status": (_STATUS_OPTIONS, 0, _status),
    "show": (_SHOW_OPTIONS, 1, _show),
}


def answer(argv: Sequence[str]) -> bool:
    """Answer `argv` (without the program name) here if it is one of the read-only JSON
    commands on the owner; False when the typer CLI should run it instead.

    Raises:
        SprintboardError: as the typer command would (no workspace, a bad config, a journal
            that cannot be trusted, ...); the caller prints it the same way.
    """
    if not argv or argv[0] not in _COMMANDS:
        return False
    options, positional, run = _COMMANDS[argv[0]]
    args = _parse(argv[1:], options, positional)
    if args is None:
        return False
    # These processes load the board, print and exit; everything they build is acyclic,
    # and the collector's passes over a 10k-task state cost more than the command itself.
    gc.disable()
    if run(args):
        return True
    gc.enable()
    return False
