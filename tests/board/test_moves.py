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


# -- moves to the status a task already has (contract 11) ------------------------------------


def test_a_move_to_the_current_status_commits_nothing_but_a_new_block_reason(
    open_local: Any, task: Any
) -> None:
    board = open_local()
    board.create_tasks([task("T1"), task("T2")])
    board.move("T1", "blocked", "human:ana", reason="waits for data")
    seq = board.snapshot().seq
    assert board.move("T1", "blocked", "human:ana", reason="waits for data").status == "blocked"
    board.move("T1", "blocked", "human:ana")  # no reason: nothing to say again
    board.move("T2", "ready", "human:ana", reason="still ready")
    assert board.snapshot().seq == seq
    board.move("T1", "blocked", "human:ana", reason="waits for the GPU", key="web:7")
    (last,) = [e for e in board.events() if e.seq > seq]
    assert (last.op, last.task, last.fields, last.actor, last.id) == (
        "task.update",
        "T1",
        {"blocked_reason": "waits for the GPU"},
        "human:ana",
        "web:7",
    )
    assert board.snapshot().tasks["T1"].blocked_reason == "waits for the GPU"
    board.move("T2", "needs_plan", "human:ana")
    (move,) = [e for e in board.events() if e.task == "T2"][-1:]
    assert move.fields == {"to": "needs_plan", "from": "ready"}  # unforced unless asked
    from sprintboard.board.moves import move_drafts

    (draft,) = move_drafts(board.snapshot(), "T2", "ready", "human:ana")
    assert (draft.op, draft.fields, draft.fence, draft.id) == (
        "task.move",
        {"to": "ready", "from": "needs_plan"},
        None,
        None,
    )


def test_which_drafts_are_moves_that_change_nothing(open_local: Any, task: Any) -> None:
    from sprintboard.board.moves import is_noop_move

    board = open_local()
    board.create_tasks([task("T1")])
    state = board.snapshot()

    def noop(op: str, fields: dict[str, Any], fence: int | None = None, on: str = "T1") -> bool:
        return is_noop_move(state, EventDraft(op, on, fields, "human:ana", fence))

    assert noop("task.move", {"to": "ready"})
    assert not noop("task.move", {"to": "needs_plan"})
    assert not noop("task.move", {"to": "ready"}, fence=3)  # its token is still checked
    assert not noop("task.update", {"to": "ready"})
    assert not noop("task.move", {"to": "ready"}, on="T9")
    assert not noop("task.move", {})
    seq = board.snapshot().seq
    board.apply([EventDraft("task.move", "T1", {"to": "ready"}, "human:ana")])
    assert board.snapshot().seq == seq
    with pytest.raises(StaleFence):
        board.apply([EventDraft("task.move", "T1", {"to": "ready"}, "human:ana", 3)])


def test_only_created_and_updated_tasks_have_their_dependencies_checked(
    open_local: Any, task: Any
) -> None:
    """A task an older journal left depending on a dropped id can still be worked on."""
    from sprintboard.board.models import Event
    from sprintboard.board.moves import check_dependencies
    from sprintboard.board.state import reduce

    state = open_local().snapshot().fork()
    line = Event(1, "alpha:1", "2026-01-01T00:00:00.000Z", "human:ana", "task.create", None,
                 {"task": {"id": "T1", "title": "t", "dependencies": ["T9"]}})  # fmt: skip
    reduce(state, line)

    def event(op: str, task_id: str | None) -> Event:
        return Event(2, "alpha:2", line.ts, "human:ana", op, task_id, {})

    check_dependencies(state, [event("lease.grant", "T1"), event("note.add", None)])
    check_dependencies(state, [event("task.move", "T1"), event("task.create", None)])
    for op in ("task.create", "task.update"):
        with pytest.raises(BoardError, match="T1: depends on unknown task"):
            check_dependencies(state, [event(op, "T1")])
