"""The live watcher: real watchdog observers on a real directory, waited on by bounded polling."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.kanban.sync import KanbanSync
from sprintboard.board.kanban.watcher import KanbanWatcher
from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until `condition` holds; the watcher runs in other threads."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the watcher")
        time.sleep(0.01)


def _save(path: Path, text: str) -> None:
    tmp = path.with_name("KANBAN.md~")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # editors save by rename: the watcher watches the directory


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[LocalBoard, KanbanSync]:
    view = KanbanSync(tmp_path, actor="human:ana")
    board = LocalBoard(
        tmp_path,
        host="alpha",
        policy=BoardPolicy(owner="alpha", open_claims=True),
        clock=FrozenClock(),
        ids=CounterIds(),
        observers=[view],
    )
    board.create_tasks([{"id": "T001", "title": "Audit", "status": "ready"}])
    return board, view


@pytest.mark.parametrize("polling", [False, True], ids=["inotify", "polling"])
def test_a_saved_edit_is_merged_and_rendered_back(
    workspace: tuple[LocalBoard, KanbanSync], polling: bool
) -> None:
    board, view = workspace
    with KanbanWatcher(board, view, polling=polling, poll_interval=0.05, rescan=30) as watcher:
        text = view.path.read_text("utf-8")
        _save(view.path, text.replace("## 🧭 Decisions\n", "## 🧭 Decisions\n- Ship Friday\n"))
        _wait_for(lambda: any(e.op == "decision.add" for e in board.events()))
        _wait_for(lambda: "- Ship Friday _(human:ana," in view.path.read_text("utf-8"))
        assert watcher.reports and watcher.reports[-1].error is None
    assert board.snapshot().decisions[0].actor == "human:ana"


def test_the_rescan_catches_an_edit_no_event_announced(
    workspace: tuple[LocalBoard, KanbanSync],
) -> None:
    board, view = workspace
    with KanbanWatcher(board, view, rescan=0.1) as watcher:
        assert watcher._observer is not None
        watcher._observer.unschedule_all()  # as if inotify dropped every event
        text = view.path.read_text("utf-8")
        _save(view.path, text.replace("`T001` P3", "`T001` P1"))
        _wait_for(lambda: board.snapshot().tasks["T001"].priority == 1)


def test_a_broken_save_is_reported_once_and_merged_when_fixed(
    workspace: tuple[LocalBoard, KanbanSync],
) -> None:
    board, view = workspace
    good = view.path.read_text("utf-8")
    with KanbanWatcher(board, view, rescan=0.05) as watcher:
        _save(view.path, good[: good.index("## 👀 Review")])  # cut short, as mid-save
        _wait_for(lambda: any(r.error is not None for r in watcher.reports))
        seq = board.snapshot().seq
        board.claim("T001", agent="builder-1", host="alpha", ttl=600)  # the board goes on
        assert board.snapshot().seq == seq + 1
        assert "## 👀 Review" not in view.path.read_text("utf-8")  # never overwritten
        errors = sum(r.error is not None for r in watcher.reports)
        _save(view.path, good.replace("## 📝 Notes\n", "## 📝 Notes\n- back\n"))
        _wait_for(lambda: [n.text for n in board.snapshot().notes] == ["back"])
        assert sum(r.error is not None for r in watcher.reports) == errors  # reported once
    state = board.snapshot()
    assert state.tasks["T001"].status == "in_progress"  # the claim survived the merge
