"""Importing backlogs and queues into a LocalBoard: atomic, idempotent, leases re-fenced."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sprintboard.board.local import LocalBoard
from sprintboard.errors import SprintFileError
from sprintboard.sprints.backlog import parse_backlog
from sprintboard.sprints.importer import export_text, import_file
from sprintboard.sprints.queue_format import parse_queue

OpenBoard = Callable[..., LocalBoard]


def test_backlog_import_is_all_there_and_idempotent(open_local: OpenBoard, examples: Path) -> None:
    board = open_local()
    path = examples / "oodatcaa-SPRINT_BACKLOG.md"
    report = import_file(board, path)
    assert report.kind == "backlog" and report.sprint_id == "Sprint-4"
    assert report.created == [f"T00{i}" for i in range(1, 9)]
    assert len(report.warnings) == 2 and "T005 is a leaf" in report.warnings[0]
    state = board.snapshot()
    assert state.sprint.goal.startswith("Training System Foundation")
    assert [t.id for t in board.ready()] == ["T001"]
    seq = state.seq
    again = import_file(board, path)
    assert again.created == [] and len(again.skipped) == 8
    assert board.snapshot().seq == seq


def test_waiting_tasks_become_ready_when_dependencies_are_done(
    open_local: OpenBoard, examples: Path
) -> None:
    board = open_local()
    import_file(board, examples / "oodatcaa-SPRINT_BACKLOG.md")
    board.move("T001", "done", force=True)
    state = board.snapshot()
    assert (state.tasks["T002"].status, state.tasks["T003"].status) == ("ready", "ready")
    assert state.tasks["T004"].status == "blocked"


def test_example_queue_stale_lease_is_not_imported_as_work_in_progress(
    open_local: OpenBoard, examples: Path
) -> None:
    board = open_local()
    report = import_file(board, examples / "SPRINT_QUEUE.example.json")
    assert report.kind == "queue" and report.leases == []
    assert any("T001 was in_progress with lease of builder-2@host-b" in w for w in report.warnings)
    state = board.snapshot()
    assert state.tasks["T001"].status == "ready" and state.tasks["T001"].lease is None
    assert state.sprint.id == "SPRINT-2025-004" and state.sprint.wip_limits["builder"] == 3
    assert state.tasks["T001-B01"].parent == "T001"
    board.create_tasks([{"id": "X1", "title": "x", "status": "ready"}])
    backlog = import_file(board, examples / "oodatcaa-SPRINT_BACKLOG.md")
    assert "sprint SPRINT-2025-004 is replaced by Sprint-4" in backlog.warnings[-1]
    assert backlog.skipped == ["T001", "T002", "T003"] and "T004" in backlog.created


def test_live_lease_is_granted_again_under_fencing(open_local: OpenBoard, tmp_path: Path) -> None:
    queue = {
        "sprint_id": "S1",
        "lease_ttls": {"builder": 1800},
        "tasks": [
            {"id": "T1", "title": "a", "status": "integrating", "assigned_to": "b1",
             "lease": {"agent": "b1", "owner": "host-a", "last_heartbeat": "2025-12-31T23:55:00Z"}},
            {"id": "T2", "title": "b", "status": "done", "dependencies": ["T1"],
             "lease": {"agent": "b2", "owner": "host-b", "ttl": 60}},
        ],
    }  # fmt: skip
    path = tmp_path / "q.json"
    path.write_text(json.dumps(queue), encoding="utf-8")
    board = open_local()
    report = import_file(board, path)
    assert report.leases == ["T1"]
    t1 = board.snapshot().tasks["T1"]
    assert t1.status == "integrating" and t1.lease is not None
    assert (t1.lease.agent, t1.lease.host, t1.lease.expires) == (
        "b1",
        "host-a",
        "2026-01-01T00:25:00.000Z",
    )
    assert board.heartbeat("T1", t1.lease.fence).fence == t1.lease.fence
    assert board.snapshot().tasks["T2"].lease is None


@pytest.mark.parametrize(
    ("name", "text", "line", "reason"),
    [
        (
            "q.json",
            '{"tasks": [\n{"id": "T1", "dependencies": ["T9"]}\n]}',
            2,
            "T1 depends on unknown task",
        ),
        (
            "b.md",
            "### T1: a\n**Dependencies:** T2\n\n### T2: b\n**Dependencies:** T1\n",
            1,
            "cycle",
        ),
        ("q.json", '{"tasks": [\n<<<<<<< a\n=======\n>>>>>>> b\n]}', 2, "conflict markers"),
        ("q.json", '{"tasks": [}', 1, "not valid JSON"),
    ],
)
def test_refused_import_leaves_the_board_as_it_was(
    open_local: OpenBoard, tmp_path: Path, name: str, text: str, line: int, reason: str
) -> None:
    board = open_local()
    board.create_tasks([{"id": "T0", "title": "kept", "status": "ready"}])
    before = board.snapshot().seq
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SprintFileError, match=reason) as info:
        import_file(board, path)
    assert (info.value.path, info.value.line) == (path, line)
    assert board.snapshot().seq == before and list(board.snapshot().tasks) == ["T0"]


def test_export_both_formats_read_back(
    open_local: OpenBoard, examples: Path, tmp_path: Path
) -> None:
    board = open_local()
    import_file(board, examples / "oodatcaa-SPRINT_BACKLOG.md")
    state = board.snapshot()
    backlog = parse_backlog(export_text(state, "backlog"), tmp_path / "BACKLOG.md")
    assert [t.id for t in backlog.tasks] == list(state.tasks)
    assert backlog.warnings == []
    assert [t.dependencies for t in backlog.tasks] == [t.dependencies for t in state.tasks.values()]
    queue = parse_queue(export_text(state, "queue"), tmp_path / "SPRINT_QUEUE.json")
    assert [(t.id, t.status, t.estimate) for t in queue.tasks] == [
        (t.id, t.status, t.estimate) for t in state.tasks.values()
    ]
    assert queue.warnings == []


@pytest.mark.parametrize(
    ("task", "says"),
    [
        ({"id": "T1", "title": "x", "cost": float("nan")}, "finite"),
        ({"id": "T1", "title": "x", "budget": float("inf")}, "finite"),
        ({"id": "T1", "title": "x", "big": 10**30}, "between"),
        ({"id": "A\nB", "title": "x"}, "task id"),
        ({"id": "T1", "title": "two\nlines"}, "title"),
        ({"id": "T1", "title": "x", "agent": "ana\x1b[2J"}, "agent"),
        (
            {"id": "T1", "title": "x", "status": "in_progress", "lease": {"ttl": "NaN"}},
            "bad value",
        ),
        (
            {"id": "T1", "title": "x", "status": "in_progress", "lease": {"ttl": 10**12}},
            "ttl",
        ),
    ],
)
def test_a_queue_with_a_bad_value_is_refused_with_its_line(
    open_local: OpenBoard, tmp_path: Path, task: dict[str, object], says: str
) -> None:
    """Issue 16: python's json reads NaN and Infinity; the board must never store them."""
    board = open_local()
    path = tmp_path / "SPRINT_QUEUE.json"
    path.write_text(json.dumps({"sprint_id": "S1", "tasks": [task]}, indent=2), encoding="utf-8")
    with pytest.raises(SprintFileError, match=says) as err:
        import_file(board, path)
    assert err.value.line >= 1
    assert board.snapshot().tasks == {}


