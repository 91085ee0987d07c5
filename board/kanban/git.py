"""Git history of the board files: commits that say what changed, a KANBAN.md merge
driver, and a push that reads rejections from the result and pulls before retrying.

A `KANBAN.md` pulled from another clone is a person's edit: the merge driver runs it
through the same three-way merge as a local edit (never "ours"/"theirs"), so a decision
written on another machine cannot be dropped by a merge. A file that does not parse is
never committed, and a push is never forced.
"""

from __future__ import annotations

import logging
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sprintboard.board.kanban.merge import merge_edit
from sprintboard.board.kanban.model import KanbanDocument
from sprintboard.board.kanban.parse import parse_kanban
from sprintboard.board.kanban.render import render_kanban
from sprintboard.board.kanban.sync import KanbanSync
from sprintboard.board.local import LocalBoard
from sprintboard.board.state import BoardState
from sprintboard.errors import BoardError, KanbanParseError
from sprintboard.files import atomic_write

__all__ = [
    "DRIVER_NAME",
    "GitAutoCommit",
    "PushResult",
    "commit_board",
    "describe_changes",
    "install_merge_driver",
    "merge_kanban_files",
    "push_with_retry",
]

log = logging.getLogger(__name__)

DRIVER_NAME = "sprintboard-kanban"
_BOARD_FILES = ("sprints/events.jsonl", "sprints/SPRINT_QUEUE.json")
_GITATTRIBUTES_LINE = f"KANBAN.md merge={DRIVER_NAME}"


def _repo(root: Path) -> Any:
    import git  # gitpython costs ~100 ms to import; only git work needs it

    return git.Repo(root)


def describe_changes(before: BoardState | None, after: BoardState) -> str:
    """A commit message: `board: T004 ready -> in_progress (builder-1)`, one change a line."""
    changes: list[str] = []
    old = before.tasks if before is not None else {}
    for task in after.tasks.values():
        prev = old.get(task.id)
        who = f" ({task.agent})" if task.agent else ""
        if prev is None:
            changes.append(f"{task.id} added ({task.status}): {task.title}")
        elif prev.status != task.status:
            changes.append(f"{task.id} {prev.status} -> {task.status}{who}")
        elif prev.updated != task.updated:
            changes.append(f"{task.id} updated{who}")
    for kind, items, was in (
        ("decision", after.decisions, before.decisions if before else []),
        ("note", after.notes, before.notes if before else []),
    ):
        for item in items[len(was) :]:
            changes.append(f"{kind} by {item.actor}: {item.text.splitlines()[0][:60]}")
    if not changes:
        return f"board: seq {after.seq}"
    head = f"board: {changes[0]}" + (f" (+{len(changes) - 1} more)" if len(changes) > 1 else "")
    return head + ("\n\n" + "\n".join(f"- {c}" for c in changes) if len(changes) > 1 else "")


def commit_board(root: Path, message: str, kanban: KanbanSync | None = None) -> str | None:
    """Commit the board files that changed; returns the commit sha, or None if nothing did.

    KANBAN.md is committed only when it parses (a person's half-done or broken edit stays
    out of history until it is fixed and merged).
    """
    repo = _repo(root)
    paths = [p for p in _BOARD_FILES if (root / p).exists()]
    kanban_file = root / "KANBAN.md"
    if kanban_file.exists():
        try:
            data = kanban_file.read_bytes()
            if kanban is None or not kanban.is_rendered(data):
                parse_kanban(data, kanban_file)
            paths.append("KANBAN.md")
        except KanbanParseError as exc:
            log.warning("not committing KANBAN.md: %s", exc)
    if (root / ".gitattributes").exists():
        paths.append(".gitattributes")
    repo.index.add(paths)
    if repo.head.is_valid() and not repo.index.diff("HEAD"):
        return None
    return str(repo.index.commit(message).hexsha)


class GitAutoCommit:
    """A `BoardObserver` that commits the board files after each change (`[kanban] auto_commit`).

    Put it after the `KanbanSync` in `LocalBoard.observers`, so the commit holds the new KANBAN.md.
    """

    def __init__(self, root: Path, kanban: KanbanSync | None = None) -> None:
        self.root, self.kanban = Path(root), kanban
        self._last: BoardState | None = None

    def render(self, state: BoardState) -> None:
        if self._last is not None and state.seq == self._last.seq:
            return
        commit_board(self.root, describe_changes(self._last, state), self.kanban)
        self._last = state


