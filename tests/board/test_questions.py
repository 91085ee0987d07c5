"""Questions on the board: replayed like every event, shown in KANBAN.md's "❓ Questions",
answered by a line written under them there (merged three-way), by people only."""

from __future__ import annotations

from pathlib import Path

import pytest

from sprintboard.board import state as board_state
from sprintboard.board.client import EventDraft
from sprintboard.board.models import OPS
from sprintboard.errors import BoardError, InvalidValue, NotPermitted
from sprintboard.workspace import init_workspace, kanban_sync, open_board


def test_every_op_has_a_reducer() -> None:
    assert set(board_state._HANDLERS) == set(OPS)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = init_workspace(tmp_path / "ws", git=False)
    open_board(root).create_tasks(
        [{"id": "T1", "title": "one", "status": "ready"}, {"id": "T2", "title": "two"}]
    )
    return root


def test_questions_replay_from_the_journal(ws: Path) -> None:
    board = open_board(ws)
    asked = board.ask("T1", "left or right?", "builder-alpha")
    board.answer("T1", "left", "human:ana")
    (ws / "sprints" / "SPRINT_QUEUE.json").unlink()  # rebuilt from the journal alone
    (q,) = open_board(ws).snapshot().questions
    assert (q.id, q.task, q.text, q.answer, q.answered_by) == (
        asked.id, "T1", "left or right?", "left", "human:ana",
    )  # fmt: skip


def test_answers_are_checked_and_only_people_give_them(ws: Path) -> None:
    board = open_board(ws)
    with pytest.raises(BoardError, match="no open question"):
        board.answer("T1", "nothing was asked", "human:ana")
    asked = board.ask("T1", "left or right?", "builder-alpha")
    with pytest.raises(BoardError, match="no question"):
        board.answer("T2", "wrong task", "human:ana", asked.id)
    with pytest.raises(NotPermitted, match="a person answers"):
        board.answer("T1", "left", "planner-1@alpha")
    with pytest.raises(InvalidValue):
        board.ask("T1", "", "builder-alpha")
    with pytest.raises(NotPermitted):  # an unlisted agent asks only under its own lease
        board.ask("T1", "hello?", "mallory@alpha")
    assert board.snapshot().questions[0].open


def test_a_question_is_in_kanban_and_a_line_under_it_answers_it(ws: Path) -> None:
    board = open_board(ws)
    asked = board.ask("T1", "Which split?", "builder-alpha")
    kanban = ws / "KANBAN.md"
    text = kanban.read_text(encoding="utf-8")
    line = f"- `T1` Which split? _(builder-alpha@alpha, {asked.ts[:10]})_ · `q:{asked.id}`"
    assert "## ❓ Questions\n" + line + "\n" in text
    kanban.write_text(text.replace(line, line + "\n  - 90/10, stratified"), encoding="utf-8")
    report = kanban_sync(board).sync(board, "human:bo")
    assert report.error is None and [e.op for e in report.events] == ["question.answer"]
    (q,) = board.snapshot().questions
    assert (q.answer, q.answered_by) == ("90/10, stratified", "human:bo")
    assert "  - ✅ 90/10, stratified _(human:bo)_" in kanban.read_text(encoding="utf-8")
    # the rendered answer is no new edit: syncing again changes nothing
    assert kanban_sync(board).sync(board, "human:bo").events == []


def test_an_answer_from_another_door_wins_over_an_older_copy_of_the_file(ws: Path) -> None:
    board = open_board(ws)
    asked = board.ask("T1", "Which split?", "builder-alpha")
    kanban = ws / "KANBAN.md"
    text = kanban.read_text(encoding="utf-8")
    board.answer("T1", "80/20", "human:ana")  # meanwhile, on the command line
    line = f"`q:{asked.id}`"
    kanban.write_text(text.replace(line, line + "\n  - 90/10"), encoding="utf-8")
    report = kanban_sync(board).sync(board, "human:bo")
    assert report.error is None and report.events == []
    assert any("answered already by human:ana" in w for w in report.warnings)
    assert board.snapshot().questions[0].answer == "80/20"


def test_the_section_appears_only_with_questions(ws: Path) -> None:
    board = open_board(ws)
    board.add_note("hello", "human:ana")
    assert "Questions" not in (ws / "KANBAN.md").read_text(encoding="utf-8")


def test_an_answer_goes_to_the_question_it_names_or_the_oldest_open_one(ws: Path) -> None:
    board = open_board(ws)
    first = board.ask("T1", "left or right?", "builder-alpha")
    board.answer("T1", "left", "human:ana")
    second = board.ask("T1", "how far?", "builder-alpha")
    third = board.ask("T1", "which road?", "builder-alpha")
    board.answer("T1", "the north one", "human:bo", third.id)  # named: not the oldest open
    board.answer("T1", "two miles", "human:ana")  # unnamed: the oldest open, not the answered
    answered = {q.id: (q.answer, q.answered_by, q.answered_at) for q in board.snapshot().questions}
    ts = {e.fields.get("question"): e.ts for e in board.events() if e.op == "question.answer"}
    assert answered == {
        first.id: ("left", "human:ana", ts[first.id]),
        second.id: ("two miles", "human:ana", ts[second.id]),
        third.id: ("the north one", "human:bo", ts[third.id]),
    }
    with pytest.raises(BoardError) as unknown:
        board.answer("T1", "?", "human:ana", "q-none")
    assert str(unknown.value).startswith("T1: no question q-none about this task")
    with pytest.raises(BoardError) as again:
        board.answer("T1", "right", "human:bo", first.id)
    assert str(again.value).startswith(
        f"T1: question {first.id} was answered by human:ana at {ts[first.id]}"
    )


def test_a_host_heartbeat_records_when_the_owner_heard_from_the_host(ws: Path) -> None:
    board = open_board(ws)
    (beat,) = board.apply([EventDraft("host.heartbeat", None, {"host": "alpha"}, "human:ana")])
    board.add_note("a later write keeps it", "human:ana")
    assert board.snapshot().hosts_seen == {"alpha": beat.ts}