def test_a_kanban_board_is_refused_and_the_sprint_is_untouched(
    open_local: OpenBoard, examples: Path, tmp_path: Path
) -> None:
    board = open_local()
    import_file(board, examples / "oodatcaa-SPRINT_BACKLOG.md")
    before = board.snapshot()
    with pytest.raises(SprintFileError, match="board sync") as refused:
        import_file(board, examples / "quimbot-KANBAN.md")
    assert refused.value.line == 5  # its first column heading, `## ✅ Done`
    empty = tmp_path / "empty.md"
    empty.write_text("# Some notes\n\nno tasks here\n", encoding="utf-8")
    with pytest.raises(SprintFileError, match="no task found"):
        import_file(board, empty)
    after = board.snapshot()
    assert (after.seq, after.sprint) == (before.seq, before.sprint)


def test_an_imported_task_remembers_its_file_and_line(
    open_local: OpenBoard, examples: Path
) -> None:
    board = open_local()
    import_file(board, examples / "oodatcaa-SPRINT_BACKLOG.md")
    origin = board.snapshot().tasks["T004"].origin
    assert origin is not None
    path, _, line = origin.rpartition(":")
    text = Path(path).read_text(encoding="utf-8").splitlines()
    assert text[int(line) - 1].startswith("### T004:")


def test_a_bad_value_found_by_the_write_path_names_its_own_tasks_line(
    open_local: OpenBoard, tmp_path: Path
) -> None:
    """The import leaves value checks to the write path (one check per task, not two) and
    still refuses with the line of the task that broke the rule."""
    board = open_local()
    path = tmp_path / "SPRINT_QUEUE.json"
    tasks = [{"id": f"T{i}", "title": f"task {i}"} for i in range(1, 4)]
    tasks.append({"id": "T4", "title": "x", "status": "in_progress", "lease": {"ttl": 60}})
    tasks[2]["title"] = "two\nlines"
    text = json.dumps({"sprint_id": "S1", "tasks": tasks}, indent=2)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SprintFileError, match="T3: title") as err:
        import_file(board, path)
    assert err.value.line == text.splitlines().index('      "id": "T3",') + 1
    assert board.snapshot().tasks == {}
    assert board.snapshot().sprint.id is None


def test_a_task_already_on_the_board_is_still_checked(
    open_local: OpenBoard, tmp_path: Path
) -> None:
    board = open_local()
    path = tmp_path / "SPRINT_QUEUE.json"
    path.write_text(json.dumps({"tasks": [{"id": "T1", "title": "ok"}]}), encoding="utf-8")
    import_file(board, path)
    path.write_text(json.dumps({"tasks": [{"id": "T1", "title": "a\nb"}]}), encoding="utf-8")
    with pytest.raises(SprintFileError, match="T1: title"):
        import_file(board, path)
    assert board.snapshot().task("T1").title == "ok"
