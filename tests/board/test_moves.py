"""Moves as events: what a move records, idempotent and fenced moves, dependency checks and
the board's own promotions of waiting tasks."""

from __future__ import annotations

from typing import Any

import pytest

from sprintboard.board.client import EventDraft
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.errors import BoardError, InvalidTransition, StaleFence

AUDITED = BoardPolicy(owner="alpha", open_claims=True, agent_roles={"aud": "auditor"})


def _moves(board: Any, task: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    return [
        (e.actor, e.id, e.fields) for e in board.events() if e.op == "task.move" and e.task == task
    ]


def test_a_move_records_where_from_where_to_and_why(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    board.move("T1", "blocked", "human:ana", reason="disk full")
    board.move("T1", "ready", "human:ana")
    board.move("T1", "cancelled", "human:ana", force=True)
    assert [fields for _, _, fields in _moves(board, "T1")] == [
        {"to": "blocked", "from": "ready", "reason": "disk full"},
        {"to": "ready", "from": "blocked"},
        {"to": "cancelled", "from": "ready", "force": True},
    ]


def test_a_block_without_a_reason_is_refused_unless_forced(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    with pytest.raises(InvalidTransition) as err:
        board.move("T1", "blocked", "human:ana")
    assert str(err.value) == (
        "T1: cannot move ready -> blocked (say why: --reason); allowed: blocked, cancelled, "
        "in_progress, needs_manual, needs_plan"
    )
    assert (err.value.task, err.value.current, err.value.target) == ("T1", "ready", "blocked")
    board.move("T1", "blocked", "human:ana", force=True)
    assert board.snapshot().tasks["T1"].status == "blocked"


def test_a_move_from_a_status_the_caller_no_longer_sees_is_refused(
    open_local: Any, task: Any
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    with pytest.raises(InvalidTransition) as err:
        board.move("T1", "needs_plan", "human:ana", expected="blocked")
    assert str(err.value) == (
        "T1: cannot move ready -> needs_plan (it is now ready, not blocked as you saw it; reload "
        "and retry); allowed: blocked, cancelled, in_progress, needs_manual, needs_plan"
    )
    board.move("T1", "needs_plan", "human:ana", expected="ready")
    assert board.snapshot().tasks["T1"].status == "needs_plan"


def test_a_keyed_move_is_made_once_and_a_fenced_one_only_by_the_holder(
    open_local: Any, task: Any
) -> None:
    board = open_local()
    board.create_tasks([task("T1"), task("T2")])
    board.move("T1", "needs_plan", "human:ana", key="web:move-1")
    board.move("T1", "ready", "human:ana")
    board.move("T1", "needs_plan", "human:ana", key="web:move-1")  # a retry: nothing more
    assert [(mid, f["to"]) for _, mid, f in _moves(board, "T1")][0] == ("web:move-1", "needs_plan")
    assert board.snapshot().tasks["T1"].status == "ready"
    lease = board.claim("T2", agent="b1", host="alpha", ttl=60)
    with pytest.raises(StaleFence):
        board.move("T2", "adapting", "b1@alpha", fence=lease.fence + 1)
    board.move("T2", "adapting", "b1@alpha", fence=lease.fence)
    (event,) = [e for e in board.events() if e.task == "T2" and e.op == "task.move"]
    assert event.fence == lease.fence and board.snapshot().tasks["T2"].lease is not None


def test_dependencies_must_be_known_whichever_line_names_them(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    decision = EventDraft("decision.add", None, {"text": "first"}, "human:ana")
    create = EventDraft(
        "task.create",
        "T2",
        {"task": {"id": "T2", "title": "x", "dependencies": ["T1", "T8", "T9"]}},
        "human:ana",
    )
    with pytest.raises(BoardError) as err:
        board.apply([decision, create])
    assert str(err.value) == (
        "T2: depends on unknown task(s) T8, T9; add them first or fix the dependency list"
    )
    with pytest.raises(BoardError, match="T1: depends on unknown task.s. T7"):
        board.update_task("T1", {"dependencies": ["T7"]})
    assert list(board.snapshot().tasks) == ["T1"] and board.snapshot().decisions == []


def test_the_board_promotes_a_waiting_task_whatever_made_its_dependencies_done(
    open_local: Any, task: Any
) -> None:
    board = open_local(AUDITED)
    board.create_tasks([task("T1", status="done"), task("T2"), task("T3")])
    board.create_tasks([task("W1", status="blocked", dependencies=["T1"])])  # created ready
    board.create_tasks([task("W2", status="blocked", dependencies=["T2"])])
    board.update_task("W2", {"dependencies": ["T1"]})  # an update can free it too
    assert board.snapshot().tasks["W2"].status == "ready"
    board.create_tasks([task("W3", status="blocked", dependencies=["T3"])])
    board.move("T3", "done", "human:ana", force=True)
    board.create_tasks([task("W4", status="blocked", blocked_reason="legal", dependencies=["T1"])])
    state = board.snapshot()
    assert {t: state.tasks[t].status for t in ("W1", "W2", "W3", "W4")} == {
        "W1": "ready",
        "W2": "ready",
        "W3": "ready",
        "W4": "blocked",  # blocked for a reason of its own: a person unblocks it
    }
    for waiting in ("W1", "W2", "W3"):
        assert _moves(board, waiting) == [
            (
                "system@alpha",
                _moves(board, waiting)[0][1],
                {"to": "ready", "from": "blocked", "reason": "dependencies done"},
            )
        ]


def test_a_write_that_changes_no_task_promotes_nothing(open_local: Any, task: Any) -> None:
    """Promotion looks at the tasks only after a write that created, updated or moved one."""
    from sprintboard.board.moves import promotion_drafts

    board = open_local(AUDITED)
    board.create_tasks([task("T1"), task("W1", status="blocked", dependencies=["T1"])])
    board.add_decision("later")
    state = board.snapshot()
    state.tasks["T1"].status = "done"  # as if done without an event (never on a real board)
    create, _, decision = board.events()
    assert promotion_drafts(state, [decision], "alpha") == []
    assert [(d.task, d.actor) for d in promotion_drafts(state, [create], "own")] == [
        ("W1", "system@own")
    ]
