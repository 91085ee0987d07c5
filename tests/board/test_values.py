"""One bad value never reaches the journal: ids, names, texts and numbers are checked in the
board's write path, whichever door they came through (issue 16, contract 11)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from sprintboard.board.client import EventDraft
from sprintboard.board.values import clean_line, entry_text, one_line
from sprintboard.errors import BoardError, InvalidValue


def _journal(root: Path) -> bytes:
    path = root / "sprints" / "events.jsonl"
    return path.read_bytes() if path.exists() else b""


def _claimed(open_local: Any, task: Any) -> tuple[Any, int]:
    board = open_local()
    board.create_tasks([task("T1")])
    return board, board.claim("T1", agent="b1", host="alpha", ttl=60).fence


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e400])
def test_a_non_finite_metric_is_refused_and_the_board_still_loads(
    tmp_path: Path, open_local: Any, task: Any, value: float
) -> None:
    board, fence = _claimed(open_local, task)
    before = _journal(tmp_path)
    with pytest.raises(InvalidValue, match="finite"):
        board.submit("T1", fence, [], {"loss": value})
    assert _journal(tmp_path) == before
    assert open_local().snapshot().tasks["T1"].status == "in_progress"  # replay still works


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "loss", "value": None},
        {"name": "loss", "value": "0.5"},
        {"name": "a b", "value": 1},
    ],
)
def test_a_metric_set_draft_needs_a_name_and_a_real_number(
    open_local: Any, task: Any, fields: dict[str, Any]
) -> None:
    board, fence = _claimed(open_local, task)
    with pytest.raises(InvalidValue):
        board.apply([EventDraft("metric.set", "T1", fields, "b1@alpha", fence)])


@pytest.mark.parametrize(
    "bad_id", ["", "A\nB", "../../etc", "T1\x1b[31m", "x" * 129, "-T1", "T 1", "T1/x"]
)
def test_task_ids_follow_the_envelope_rule(
    tmp_path: Path, open_local: Any, task: Any, bad_id: str
) -> None:
    board = open_local()
    with pytest.raises(InvalidValue, match="task id"):
        board.create_tasks([task(bad_id)])
    with pytest.raises(InvalidValue):
        board.create_tasks([task("T1", dependencies=[bad_id])])
    assert _journal(tmp_path) == b""
    assert (tmp_path / "sprints" / "events.jsonl").exists() is False or not board.snapshot().tasks


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("agent", "A\nB"),
        ("agent", "x\x1b[2J"),
        ("agent", "ana]** P0 **fake"),
        ("title", "line one\nline two"),
        ("title", "two  spaces"),
        ("title", ""),
        ("title", "bidi \u202e override"),
        ("priority", 10**30),
        ("priority", -1),
        ("priority", 2.0),
        ("priority", True),
        ("commits", ["abc1234", "not a commit"]),
        ("criteria", [{"text": "ok", "check": "make check"}]),
        ("estimate", {"low": 5, "high": 2}),
        ("extra", {"x": math.nan}),
        ("extra", {"x": 2**70}),
    ],
)
def test_fields_that_could_forge_kanban_or_break_json_are_refused(
    tmp_path: Path, open_local: Any, task: Any, field: str, value: Any
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    before = _journal(tmp_path)
    with pytest.raises(InvalidValue):
        board.update_task("T1", {field: value})
    if not (field == "priority" and isinstance(value, float | bool)):  # pydantic makes those ints
        with pytest.raises(BoardError):
            board.create_tasks([task("T2", **{field: value})])
    assert _journal(tmp_path) == before


@pytest.mark.parametrize("ttl", [-5, 0, 10**12])
def test_a_lease_ttl_must_be_positive_and_bounded(open_local: Any, task: Any, ttl: int) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    with pytest.raises(InvalidValue, match="ttl"):
        board.claim("T1", agent="b1", host="alpha", ttl=ttl)
    assert board.snapshot().tasks["T1"].lease is None


def test_a_move_to_the_current_status_changes_nothing(
    tmp_path: Path, open_local: Any, task: Any
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    for _ in range(5):
        board.move("T1", "done", force=True)
    dones = [e for e in board.events() if e.op == "task.move" and e.fields["to"] == "done"]
    assert len(dones) == 1
    board.create_tasks([task("T2")])
    board.move("T2", "blocked", reason="waiting on data")
    board.move("T2", "blocked", reason="waiting on data")
    board.move("T2", "blocked", reason="waiting on the GPU")  # a new reason is an update
    t2 = [e for e in board.events() if e.task == "T2"]
    assert [e.op for e in t2] == ["task.create", "task.move", "task.update"]
    assert board.snapshot().tasks["T2"].blocked_reason == "waiting on the GPU"


def test_notes_name_a_known_task_and_fences_are_numbers(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    with pytest.raises(InvalidValue, match="not on the board"):
        board.apply([EventDraft("note.add", "T9", {"text": "hi"}, "b1@beta")])
    with pytest.raises(InvalidValue, match="fence"):
        board.apply([EventDraft("note.add", "T1", {"text": "hi"}, "b1@beta", "zz")])  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="actor"):
        board.apply([EventDraft("note.add", "T1", {"text": "hi"}, "evil\n@beta")])
    with pytest.raises(InvalidValue, match="control character"):
        board.add_note("bell \x07 and escape \x1b[31m")
    board.add_note("multi\nline notes are fine", task="T1")


def test_doors_make_what_people_type_canonical() -> None:
    assert one_line("  Fix   the\u3000bug ") == "Fix the bug"
    assert entry_text("first line  \n\n   second ") == "first line\nsecond"
    assert clean_line("exit 3:\n\x1b[31mred\u202e") == "exit 3: \\x1b[31mred\ufffd"
    for bad in ("a\nb", "tab\tbed", "nul\x00"):
        with pytest.raises(InvalidValue):
            one_line(bad)