def install_merge_driver(root: Path, command: str | None = None) -> None:
    """Route KANBAN.md merges through sprintboard: `.gitattributes` plus the driver in
    `.git/config` (git does not read drivers from the tree, so each clone runs this)."""
    attributes = root / ".gitattributes"
    lines = attributes.read_text(encoding="utf-8").splitlines() if attributes.exists() else []
    if _GITATTRIBUTES_LINE not in lines:
        atomic_write(attributes, ("\n".join([*lines, _GITATTRIBUTES_LINE]) + "\n").encode())
    driver = command or (
        f"{shlex.quote(sys.executable)} -c 'from sprintboard.cli import main; main()' "
        "board merge-driver %O %A %B %P"
    )
    repo = _repo(root)
    with repo.config_writer() as cfg:
        cfg.set_value(f'merge "{DRIVER_NAME}"', "name", "sprintboard KANBAN.md three-way merge")
        cfg.set_value(f'merge "{DRIVER_NAME}"', "driver", driver)


def merge_kanban_files(
    board: LocalBoard, kanban: KanbanSync, ancestor: Path, ours: Path, theirs: Path, actor: str
) -> list[str]:
    """The merge driver: take `theirs` as a person's edit of `ancestor`, apply it to the
    board as events, and write the re-rendered file to `ours` (git's result file).

    Returns the merge warnings.

    Raises:
        KanbanParseError: `theirs` does not parse (conflict markers, mojibake...); `ours`
            is left alone and git reports a conflict.
    """
    warnings: list[str] = []
    accepted: list[tuple[BoardState, KanbanDocument]] = []
    base_data = ancestor.read_bytes() if ancestor.exists() else b""

    def build(state: BoardState) -> list[Any]:
        base_doc = parse_kanban(base_data, ancestor) if base_data.strip() else KanbanDocument()
        edited = parse_kanban(theirs.read_bytes(), theirs, taken=list(state.tasks))
        result = merge_edit(base_doc, edited, state, actor)
        warnings.extend(result.warnings)
        accepted.append((state, edited))
        return list(result.drafts)

    observers, board.observers = board.observers, []  # git owns the tree until the merge ends
    try:
        board.transact(build)
    finally:
        board.observers = observers
    layout = accepted[-1][1]
    text = render_kanban(board.snapshot(), layout, kanban.headings).encode("utf-8")
    atomic_write(ours, text)
    kanban.accept_rendered(text)
    return warnings


@dataclass(slots=True)
class PushResult:
    """What `push_with_retry` did: pushed or not, after how many tries, and git's words."""

    pushed: bool
    attempts: int
    summaries: list[str] = field(default_factory=list)


def push_with_retry(
    root: Path, remote: str = "origin", branch: str | None = None, tries: int = 3
) -> PushResult:
    """Push; on rejection (read from the push result, which does not raise) pull with
    merge and try again. Never forces.

    Raises:
        BoardError: the pull did not merge cleanly; the repository is left for a person.
    """
    # GitPython loads only when git is used (start-up time)
    import git

    repo = _repo(root)
    branch = branch or repo.active_branch.name
    result = PushResult(False, 0)
    for attempt in range(1, tries + 1):
        result.attempts = attempt
        try:
            infos = repo.remote(remote).push(f"{branch}:{branch}")
        except git.GitCommandError as exc:  # older gitpython raised on some failures
            result.summaries.append(str(exc).strip())
            infos = None
        bad = git.PushInfo.REJECTED | git.PushInfo.REMOTE_REJECTED | git.PushInfo.ERROR
        bad |= git.PushInfo.REMOTE_FAILURE
        if infos is not None:
            result.summaries += [str(i.summary).strip() for i in infos]
            if infos and not any(i.flags & bad for i in infos) and infos.error is None:
                result.pushed = True
                return result
        try:
            repo.git.pull("--no-rebase", "--no-edit", remote, branch)
        except git.GitCommandError as exc:
            raise BoardError(
                f"{root}: `git pull {remote} {branch}` did not merge cleanly ({exc.stderr.strip()}); "
                "resolve it by hand, then run `sprintboard board sync --push`"
            ) from None
        # The merge driver turned pulled KANBAN.md edits into journal events: commit them too.
        commit_board(root, f"board: events from KANBAN.md edits pulled from {remote}/{branch}")
    return result
